package node

import (
	"io"
	"log"
	"net"
	"net/http"
	"time"
)

// Limits of the node's HTTP servers (gateway and API) against clients that
// are slow on purpose (slowloris) or have gone away without closing. Each
// one bounds how long a connection, its goroutine and its file descriptor
// can be held by a client that sends or takes nothing. None of them bounds
// how long a request may take while bytes keep moving: a large download
// or upload over a slow link is never cut. Measured with
// TestE2EGatewayLoad (docs/testing.md, "Load").
const (
	// httpHeaderTimeout is how long a client has to send a request's
	// whole header, from the moment it connects or, on a kept-alive
	// connection, from the first byte of its next request. It was 10 s:
	// with 1,000 clients on a machine busy with other work (the daemon got
	// a fifth of a core), honest requests were cut by it, a few per run,
	// because a goroutine could wait more than 10 s for a CPU between
	// setting the deadline and reading bytes that were already there (or
	// the starved client between connecting and writing). Apache allows
	// 20-40 s, nginx 60 s.
	httpHeaderTimeout = 30 * time.Second
	// httpIdleTimeout closes a kept-alive connection with no request for
	// this long. Without it (net/http falls back to the ReadTimeout, which
	// the servers do not set) an idle connection was held forever.
	httpIdleTimeout = 60 * time.Second
	// httpMaxHeaderBytes bounds a request's header, and so the memory a
	// connection can hold before its handler runs (net/http's default is
	// 1 MiB). Gateway URLs are a CID and a path; 64 KiB is ample.
	httpMaxHeaderBytes = 64 << 10
	// httpBodyTimeout is the longest a request body may stop arriving:
	// each read of it waits at most this long. A body no handler reads
	// (the gateway takes none, and a refused API request is answered
	// before its body is read) is still read by net/http, up to 256 KiB,
	// before the answer goes out; it too is cut after this long.
	httpBodyTimeout = 30 * time.Second
	// gatewayWriteTimeout is the longest the gateway waits for a client to
	// take gatewayWriteChunk bytes of a response: a client that stops
	// reading is cut after it, one that reads slowly (down to about
	// 0.5 KiB/s) is not. A global http.Server.WriteTimeout would instead
	// cut every download longer than it. The API has none: the CLI may
	// stop reading for as long as its user likes (`commons cat | less`),
	// and the API is on loopback behind its token.
	gatewayWriteTimeout = 30 * time.Second
	gatewayWriteChunk   = 16 << 10
)

// newHTTPServer returns a server for h with the limits above. Where writes
// need a deadline too, the caller serves it on a stallListener.
func newHTTPServer(h http.Handler, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           bodyDeadline(h, httpBodyTimeout),
		ReadHeaderTimeout: httpHeaderTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		ErrorLog:          errorLog,
	}
}

// bodyDeadline gives a request's body a read deadline of d, moved forward
// before every read, so that a body that stops arriving for d fails the
// read (and net/http closes the connection) while a slow but moving upload
// goes on. Requests without a body are passed on untouched: net/http is
// already waiting on their connection for the client to go away, and a
// deadline set then would cancel the request.
func bodyDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// Set now, it also bounds the read net/http makes of a body the
		// handler leaves unread.
		if err := rc.SetReadDeadline(time.Now().Add(d)); err == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, d: d}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody moves the connection's read deadline before each read of
// the body, until the body ends. After the end it must not touch the
// deadline: net/http then reads the connection in the background to see
// the client go away, and a deadline there would cancel the request.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	d    time.Duration
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	_ = b.rc.SetReadDeadline(time.Now().Add(b.d))
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.done = true
	}
	return n, err
}

// stallListener hands out connections whose writes each have a deadline of
// their own (see gatewayWriteTimeout).
type stallListener struct {
	net.Listener
	timeout time.Duration
	chunk   int
}

func (l stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stallConn{Conn: c, timeout: l.timeout, chunk: l.chunk}, nil
}

// stallConn writes at most chunk bytes at a time, each with a deadline of
// timeout from the moment it is offered: a write fails only when the client
// took nothing for that long. net/http sets no write deadline of its own
// without a WriteTimeout, so none is overridden.
type stallConn struct {
	net.Conn
	timeout time.Duration
	chunk   int
}

func (c *stallConn) Write(p []byte) (int, error) {
	var n int
	for len(p) > 0 {
		part := p[:min(len(p), c.chunk)]
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
			return n, err
		}
		k, err := c.Conn.Write(part)
		n += k
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}
