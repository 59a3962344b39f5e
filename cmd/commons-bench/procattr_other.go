//go:build !linux

package main

import "syscall"

// childProcAttr puts a child in its own process group, so a Ctrl-C at the
// terminal reaches only the bench, which then stops its daemons in order.
// Without Linux's Pdeathsig a bench killed by SIGKILL can leave daemons
// behind.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// freeBytes returns -1: unknown.
func freeBytes(string) int64 { return -1 }
