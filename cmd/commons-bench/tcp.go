package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// copyBuf is the buffer size of both ends of the raw TCP copy.
const copyBuf = 256 << 10

// tcpCopy sends the bytes of files through one loopback TCP connection
// inside this process and returns how long it took from dial until the
// receiver had counted every byte. It is the physical reference for the
// node-to-node fetch: the same bytes, read from the page cache, with no
// hashing, framing or storing. Both ends copy through user-space buffers
// (no sendfile or splice), as a node does.
func tcpCopy(ctx context.Context, files []string, total int64, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("tcp reference: %w", err)
	}
	defer ln.Close()

	type result struct {
		n   int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- result{0, err}
			return
		}
		defer c.Close()
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
		// The anonymous structs hide ReadFrom/WriteTo so that io.CopyBuffer
		// really copies through buf.
		n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{c}, make([]byte, copyBuf))
		got <- result{n, err}
	}()

	start := time.Now()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return 0, fmt.Errorf("tcp reference: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	buf := make([]byte, copyBuf)
	w := struct{ io.Writer }{c}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return 0, fmt.Errorf("tcp reference: %w", err)
		}
		_, err = io.CopyBuffer(w, struct{ io.Reader }{f}, buf)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("tcp reference: send %s: %w", name, errors.Join(err, ctx.Err()))
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, fmt.Errorf("tcp reference: %w", err)
	}
	select {
	case r := <-got:
		elapsed := time.Since(start)
		if r.err != nil {
			return 0, fmt.Errorf("tcp reference: receive: %w", r.err)
		}
		if r.n != total {
			return 0, fmt.Errorf("tcp reference: received %d bytes, sent %d", r.n, total)
		}
		return elapsed, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("tcp reference: %w", ctx.Err())
	}
}
