package pages

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/commons-p2p/commons/gateway/api"
)

type diffLine struct {
	Kind string // "add", "del", "hunk", "ctx"
	Text string
}

type diffFile struct {
	Path, Change, OldSize, NewSize string
}

type bomLineView struct {
	Part, Quantity, UnitCost, Supplier string
}

type bomChangeView struct {
	Part     string
	Fields   string
	Old, New bomLineView
}

type diffPage struct {
	Old, New         card
	OldID, NewID     string
	Files            []diffFile
	Truncated        bool
	NewBytes         string
	NewBlocks        int64
	Metadata         []string
	Instructions     []diffLine
	InstructionsNote string
	BOM              *api.BOMDiff
	BOMAdded         []bomLineView
	BOMRemoved       []bomLineView
	BOMChanged       []bomChangeView
	BOMBefore        []string
	BOMAfter         []string
}

// serveDiff renders /diff?old=&new=: what changed between two versions.
func (h *handler) serveDiff(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	old, new := strings.TrimSpace(q.Get("old")), strings.TrimSpace(q.Get("new"))
	if old == "" || new == "" {
		h.fail(w, r, http.StatusBadRequest, "Name two versions to compare: /diff?old=CID&new=CID.")
		return
	}
	d, err := h.d.Diff(r.Context(), old, new)
	if err != nil {
		h.failErr(w, r, "diff", err)
		return
	}
	p := diffPage{Old: summaryCard(d.Old), New: summaryCard(d.New), OldID: d.Old.CID.String(), NewID: d.New.CID.String(),
		Truncated: d.Truncated, NewBytes: formatSize(d.NewBytes), NewBlocks: d.NewBlocks, Metadata: d.Metadata,
		InstructionsNote: d.InstructionsNote, BOM: d.BOM}
	for _, f := range d.Files {
		df := diffFile{Path: f.Path, Change: f.Change}
		if f.Change != "added" {
			df.OldSize = formatSize(f.OldSize)
		}
		if f.Change != "removed" {
			df.NewSize = formatSize(f.NewSize)
		}
		p.Files = append(p.Files, df)
	}
	for _, line := range strings.Split(strings.TrimRight(d.Instructions, "\n"), "\n") {
		if line == "" && d.Instructions == "" {
			break
		}
		kind := "ctx"
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
			kind = "file"
		case strings.HasPrefix(line, "@@"):
			kind = "hunk"
		case strings.HasPrefix(line, "+"):
			kind = "add"
		case strings.HasPrefix(line, "-"):
			kind = "del"
		}
		p.Instructions = append(p.Instructions, diffLine{Kind: kind, Text: line})
	}
	if b := d.BOM; b != nil {
		lv := func(l api.BOMLine) bomLineView {
			v := bomLineView{Part: l.Part, Quantity: strings.TrimSpace(l.Quantity + " " + l.Unit), Supplier: l.Supplier}
			if l.UnitCost != "" {
				v.UnitCost = strings.TrimSpace(l.UnitCost + " " + l.Currency)
			}
			return v
		}
		for _, l := range b.Added {
			p.BOMAdded = append(p.BOMAdded, lv(l))
		}
		for _, l := range b.Removed {
			p.BOMRemoved = append(p.BOMRemoved, lv(l))
		}
		for _, c := range b.Changed {
			p.BOMChanged = append(p.BOMChanged, bomChangeView{Part: c.Part, Fields: strings.Join(c.Fields, ", "), Old: lv(c.Old), New: lv(c.New)})
		}
		total := func(ts []api.BOMTotal) []string {
			var out []string
			for _, t := range ts {
				s := strings.TrimSpace(t.Amount + " " + t.Currency)
				if t.Missing > 0 {
					s += " (lines without a cost: " + strconv.Itoa(t.Missing) + ")"
				}
				out = append(out, s)
			}
			return out
		}
		p.BOMBefore, p.BOMAfter = total(b.Before), total(b.After)
	}
	h.render(w, r, http.StatusOK, "diff", p)
}
