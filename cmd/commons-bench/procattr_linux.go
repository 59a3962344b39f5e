package main

import "syscall"

// childProcAttr puts a child in its own process group, so a Ctrl-C at the
// terminal reaches only the bench (which then stops its daemons in order),
// and asks the kernel to kill it if the bench dies without cleaning up.
// Pdeathsig fires when the thread that forked exits; the bench locks no
// goroutine to a thread, so in practice that is process exit.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// freeBytes returns the space available to unprivileged users on the file
// system holding path, or -1 if unknown.
func freeBytes(path string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
