//go:build !unix

package folder

// openCheckFlags adds nothing where O_NOFOLLOW and O_NONBLOCK do not exist.
const openCheckFlags = 0
