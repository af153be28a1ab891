package devenv

import "syscall"

// childAttr puts the dev server in its own process group, so a terminal's
// Ctrl-C reaches candor alone and candor stops the server last, and has
// the kernel end it when candor dies without stopping it (a crash, a test
// binary's timeout).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
