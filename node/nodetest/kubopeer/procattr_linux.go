package kubopeer

import "syscall"

// daemonProcAttr makes the kernel kill the daemon if the test process dies
// without running its cleanups (a go test timeout, a crash), so no Kubo is
// left running. Pdeathsig fires when the thread that started the child
// exits; test goroutines are not locked to threads, so in practice that is
// process exit.
func daemonProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
