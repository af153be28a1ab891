//go:build nodev

package main

import (
	"context"
	"errors"
)

func runDev(context.Context, []string) error {
	return errors.New("this candor was built with -tags nodev (production): it has no dev server, demo store or mail outbox; build without the tag for candor dev")
}
