package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/commons-p2p/commons/gateway/api"
)

// commonsImpl drives the commons binary.
type commonsImpl struct {
	bin     string
	timeout time.Duration // per command
	hc      *http.Client
}

var _ impl = (*commonsImpl)(nil)

func (c *commonsImpl) Name() string { return "commons" }

// env drops $COMMONS_REPO so that only --repo chooses the repo.
func (c *commonsImpl) env() []string { return envWithout("COMMONS_REPO") }

func (c *commonsImpl) run(ctx context.Context, dir string, args ...string) (cmdResult, error) {
	return runCLI(ctx, c.timeout, c.env(), c.bin, append([]string{"--repo", dir}, args...)...)
}

func (c *commonsImpl) Version(ctx context.Context) (string, error) {
	res, err := runCLI(ctx, c.timeout, c.env(), c.bin, "version")
	return strings.TrimSpace(string(res.Stdout)), err
}

func (c *commonsImpl) Init(ctx context.Context, dir string) error {
	_, err := c.run(ctx, dir, "init", "--profile", "test")
	return err
}

func (c *commonsImpl) Add(ctx context.Context, dir, folder string) (string, cmdResult, error) {
	res, err := c.run(ctx, dir, "--quiet", "add", folder)
	if err != nil {
		return "", res, err
	}
	root := strings.TrimSpace(string(res.Stdout))
	if root == "" || strings.ContainsAny(root, " \n") {
		return "", res, fmt.Errorf("commons add printed %q, want one CID", res.Stdout)
	}
	return root, res, nil
}

func (c *commonsImpl) Start(ctx context.Context, sup *supervisor, name, dir string) (*daemon, error) {
	// A leftover api file would make the probe talk to nobody; the
	// daemon rewrites it once it listens.
	_ = os.Remove(filepath.Join(dir, "api"))
	d, err := sup.start(name, dir, dir+".log", c.env(), c.bin, "--repo", dir, "daemon", "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	probe := func(ctx context.Context) error {
		b, err := os.ReadFile(filepath.Join(dir, "api"))
		if err != nil {
			return err
		}
		base := strings.TrimSpace(string(b))
		var id struct {
			PeerID    string   `json:"peer_id"`
			Addresses []string `json:"addresses"`
			Online    bool     `json:"online"`
		}
		if err := postJSON(ctx, c.hc, base+"/api/v1/id", readTrimmedFile(filepath.Join(dir, api.TokenFile)), &id); err != nil {
			return err
		}
		if !id.Online {
			return errors.New("id: not online yet")
		}
		a, ok := tcpAddr(id.Addresses)
		if !ok {
			return fmt.Errorf("id: no loopback TCP address among %q", id.Addresses)
		}
		gw, err := os.ReadFile(filepath.Join(dir, "gateway"))
		if err != nil {
			return err
		}
		d.apiURL, d.swarm, d.gatewayURL = base, a, strings.TrimSpace(string(gw))
		return nil
	}
	if err := d.waitReady(ctx, startTimeout, probe); err != nil {
		_ = sup.stop(d)
		return nil, err
	}
	return d, nil
}

func (c *commonsImpl) Connect(ctx context.Context, d *daemon, addr string) error {
	_, err := c.run(ctx, d.repo, "connect", addr)
	return err
}

func (c *commonsImpl) Pin(ctx context.Context, d *daemon, root string) (cmdResult, error) {
	return c.run(ctx, d.repo, "--quiet", "pin", "add", root)
}

// Publish signs and publishes folder as a design bundle in the repo at dir
// with no daemon running, and returns its root CID.
func (c *commonsImpl) Publish(ctx context.Context, dir, folder string) (string, error) {
	res, err := c.run(ctx, dir, "--quiet", "publish", folder)
	if err != nil {
		return "", err
	}
	root := strings.TrimSpace(string(res.Stdout))
	if root == "" || strings.ContainsAny(root, " \n") {
		return "", fmt.Errorf("commons publish printed %q, want one CID", res.Stdout)
	}
	return root, nil
}

func (c *commonsImpl) Export(ctx context.Context, dir, root, car string) error {
	_, err := c.run(ctx, dir, "--quiet", "export", root, "-o", car)
	return err
}

// DiffNewBytes returns what `commons diff OLD NEW` says NEW adds to OLD in
// the repo at dir (no daemon): the bytes and the number of blocks a mirror
// holding OLD fetches.
func (c *commonsImpl) DiffNewBytes(ctx context.Context, dir, old, new string) (int64, int, error) {
	res, err := c.run(ctx, dir, "--json", "diff", old, new)
	if err != nil {
		return 0, 0, err
	}
	var d struct {
		NewBytes  *int64 `json:"new_bytes"`
		NewBlocks int    `json:"new_blocks"`
	}
	if err := json.Unmarshal(res.Stdout, &d); err != nil {
		return 0, 0, fmt.Errorf("commons diff %s %s: %w", old, new, err)
	}
	if d.NewBytes == nil {
		return 0, 0, fmt.Errorf("commons diff %s %s: no new_bytes in its JSON", old, new)
	}
	return *d.NewBytes, d.NewBlocks, nil
}
