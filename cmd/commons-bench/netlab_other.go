//go:build !linux

package main

import (
	"context"
	"errors"
)

// netlabScenario needs Linux: network namespaces and TUN devices.
func (b *bench) netlabScenario(context.Context) error {
	return errors.New("the netlab scenario needs Linux (network namespaces, TUN devices) and root")
}
