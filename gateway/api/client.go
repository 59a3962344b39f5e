package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
)

// Client is a Service reached over HTTP: the CLI's view of a running daemon.
type Client struct {
	base  string
	hc    *http.Client
	token string
}

var _ Service = (*Client)(nil)

// NewClient returns a client for the API at baseURL (e.g.
// http://127.0.0.1:5101). hc nil means a client with no overall timeout:
// long operations are bounded by ctx and by the daemon's fetch timeout.
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}
}

// WithToken makes the client send the API token (the repo's TokenFile)
// with every request, and returns it.
func (c *Client) WithToken(token string) *Client {
	c.token = token
	return c
}

// Ping reports whether a daemon answers at the client's URL.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.ID(ctx)
	return err
}

func (c *Client) post(ctx context.Context, op string, q url.Values, body io.Reader, ctype string) (*http.Response, error) {
	u := c.base + Prefix + op
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return nil, fmt.Errorf("api %s: %w", op, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("api %s: daemon at %s: %w", op, c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, decodeError(op, resp.StatusCode, resp.Body)
	}
	return resp, nil
}

// decodeError turns an error response back into an error that wraps the
// matching sentinel.
func decodeError(op string, status int, r io.Reader) error {
	var eb errorBody
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
		eb.Error = fmt.Sprintf("HTTP %d: %s", status, strings.TrimSpace(string(b)))
	}
	return remoteError{msg: eb.Error, kind: eb.Kind}
}

// remoteError is an error reported by the daemon. Its message is the
// daemon's; errors.Is matches the sentinel of its kind.
type remoteError struct{ msg, kind string }

func (e remoteError) Error() string { return e.msg }

func (e remoteError) Is(target error) bool {
	switch e.kind {
	case "invalid":
		return target == ErrInvalid
	case "unauthorized":
		return target == ErrUnauthorized
	case "not_found":
		return target == ErrNotFound
	case "not_pinned":
		return target == ErrNotPinned
	case "offline":
		return target == ErrOffline
	case "no_space":
		return target == ErrNoSpace
	case "cancelled":
		return target == context.Canceled
	}
	return false
}

func (c *Client) call(ctx context.Context, op string, q url.Values, out any) error {
	resp, err := c.post(ctx, op, q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("api %s: decode reply: %w", op, err)
	}
	return nil
}

// readStream reads an NDJSON progress stream into out.
func readStream(op string, body io.Reader, progress func(Progress), out any) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var line streamLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("api %s: bad reply line: %w", op, err)
		}
		switch {
		case line.Progress != nil:
			if progress != nil {
				progress(*line.Progress)
			}
		case line.Error != nil:
			return remoteError{msg: line.Error.Error, kind: line.Error.Kind}
		case line.Result != nil:
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(line.Result, out); err != nil {
				return fmt.Errorf("api %s: decode result: %w", op, err)
			}
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("api %s: reply cut short: %w", op, err)
	}
	return fmt.Errorf("api %s: the daemon closed the connection before answering (did it stop?)", op)
}

func q(arg string) url.Values { return url.Values{"arg": {arg}} }

// ID implements Service.
func (c *Client) ID(ctx context.Context) (IDInfo, error) {
	var info IDInfo
	return info, c.call(ctx, "id", nil, &info)
}

// Publish implements Service. The folder is streamed to the daemon as a
// multipart body, as Kubo's `ipfs add` does.
func (c *Client) Publish(ctx context.Context, dir files.Node, opts PublishOptions, progress func(Progress)) (PublishResult, error) {
	name := opts.Name
	if name == "" {
		name = "bundle"
	}
	o, err := json.Marshal(opts)
	if err != nil {
		return PublishResult{}, err
	}
	mfr := files.NewMultiFileReader(files.NewMapDirectory(map[string]files.Node{name: dir}), true, false)
	resp, err := c.post(ctx, "publish", url.Values{"opts": {string(o)}}, mfr, "multipart/form-data; boundary="+mfr.Boundary())
	if err != nil {
		return PublishResult{}, err
	}
	defer resp.Body.Close()
	var res PublishResult
	return res, readStream("publish", resp.Body, progress, &res)
}

// Pin implements Service.
func (c *Client) Pin(ctx context.Context, k cid.Cid, name string, progress func(Progress)) error {
	resp, err := c.post(ctx, "pin/add", url.Values{"arg": {k.String()}, "name": {name}}, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readStream("pin/add", resp.Body, progress, nil)
}

// Unpin implements Service.
func (c *Client) Unpin(ctx context.Context, k cid.Cid) error {
	return c.call(ctx, "pin/rm", q(k.String()), &struct{}{})
}

// Pins implements Service.
func (c *Client) Pins(ctx context.Context) ([]PinInfo, error) {
	var pins []PinInfo
	return pins, c.call(ctx, "pin/ls", nil, &pins)
}

// GC implements Service.
func (c *Client) GC(ctx context.Context) (GCResult, error) {
	var res GCResult
	return res, c.call(ctx, "gc", nil, &res)
}

// Export implements Service. Progress counts the bytes received.
func (c *Client) Export(ctx context.Context, p string, w io.Writer, progress func(Progress)) error {
	resp, err := c.post(ctx, "export", q(p), nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return copyWithTrailer("export", resp, w, progress)
}

// Import implements Service.
func (c *Client) Import(ctx context.Context, r io.Reader, progress func(Progress)) (ImportResult, error) {
	return c.ImportCAR(ctx, r, ImportOptions{}, progress)
}

// ImportCAR implements SneakernetService.
func (c *Client) ImportCAR(ctx context.Context, r io.Reader, opts ImportOptions, progress func(Progress)) (ImportResult, error) {
	var qv url.Values
	if opts != (ImportOptions{}) {
		o, err := json.Marshal(opts)
		if err != nil {
			return ImportResult{}, err
		}
		qv = url.Values{"opts": {string(o)}}
	}
	resp, err := c.post(ctx, "import", qv, r, "application/vnd.ipld.car")
	if err != nil {
		return ImportResult{}, err
	}
	defer resp.Body.Close()
	var res ImportResult
	return res, readStream("import", resp.Body, progress, &res)
}

// Have implements SneakernetService.
func (c *Client) Have(ctx context.Context) ([]byte, error) {
	resp, err := c.post(ctx, "have", nil, nil, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxHaveBytes+1))
	if err != nil {
		return nil, fmt.Errorf("api have: %w", err)
	}
	if len(b) > maxHaveBytes {
		return nil, fmt.Errorf("api have: the have-file is larger than %d bytes", maxHaveBytes)
	}
	return b, nil
}

// ExportLibraries implements SneakernetService. The have-file travels as
// the request body; progress counts the blocks and bytes received.
func (c *Client) ExportLibraries(ctx context.Context, opts LibraryExportOptions, w io.Writer, progress func(Progress)) (LibraryExportResult, error) {
	o, err := json.Marshal(opts)
	if err != nil {
		return LibraryExportResult{}, err
	}
	resp, err := c.post(ctx, "export/libraries", url.Values{"opts": {string(o)}}, bytes.NewReader(opts.Have), "application/cbor")
	if err != nil {
		return LibraryExportResult{}, err
	}
	defer resp.Body.Close()
	sc := &sectionCounter{}
	counted := progress
	if progress != nil {
		counted = func(p Progress) {
			p.Blocks = sc.blocks()
			progress(p)
		}
	}
	if err := copyWithTrailer("export", resp, io.MultiWriter(sc, w), counted); err != nil {
		return LibraryExportResult{}, err
	}
	var res LibraryExportResult
	if err := json.Unmarshal([]byte(resp.Trailer.Get(trailerResult)), &res); err != nil {
		return LibraryExportResult{}, fmt.Errorf("api export/libraries: the daemon sent no result after the CAR: %w", err)
	}
	return res, nil
}

// sectionCounter counts the sections of a CARv1 stream as it passes (the
// header is the first), so that progress through the daemon counts blocks.
type sectionCounter struct {
	need     uint64 // bytes left of the current section
	v        uint64 // the length varint read so far
	shift    uint
	sections int64
}

func (s *sectionCounter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && s.shift < 64 {
		if s.need > 0 {
			k := uint64(len(p))
			if k > s.need {
				k = s.need
			}
			p, s.need = p[k:], s.need-k
			continue
		}
		b := p[0]
		p = p[1:]
		s.v |= uint64(b&0x7f) << s.shift
		s.shift += 7
		if b < 0x80 {
			s.need, s.v, s.shift = s.v, 0, 0
			s.sections++
		}
	}
	return n, nil
}

// blocks is the sections seen less the header.
func (s *sectionCounter) blocks() int64 { return max(0, s.sections-1) }

// Cat implements Service.
func (c *Client) Cat(ctx context.Context, p string) (io.ReadCloser, error) {
	resp, err := c.post(ctx, "cat", q(p), nil, "")
	if err != nil {
		return nil, err
	}
	return &trailerReader{resp: resp}, nil
}

// Ls implements Service.
func (c *Client) Ls(ctx context.Context, p string) ([]Entry, error) {
	var es []Entry
	return es, c.call(ctx, "ls", q(p), &es)
}

// Peers implements Service.
func (c *Client) Peers(ctx context.Context) ([]PeerInfo, error) {
	var ps []PeerInfo
	return ps, c.call(ctx, "peers", nil, &ps)
}

// Connect implements Service.
func (c *Client) Connect(ctx context.Context, addr string) error {
	return c.call(ctx, "connect", q(addr), &struct{}{})
}

// Stats implements Service.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	return st, c.call(ctx, "stats", nil, &st)
}

func copyWithTrailer(op string, resp *http.Response, w io.Writer, progress func(Progress)) error {
	var n int64
	buf := make([]byte, 256<<10)
	for {
		k, rerr := resp.Body.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return fmt.Errorf("api %s: write: %w", op, err)
			}
			n += int64(k)
			if progress != nil {
				progress(Progress{Phase: op, Bytes: n})
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("api %s: stream cut short after %d bytes: %w", op, n, rerr)
		}
	}
	return trailerErr(resp)
}

// trailerErr returns the error a daemon reported in the trailer after a
// byte stream, or nil.
func trailerErr(resp *http.Response) error {
	v := resp.Trailer.Get(trailerError)
	if v == "" {
		return nil
	}
	var eb errorBody
	if json.Unmarshal([]byte(v), &eb) != nil || eb.Error == "" {
		return remoteError{msg: v}
	}
	return remoteError{msg: eb.Error, kind: eb.Kind}
}

// trailerReader reports an error the daemon sent in the trailer at EOF.
type trailerReader struct{ resp *http.Response }

func (t *trailerReader) Read(p []byte) (int, error) {
	n, err := t.resp.Body.Read(p)
	if errors.Is(err, io.EOF) {
		if terr := trailerErr(t.resp); terr != nil {
			return n, terr
		}
	}
	return n, err
}

func (t *trailerReader) Close() error { return t.resp.Body.Close() }

// Show implements Service.
func (c *Client) Show(ctx context.Context, ref string) (BundleInfo, error) {
	var info BundleInfo
	return info, c.call(ctx, "bundle/show", q(ref), &info)
}

// Bundles implements Service.
func (c *Client) Bundles(ctx context.Context) ([]BundleSummary, error) {
	var list []BundleSummary
	return list, c.call(ctx, "bundle/ls", nil, &list)
}

// History implements Service.
func (c *Client) History(ctx context.Context, ref string) (History, error) {
	var h History
	return h, c.call(ctx, "bundle/history", q(ref), &h)
}

// Diff implements Service.
func (c *Client) Diff(ctx context.Context, old, new string) (DiffResult, error) {
	var d DiffResult
	return d, c.call(ctx, "bundle/diff", url.Values{"old": {old}, "new": {new}}, &d)
}

// Fork implements Service.
func (c *Client) Fork(ctx context.Context, src string, opts ForkOptions) (PublishResult, error) {
	o, err := json.Marshal(opts)
	if err != nil {
		return PublishResult{}, err
	}
	var res PublishResult
	return res, c.call(ctx, "bundle/fork", url.Values{"arg": {src}, "opts": {string(o)}}, &res)
}

// Lineage implements Service.
func (c *Client) Lineage(ctx context.Context, ref string) (Lineage, error) {
	var l Lineage
	return l, c.call(ctx, "bundle/lineage", q(ref), &l)
}

// LogAdd implements Service. Attachments travel as a multipart folder.
func (c *Client) LogAdd(ctx context.Context, name string, entry LogOptions, attachments files.Directory, progress func(Progress)) (PublishResult, error) {
	o, err := json.Marshal(entry)
	if err != nil {
		return PublishResult{}, err
	}
	qv := url.Values{"arg": {name}, "opts": {string(o)}}
	var resp *http.Response
	if attachments != nil {
		mfr := files.NewMultiFileReader(files.NewMapDirectory(map[string]files.Node{"attachments": attachments}), true, false)
		resp, err = c.post(ctx, "bundle/log", qv, mfr, "multipart/form-data; boundary="+mfr.Boundary())
	} else {
		resp, err = c.post(ctx, "bundle/log", qv, nil, "")
	}
	if err != nil {
		return PublishResult{}, err
	}
	defer resp.Body.Close()
	var res PublishResult
	return res, readStream("bundle/log", resp.Body, progress, &res)
}

// Library implements LibraryService.
func (c *Client) Library(ctx context.Context) (LibraryInfo, error) {
	var info LibraryInfo
	return info, c.call(ctx, "library", nil, &info)
}

// Libraries implements LibraryService.
func (c *Client) Libraries(ctx context.Context) ([]LibraryInfo, error) {
	var list []LibraryInfo
	return list, c.call(ctx, "library/ls", nil, &list)
}

// Include implements LibraryService.
func (c *Client) Include(ctx context.Context, name string, remove bool) (LibraryInfo, error) {
	var info LibraryInfo
	return info, c.call(ctx, "library/include", url.Values{"arg": {name}, "remove": {fmt.Sprint(remove)}}, &info)
}

// Follow implements LibraryService.
func (c *Client) Follow(ctx context.Context, name string, p FollowPolicy) (FollowInfo, error) {
	o, err := json.Marshal(p)
	if err != nil {
		return FollowInfo{}, err
	}
	var info FollowInfo
	return info, c.call(ctx, "follow", url.Values{"arg": {name}, "opts": {string(o)}}, &info)
}

// Unfollow implements LibraryService.
func (c *Client) Unfollow(ctx context.Context, name string) (UnfollowResult, error) {
	var res UnfollowResult
	return res, c.call(ctx, "unfollow", q(name), &res)
}

// MirrorStatus implements LibraryService.
func (c *Client) MirrorStatus(ctx context.Context) (MirrorStatus, error) {
	var st MirrorStatus
	return st, c.call(ctx, "mirror/status", nil, &st)
}

// Verify implements Verifier.
func (c *Client) Verify(ctx context.Context, opts VerifyOptions, progress func(Progress)) (VerifyResult, error) {
	o, err := json.Marshal(opts)
	if err != nil {
		return VerifyResult{}, err
	}
	resp, err := c.post(ctx, "verify", url.Values{"opts": {string(o)}}, nil, "")
	if err != nil {
		return VerifyResult{}, err
	}
	defer resp.Body.Close()
	var res VerifyResult
	return res, readStream("verify", resp.Body, progress, &res)
}
