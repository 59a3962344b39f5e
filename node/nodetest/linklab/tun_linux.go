package linklab

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// Linux's TUN interface (linux/if_tun.h).
const (
	tunSetIff = 0x400454ca // TUNSETIFF
	iffTun    = 0x0001     // IFF_TUN: IP packets, no Ethernet header
	iffNoPI   = 0x1000     // IFF_NO_PI: no packet-information prefix
)

// ifreq is struct ifreq as TUNSETIFF reads it: a name and the flags, padded
// to the size of the union.
type ifreq struct {
	name  [16]byte
	flags uint16
	_     [22]byte
}

// openTUN creates the TUN device name in the calling thread's network
// namespace and returns it as a pollable file: reads return one IP packet
// each, writes inject one, and closing the file unblocks a pending read
// and removes the device (it is not persistent).
func openTUN(name string) (*os.File, error) {
	if len(name) >= 16 {
		return nil, fmt.Errorf("tun %s: name longer than 15 bytes", name)
	}
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("tun %s: open /dev/net/tun: %w", name, err)
	}
	var req ifreq
	copy(req.name[:], name)
	req.flags = iffTun | iffNoPI
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tunSetIff, uintptr(unsafe.Pointer(&req))); errno != 0 {
		syscall.Close(fd)
		return nil, fmt.Errorf("tun %s: TUNSETIFF: %w", name, errno)
	}
	// Non-blocking, so that os.NewFile gives a file the runtime's poller
	// serves: Close then wakes a goroutine blocked in Read.
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("tun %s: set non-blocking: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+name), nil
}
