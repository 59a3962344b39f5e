//go:build !linux

package kubopeer

import "syscall"

// daemonProcAttr has nothing to add outside Linux: without Pdeathsig a daemon
// can outlive a test process that dies without running its cleanups.
func daemonProcAttr() *syscall.SysProcAttr {
	return nil
}
