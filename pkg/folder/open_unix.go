//go:build unix

package folder

import "syscall"

// openCheckFlags makes opening a file that Open saw as regular neither follow
// a symlink nor block if it has since been replaced by a named pipe.
const openCheckFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
