package pages

import (
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/metadata"
	"github.com/commons-p2p/commons/pkg/search"
)

// card is one bundle in a list.
type card struct {
	Href      string // its bundle page
	Title     string
	Name      string
	Summary   string
	Version   string
	Sequence  int64
	Updated   string
	Licenses  []licence
	Open      bool
	Known     bool // licences are known (the manifest was read)
	Publisher string
	Problem   string
	Tags      []string
	Snippet   []search.Fragment
	Head      bool
}

// licence is one part of the licence triple.
type licence struct {
	Part string // hardware, software, documentation
	ID   string // SPDX expression, or "none"
}

func licences(l metadata.Licenses) []licence {
	part := func(name, v string) licence {
		if v == "" || strings.EqualFold(v, "NONE") {
			v = "none"
		}
		return licence{Part: name, ID: v}
	}
	return []licence{part("hardware", l.Hardware), part("software", l.Software), part("documentation", l.Documentation)}
}

func summaryCard(s api.BundleSummary) card {
	c := card{Href: bundleHref(s.CID.String()), Title: s.Title, Name: s.Name, Summary: s.Summary, Version: s.Version,
		Sequence: s.Sequence, Updated: s.Created, Open: s.Open, Publisher: s.Publisher, Problem: s.Problem, Tags: s.Tags}
	if s.Licenses.Hardware != "" || s.Licenses.Software != "" || s.Licenses.Documentation != "" {
		c.Known = true
		c.Licenses = licences(s.Licenses)
	}
	if c.Title == "" {
		c.Title = s.Name
	}
	return c
}

func bundleHref(c string) string { return "/bundles/" + c + "/" }

// library is one library on the home page.
type library struct {
	Name      string
	Title     string
	Publisher string
	Updated   string
	Own       bool
	Following string // the policy, when followed
	Via       []string
	Sequence  int64
	Bundles   []card
}

// pinned is one pinned root.
type pinned struct {
	Name string
	CID  string
	Href string
}

type homePage struct {
	Libraries    []library
	LibrariesErr string
	Bundles      []card
	BundlesErr   string
	Pins         []pinned
	PinsErr      string
}

// serveHome renders the home page: the node's libraries with their
// bundles, every bundle the node knows, and every pinned root. A part that
// cannot be read says so in place; the rest of the page still shows.
func (h *handler) serveHome(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var p homePage
	l := links{h.contentOrigin(r)}

	heads := make(map[string]api.BundleSummary)
	if bs, err := h.d.Bundles(ctx); err != nil {
		p.BundlesErr = err.Error()
	} else {
		for _, b := range bs {
			heads[b.CID.KeyString()] = b
			p.Bundles = append(p.Bundles, summaryCard(b))
		}
		sort.SliceStable(p.Bundles, func(i, j int) bool { return p.Bundles[i].Updated > p.Bundles[j].Updated })
	}

	if libs, err := h.d.Libraries(ctx); err != nil {
		p.LibrariesErr = err.Error()
	} else {
		for _, li := range libs {
			lib := library{Name: li.Name, Title: li.Title, Publisher: li.Publisher, Updated: li.Updated, Own: li.Own, Via: li.Via, Sequence: li.Sequence}
			if li.Following != nil {
				lib.Following = li.Following.Mode
			}
			if lib.Title == "" {
				lib.Title = "Library " + shortID(li.Name)
			}
			for _, e := range li.Bundles {
				c := card{Href: bundleHref(e.Root.String()), Title: e.Title, Name: e.Name, Summary: e.Summary,
					Sequence: e.Sequence, Updated: e.Updated, Open: e.Open, Publisher: li.Publisher}
				if s, ok := heads[e.Root.KeyString()]; ok {
					full := summaryCard(s)
					c.Licenses, c.Known, c.Version, c.Tags = full.Licenses, full.Known, full.Version, full.Tags
				}
				if c.Title == "" {
					c.Title = e.Name
				}
				lib.Bundles = append(lib.Bundles, c)
			}
			p.Libraries = append(p.Libraries, lib)
		}
	}

	if pins, err := h.d.Pins(ctx); err != nil {
		p.PinsErr = err.Error()
	} else {
		for _, pi := range pins {
			if pi.Type != "recursive" {
				continue
			}
			e := pinned{Name: pi.Name, CID: pi.CID.String(), Href: l.content(pi.CID, "")}
			if _, ok := heads[pi.CID.KeyString()]; ok {
				e.Href = bundleHref(pi.CID.String())
			}
			p.Pins = append(p.Pins, e)
		}
	}
	h.render(w, r, http.StatusOK, "home", p)
}

type searchPage struct {
	Query string
	Hits  []card
	Note  string
}

// maxHits is how many results a search page shows.
const maxHits = 50

// serveSearch renders the results of /search?q=.
func (h *handler) serveSearch(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	p := searchPage{Query: q}
	if q == "" {
		p.Note = "Type words to search for in the names, titles, tags, summaries and instructions of every design this node holds."
		h.render(w, r, http.StatusOK, "search", p)
		return
	}
	if len(q) > 1000 {
		h.fail(w, r, http.StatusBadRequest, "The search is too long (at most 1000 characters).")
		return
	}
	hits, err := h.d.Search(r.Context(), q, maxHits)
	switch {
	case errors.Is(err, search.ErrEmptyQuery):
		p.Note = "There is nothing to search for in that: use letters or digits."
		h.render(w, r, http.StatusOK, "search", p)
		return
	case err != nil:
		h.failErr(w, r, "search", err)
		return
	}
	for _, hit := range hits {
		p.Hits = append(p.Hits, card{Href: bundleHref(hit.ID), Title: hit.Title, Name: hit.Name, Summary: hit.Summary,
			Version: hit.Version, Sequence: hit.Sequence, Updated: hit.Created, Open: hit.Open, Publisher: hit.Publisher,
			Tags: hit.Tags, Snippet: hit.Snippet, Head: hit.Head})
	}
	if len(hits) == 0 {
		p.Note = "No design matches."
	}
	h.render(w, r, http.StatusOK, "search", p)
}
