package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// impl is one IPFS implementation under test, driven through its command
// line as a user would drive it. Every method that runs a command bounds it
// by the bench's per-command timeout and is cancelled by ctx.
type impl interface {
	// Name is the short name used in tables and JSON ("commons", "kubo").
	Name() string
	// Version returns the implementation's own version line.
	Version(ctx context.Context) (string, error)
	// Init creates a fresh repo at dir (which must not exist) configured
	// for loopback only, no bootstrap peers, ports chosen by the kernel.
	Init(ctx context.Context, dir string) error
	// Add imports folder into the repo at dir with no daemon running
	// (CIDv1, raw leaves, buzhash), pins it and returns its root CID and
	// what the command cost.
	Add(ctx context.Context, dir, folder string) (string, cmdResult, error)
	// Start runs a daemon on the repo at dir and returns once its API
	// answers and it reports a TCP listen address. The daemon is registered
	// with sup, which stops it if the bench ends early.
	Start(ctx context.Context, sup *supervisor, name, dir string) (*daemon, error)
	// Connect makes the daemon d dial the multiaddr addr.
	Connect(ctx context.Context, d *daemon, addr string) error
	// Pin makes the daemon d fetch the whole DAG of root from its peers and
	// pin it, returning what the CLI command cost.
	Pin(ctx context.Context, d *daemon, root string) (cmdResult, error)
	// Export writes the whole DAG of root, read from the repo at dir with
	// no daemon running, to the file car as a CARv1. It fails if any block
	// of the DAG is not stored there.
	Export(ctx context.Context, dir, root, car string) error
}

// startTimeout bounds the wait for a daemon's API to answer.
const startTimeout = 60 * time.Second

// postJSON POSTs to url with an empty body and decodes a JSON answer into
// v. Both commons's and Kubo's APIs accept only POST.
func postJSON(ctx context.Context, hc *http.Client, url, token string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token) // commons's API token
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: HTTP %d: %s", url, resp.StatusCode, bytes.TrimSpace(body))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	return nil
}

// tcpAddr picks the first plain-TCP loopback multiaddr with a /p2p/ part,
// so that both implementations are compared over the same transport.
func tcpAddr(addrs []string) (string, bool) {
	for _, a := range addrs {
		if strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") && strings.Contains(a, "/p2p/") &&
			!strings.Contains(a, "/ws") && !strings.Contains(a, "/tls") {
			return a, true
		}
	}
	return "", false
}
