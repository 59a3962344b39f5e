package kubopeer

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// streamErrHeader is the trailer in which Kubo reports an error that happened
// after it had started a 200 response.
const streamErrHeader = "X-Stream-Error"

// AddDir imports the directory dir with the Kubo CLI, as
// `ipfs add -r -Q --cid-version=1 --raw-leaves --chunker=buzhash [args...] dir`,
// pins it, and returns the root CID. An arg that sets one of those three
// options (e.g. --chunker=size-1024, -s size-1024, --raw-leaves=false)
// replaces the default, since Kubo rejects an option given twice. Hidden
// files are skipped unless args include --hidden.
func (p *Peer) AddDir(ctx context.Context, dir string, args ...string) (cid string, err error) {
	// The import settings of commons' own importer. Each entry is the
	// default flag followed by the spellings of its option.
	defaults := [][]string{
		{"--cid-version=1", "--cid-version"},
		{"--raw-leaves", "--raw-leaves"},
		{"--chunker=buzhash", "--chunker", "-s"},
	}
	cmd := []string{"add", "-r", "-Q"}
	for _, d := range defaults {
		if !overridden(args, d[1:]) {
			cmd = append(cmd, d[0])
		}
	}
	cmd = append(cmd, args...)
	cmd = append(cmd, dir)
	out, err := p.Run(ctx, cmd...)
	if err != nil {
		return "", err // names the command and dir already
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 {
		return "", fmt.Errorf("kubopeer: add %s: no CID in output", dir)
	}
	return fields[len(fields)-1], nil
}

// overridden reports whether args set an option spelled one of names.
func overridden(args, names []string) bool {
	for _, a := range args {
		for _, n := range names {
			if a == n || strings.HasPrefix(a, n+"=") {
				return true
			}
		}
	}
	return false
}

// Cat returns the contents of the UnixFS file at path, which is a CID, a
// CID/sub/path or an /ipfs/... path. Missing blocks are fetched from the
// network, so Cat blocks until they arrive or ctx is cancelled.
func (p *Peer) Cat(ctx context.Context, path string) ([]byte, error) {
	body, err := p.rpc(ctx, "cat", []string{path}, nil)
	if err != nil {
		return nil, err
	}
	data, err := readAll(body)
	if err != nil {
		return nil, fmt.Errorf("kubopeer: cat %s: %w", path, err)
	}
	return data, nil
}

// PinAdd pins cid recursively, fetching every missing block of its DAG from
// the network first; it returns once the whole DAG is local and pinned, or
// with an error wrapping ctx.Err() if ctx ends first.
func (p *Peer) PinAdd(ctx context.Context, cid string) error {
	var out struct{ Pins []string }
	q := url.Values{"recursive": {"true"}, "progress": {"false"}}
	if err := p.rpcJSON(ctx, "pin/add", []string{cid}, q, &out); err != nil {
		return err
	}
	if len(out.Pins) == 0 {
		return fmt.Errorf("kubopeer: pin/add %s: daemon reported no pins", cid)
	}
	return nil
}

// Get writes the UnixFS DAG rooted at cid to outDir, like
// `ipfs get -o outDir cid`: a directory's entries end up inside outDir
// (created if missing, merged if present), a single file is written to the
// path outDir itself. Files get mode 0644 and directories 0755; symlinks are
// recreated as they are. Missing blocks are fetched from the network.
func (p *Peer) Get(ctx context.Context, cid, outDir string) error {
	body, err := p.rpc(ctx, "get", []string{cid}, nil)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := extractTar(body, outDir); err != nil {
		return fmt.Errorf("kubopeer: get %s: %w", cid, err)
	}
	// Reach EOF so that a trailing stream error is seen.
	if _, err := readAll(body); err != nil {
		return fmt.Errorf("kubopeer: get %s: %w", cid, err)
	}
	return nil
}

// SwarmConnect connects the daemon to the peer at multiaddr, which must end
// in /p2p/<peer ID>.
func (p *Peer) SwarmConnect(ctx context.Context, multiaddr string) error {
	var out struct{ Strings []string }
	return p.rpcJSON(ctx, "swarm/connect", []string{multiaddr}, nil, &out)
}

// Peers returns the IDs of the peers the daemon is connected to, each once,
// in no particular order.
func (p *Peer) Peers(ctx context.Context) ([]string, error) {
	var out struct {
		Peers []struct{ Peer string }
	}
	if err := p.rpcJSON(ctx, "swarm/peers", nil, nil, &out); err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	var ids []string
	for _, c := range out.Peers {
		if !seen[c.Peer] {
			seen[c.Peer] = true
			ids = append(ids, c.Peer)
		}
	}
	return ids, nil
}

// DHTPeers returns the IDs of the peers in one of the daemon's DHT routing
// tables: "wan" (protocol /ipfs/kad/1.0.0) or "lan" (/ipfs/lan/kad/1.0.0).
// Start sets TEST_DHT_STUB so that loopback peers, such as commons nodes in
// a test, can enter the WAN table at all.
func (p *Peer) DHTPeers(ctx context.Context, table string) ([]string, error) {
	var out struct {
		Buckets []struct {
			Peers []struct{ ID string }
		}
	}
	if err := p.rpcJSON(ctx, "stats/dht", []string{table}, nil, &out); err != nil {
		return nil, err
	}
	var ids []string
	for _, b := range out.Buckets {
		for _, pe := range b.Peers {
			ids = append(ids, pe.ID)
		}
	}
	return ids, nil
}

// FindProviders asks the daemon's content routing (the DHT) for providers of
// cid, like `ipfs routing findprovs -n n cid`, and returns their peer IDs,
// each once. It returns when n providers were found or the query ran out of
// peers to ask, so an empty result is not an error; poll to wait for a
// provide to land. n <= 0 means Kubo's default (20).
func (p *Peer) FindProviders(ctx context.Context, cid string, n int) ([]string, error) {
	q := url.Values{}
	if n > 0 {
		q.Set("num-providers", fmt.Sprint(n))
	}
	body, err := p.rpc(ctx, "routing/findprovs", []string{cid}, q)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	// The response is a stream of routing events; type 4 carries providers.
	const eventProvider = 4
	seen := make(map[string]bool)
	var ids []string
	dec := json.NewDecoder(body)
	for {
		var ev struct {
			Type      int
			Responses []struct{ ID string }
		}
		err := dec.Decode(&ev)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("kubopeer: routing/findprovs %s: %w", cid, err)
		}
		if ev.Type != eventProvider {
			continue
		}
		for _, r := range ev.Responses {
			if r.ID != "" && !seen[r.ID] {
				seen[r.ID] = true
				ids = append(ids, r.ID)
			}
		}
	}
	if err := body.streamErr(); err != nil {
		return nil, fmt.Errorf("kubopeer: routing/findprovs %s: %w", cid, err)
	}
	return ids, nil
}

// rpc POSTs an RPC command and returns the body of a 200 response. The caller
// must close it, and should read it through readAll (or to EOF and then
// check the trailer) to see errors Kubo reports mid-stream.
func (p *Peer) rpc(ctx context.Context, cmd string, args []string, q url.Values) (*rpcBody, error) {
	if q == nil {
		q = url.Values{}
	}
	for _, a := range args {
		q.Add("arg", a)
	}
	u := p.APIURL + "/api/v0/" + cmd + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return nil, fmt.Errorf("kubopeer: %s: %w", cmd, err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kubopeer: %s %s: %w", cmd, strings.Join(args, " "), err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e struct{ Message string }
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		return nil, fmt.Errorf("kubopeer: %s %s: %s: %s", cmd, strings.Join(args, " "), resp.Status, msg)
	}
	return &rpcBody{resp: resp}, nil
}

// rpcJSON runs an RPC command and decodes its JSON response into out.
func (p *Peer) rpcJSON(ctx context.Context, cmd string, args []string, q url.Values, out any) error {
	body, err := p.rpc(ctx, cmd, args, q)
	if err != nil {
		return err
	}
	data, err := readAll(body)
	if err != nil {
		return fmt.Errorf("kubopeer: %s %s: %w", cmd, strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("kubopeer: %s %s: decode response: %w", cmd, strings.Join(args, " "), err)
	}
	return nil
}

// rpcBody is a 200 response body whose trailer may still carry an error.
type rpcBody struct{ resp *http.Response }

func (b *rpcBody) Read(p []byte) (int, error) { return b.resp.Body.Read(p) }

func (b *rpcBody) Close() error { return b.resp.Body.Close() }

// streamErr returns the error Kubo put in the trailer; valid after EOF.
func (b *rpcBody) streamErr() error {
	if msg := b.resp.Trailer.Get(streamErrHeader); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// readAll reads b to EOF, closes it and returns any stream error.
func readAll(b *rpcBody) ([]byte, error) {
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		return nil, err
	}
	if err := b.streamErr(); err != nil {
		return nil, err
	}
	return data, nil
}

// extractTar writes the tar stream Kubo's get returns into outDir. The first
// entry is the root, named after the requested path; it maps to outDir.
// Symlinks are created last so that no entry is ever written through one.
func extractTar(r io.Reader, outDir string) error {
	tr := tar.NewReader(r)
	root := ""
	type link struct{ target, name string }
	var links []link
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		name := path.Clean(hdr.Name)
		if root == "" {
			root = name
		}
		var rel string
		switch {
		case name == root:
		case strings.HasPrefix(name, root+"/"):
			rel = strings.TrimPrefix(name, root+"/")
		default:
			return fmt.Errorf("tar entry %q outside root %q", hdr.Name, root)
		}
		if rel != "" && !filepath.IsLocal(filepath.FromSlash(rel)) {
			return fmt.Errorf("tar entry %q escapes the output directory", hdr.Name)
		}
		target := filepath.Join(outDir, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := writeFile(target, tr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			links = append(links, link{hdr.Linkname, target})
		default:
			return fmt.Errorf("tar entry %q: unsupported type %q", hdr.Name, hdr.Typeflag)
		}
	}
	if root == "" {
		return errors.New("empty tar stream")
	}
	for _, l := range links {
		if err := os.MkdirAll(filepath.Dir(l.name), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(l.target, l.name); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(name string, r io.Reader) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
