// Package search is the full-text index of the design bundles a node holds:
// names, titles, tags, summaries, publishers and the text of the build
// instructions, one document per bundle version, searched with ranked
// results and highlighted snippets.
//
// It is SQLite's FTS5 through modernc.org/sqlite (pure Go, no cgo). An index
// opened on a directory lives in the file search.db there and survives
// restarts; the node keeps it in <repo>/search/. Everything in it can be
// rebuilt from the bundles themselves, so an index of another layout
// version, or a damaged one, is dropped and rebuilt rather than migrated.
//
// Terms:
//
//   - a Doc is what is indexed of one bundle version; its ID is the
//     version's root CID, so adding it again replaces it and changes
//     nothing else.
//   - a head is the version of a (publisher, name) with the highest
//     sequence in the index; heads rank above older versions.
package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// FileName is the index's file inside the directory given to Open.
const FileName = "search.db"

// layoutVersion is stored as SQLite's user_version; an index with another
// value is dropped and created anew (it is rebuilt from the bundles).
const layoutVersion = 1

// Limits on what one Doc contributes, so that one large bundle cannot make
// the index (or a search) slow for everyone.
const (
	// MaxInstructions is how many bytes of instruction text are indexed.
	MaxInstructions = 1 << 20
	// MaxField bounds every other text field.
	MaxField = 16 << 10
	// MaxLimit bounds Search's limit.
	MaxLimit = 1000
)

// Snippet markers: private-use code points that never appear in indexed
// text (Add removes them), so the boundaries of a match in a snippet cannot
// be forged by a document.
const (
	markOpen  = "\ue000"
	markClose = "\ue001"
)

// ErrEmptyQuery is returned by Search for a query with no searchable term.
var ErrEmptyQuery = errors.New("search: the query has no words to search for")

// Doc is one bundle version as the index sees it. All text is untrusted
// (it comes from peers' manifests and files).
type Doc struct {
	// ID names the version: its root CID. Required.
	ID        string
	Name      string
	Title     string
	Summary   string
	Tags      []string
	Publisher string
	// Instructions is the text of the build instructions (Markdown, as
	// written); only the first MaxInstructions bytes are indexed.
	Instructions string
	Version      string
	Sequence     int64
	// Created is when the version was signed (RFC 3339).
	Created string
	Open    bool
	// Partial says some of the text (the instructions) could not be read
	// when the Doc was made; Has reports such a Doc as missing, so that it
	// is made again once the text can be had.
	Partial bool
}

// Hit is one search result.
type Hit struct {
	ID        string
	Name      string
	Title     string
	Summary   string
	Tags      []string
	Publisher string
	Version   string
	Sequence  int64
	Created   string
	Open      bool
	// Head is true when no version of the same publisher and name with a
	// higher sequence is indexed.
	Head bool
	// Snippet is a short excerpt of the best-matching field, cut into
	// fragments; Match marks the words that matched.
	Snippet []Fragment
}

// Fragment is a piece of a snippet.
type Fragment struct {
	Text  string
	Match bool
}

// Index is an open full-text index. Its methods are safe for concurrent
// use.
type Index struct {
	db *sql.DB
}

// Open opens (creating if needed) the index in dir, or an in-memory index
// when dir is "". An index written by another layout version is dropped
// and recreated empty; the caller re-adds its documents.
func Open(dir string) (*Index, error) {
	dsn := "file::memory:"
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("search: open %s: %w", dir, err)
		}
		dsn = "file:" + filepath.Join(dir, FileName) + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	dsn += sep(dsn) + "_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("search: open %s: %w", dir, err)
	}
	// One connection: an in-memory database exists per connection, and
	// for a file it serialises writers without SQLITE_BUSY. Searches take
	// milliseconds, so readers queueing behind a write is no hardship.
	db.SetMaxOpenConns(1)
	x := &Index{db: db}
	if err := x.init(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("search: open %s: %w", dir, err)
	}
	return x, nil
}

func sep(dsn string) string {
	if strings.Contains(dsn, "?") {
		return "&"
	}
	return "?"
}

const schema = `
CREATE TABLE IF NOT EXISTS doc (
	rowid     INTEGER PRIMARY KEY,
	id        TEXT NOT NULL UNIQUE,
	name      TEXT NOT NULL,
	title     TEXT NOT NULL,
	summary   TEXT NOT NULL,
	tags      TEXT NOT NULL,
	publisher TEXT NOT NULL,
	version   TEXT NOT NULL,
	sequence  INTEGER NOT NULL,
	created   TEXT NOT NULL,
	open      INTEGER NOT NULL,
	partial   INTEGER NOT NULL,
	head      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS doc_bundle ON doc(publisher, name, sequence);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
	name, title, tags, summary, instructions, publisher,
	tokenize = 'unicode61 remove_diacritics 2'
);`

func (x *Index) init(ctx context.Context) error {
	var v int
	if err := x.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v != layoutVersion {
		for _, q := range []string{"DROP TABLE IF EXISTS fts", "DROP TABLE IF EXISTS doc"} {
			if _, err := x.db.ExecContext(ctx, q); err != nil {
				return err
			}
		}
	}
	if _, err := x.db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create tables: %w", err)
	}
	_, err := x.db.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", layoutVersion))
	return err
}

// Close closes the index. Further calls fail.
func (x *Index) Close() error {
	return x.db.Close()
}

// clean makes untrusted text safe to index: valid UTF-8, no snippet
// markers, at most max bytes (cut at a rune boundary).
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\ufffd")
	s = strings.NewReplacer(markOpen, "", markClose, "").Replace(s)
	if len(s) > max {
		cut := max
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Add indexes d, replacing what was indexed under d.ID. It is idempotent.
// It returns ctx's error if ctx ends first; the index is then unchanged.
func (x *Index) Add(ctx context.Context, d Doc) error {
	if d.ID == "" {
		return errors.New("search: add: the document has no ID")
	}
	tags := make([]string, 0, len(d.Tags))
	for _, t := range d.Tags {
		tags = append(tags, clean(t, MaxField))
	}
	f := func(s string) string { return clean(s, MaxField) }
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("search: add %s: %w", d.ID, err)
	}
	defer tx.Rollback()
	if err := deleteDoc(ctx, tx, d.ID); err != nil {
		return fmt.Errorf("search: add %s: %w", d.ID, err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO doc (id, name, title, summary, tags, publisher, version, sequence, created, open, partial)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, f(d.Name), f(d.Title), f(d.Summary), strings.Join(tags, "\n"), f(d.Publisher), f(d.Version),
		d.Sequence, f(d.Created), d.Open, d.Partial)
	if err != nil {
		return fmt.Errorf("search: add %s: %w", d.ID, err)
	}
	rowid, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("search: add %s: %w", d.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO fts (rowid, name, title, tags, summary, instructions, publisher) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		rowid, f(d.Name), f(d.Title), strings.Join(tags, " "), f(d.Summary), clean(d.Instructions, MaxInstructions), f(d.Publisher)); err != nil {
		return fmt.Errorf("search: add %s: %w", d.ID, err)
	}
	// The head of this publisher's name is the highest sequence indexed.
	if _, err := tx.ExecContext(ctx, `UPDATE doc SET head = (sequence = (SELECT MAX(sequence) FROM doc d2 WHERE d2.publisher = doc.publisher AND d2.name = doc.name))
		WHERE publisher = ? AND name = ?`, f(d.Publisher), f(d.Name)); err != nil {
		return fmt.Errorf("search: add %s: %w", d.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("search: add %s: %w", d.ID, err)
	}
	return nil
}

func deleteDoc(ctx context.Context, tx *sql.Tx, id string) error {
	var rowid int64
	err := tx.QueryRowContext(ctx, "SELECT rowid FROM doc WHERE id = ?", id).Scan(&rowid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM fts WHERE rowid = ?", rowid); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "DELETE FROM doc WHERE rowid = ?", rowid)
	return err
}

// Has reports whether a complete Doc (not Partial) is indexed under id.
func (x *Index) Has(ctx context.Context, id string) (bool, error) {
	var partial bool
	err := x.db.QueryRowContext(ctx, "SELECT partial FROM doc WHERE id = ?", id).Scan(&partial)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("search: has %s: %w", id, err)
	}
	return !partial, nil
}

// Len returns how many documents are indexed.
func (x *Index) Len(ctx context.Context) (int, error) {
	var n int
	if err := x.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM doc").Scan(&n); err != nil {
		return 0, fmt.Errorf("search: count: %w", err)
	}
	return n, nil
}

// Search returns up to limit documents matching query, best first: heads
// before older versions, then by relevance (BM25, with a title or name
// match weighing most). The query language is described at Parse; a query
// with no word gives ErrEmptyQuery, and no query string gives a syntax
// error. limit <= 0 means 20; more than MaxLimit means MaxLimit. It
// returns ctx's error if ctx ends first.
func (x *Index) Search(ctx context.Context, query string, limit int) ([]Hit, error) {
	expr, err := Parse(query)
	if err != nil {
		return nil, err
	}
	switch {
	case limit <= 0:
		limit = 20
	case limit > MaxLimit:
		limit = MaxLimit
	}
	// bm25 weights, in the column order of fts: name, title, tags,
	// summary, instructions, publisher.
	rows, err := x.db.QueryContext(ctx, `
		SELECT d.id, d.name, d.title, d.summary, d.tags, d.publisher, d.version, d.sequence, d.created, d.open, d.head,
			snippet(fts, -1, ?, ?, '…', 24)
		FROM fts JOIN doc d ON d.rowid = fts.rowid
		WHERE fts MATCH ?
		ORDER BY d.head DESC, bm25(fts, 8.0, 10.0, 5.0, 3.0, 1.0, 2.0), d.sequence DESC
		LIMIT ?`, markOpen, markClose, expr, limit)
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", query, err)
	}
	defer rows.Close()
	var hits []Hit
	for rows.Next() {
		var h Hit
		var tags, snip string
		if err := rows.Scan(&h.ID, &h.Name, &h.Title, &h.Summary, &tags, &h.Publisher, &h.Version, &h.Sequence, &h.Created, &h.Open, &h.Head, &snip); err != nil {
			return nil, fmt.Errorf("search %q: %w", query, err)
		}
		if tags != "" {
			h.Tags = strings.Split(tags, "\n")
		}
		h.Snippet = fragments(snip)
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search %q: %w", query, err)
	}
	return hits, nil
}

// fragments cuts a snippet at its match markers.
func fragments(s string) []Fragment {
	var out []Fragment
	for s != "" {
		i := strings.Index(s, markOpen)
		if i < 0 {
			out = append(out, Fragment{Text: s})
			break
		}
		if i > 0 {
			out = append(out, Fragment{Text: s[:i]})
		}
		s = s[i+len(markOpen):]
		j := strings.Index(s, markClose)
		if j < 0 {
			out = append(out, Fragment{Text: s, Match: true})
			break
		}
		out = append(out, Fragment{Text: s[:j], Match: true})
		s = s[j+len(markClose):]
	}
	return out
}
