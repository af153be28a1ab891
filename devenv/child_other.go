//go:build !linux

package devenv

import "syscall"

// childAttr puts the dev server in its own process group, so a terminal's
// Ctrl-C reaches candor alone and candor stops the server last. Only Linux
// can also end it when candor dies without stopping it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
