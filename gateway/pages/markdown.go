package pages

import (
	"bytes"
	"html/template"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// maxMarkdown bounds the instructions rendered on a page; longer ones are
// cut (the whole file stays a link away).
const maxMarkdown = 1 << 20

// markdown renders untrusted Markdown to safe HTML: goldmark with the
// GitHub extensions and without raw HTML (it is dropped), links and images
// resolved against the bundle, and bluemonday's policy for user content on
// the result, so that no script, handler, style or javascript: URL
// survives even if goldmark let one through.
type markdown struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

// mdLinksKey carries a render's link resolver through goldmark's parser.
var mdLinksKey = parser.NewContextKey()

func newMarkdown() *markdown {
	p := bluemonday.UGCPolicy()
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.RequireNoReferrerOnLinks(true)
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[\w+-]{1,32}$`)).OnElements("code")
	p.AllowAttrs("type").Matching(regexp.MustCompile(`^checkbox$`)).OnElements("input")
	p.AllowAttrs("checked", "disabled").OnElements("input")
	return &markdown{
		md: goldmark.New(
			goldmark.WithExtensions(extension.GFM),
			goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(resolver{}, 100))),
		),
		policy: p,
	}
}

// mdLinks resolves a document's relative links and images.
type mdLinks struct {
	// dir is the document's folder inside the bundle, "" at the top.
	dir string
	// file returns the URL of a path inside the bundle.
	file func(p string) string
}

// render turns src into sanitised HTML. Relative links and images are
// resolved against dir inside the bundle and pointed at file's URLs.
func (m *markdown) render(src []byte, l mdLinks) template.HTML {
	if len(src) > maxMarkdown {
		src = src[:maxMarkdown]
	}
	pc := parser.NewContext()
	pc.Set(mdLinksKey, l)
	var buf bytes.Buffer
	if err := m.md.Convert(src, &buf, parser.WithContext(pc)); err != nil {
		// goldmark fails only when its writer does; show the text.
		return template.HTML(template.HTMLEscapeString(string(src)))
	}
	return template.HTML(m.policy.SanitizeBytes(buf.Bytes()))
}

// resolver rewrites the parsed document: relative links and images point
// into the bundle, images from elsewhere become links (the pages load no
// third-party content), links with other schemes than http, https and
// mailto lose their link, and headings move two levels down, below the
// page's own h1 and h2.
type resolver struct{}

func (resolver) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	l, _ := pc.Get(mdLinksKey).(mdLinks)
	src := reader.Source()
	var unwrap []ast.Node
	var toLink []*ast.Image
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch v := n.(type) {
		case *ast.Heading:
			v.Level = min(v.Level+2, 6)
		case *ast.Link:
			dest, ok := l.resolve(string(v.Destination))
			if !ok {
				unwrap = append(unwrap, v)
				break
			}
			v.Destination = []byte(dest)
		case *ast.AutoLink:
			if _, ok := l.resolve(string(v.URL(src))); !ok {
				unwrap = append(unwrap, v)
			}
		case *ast.Image:
			dest, ok := l.resolve(string(v.Destination))
			switch {
			case !ok:
				unwrap = append(unwrap, v)
			case isExternal(string(v.Destination)):
				v.Destination = []byte(dest)
				toLink = append(toLink, v)
			default:
				v.Destination = []byte(dest)
			}
		}
		return ast.WalkContinue, nil
	})
	for _, n := range unwrap {
		replaceWithChildren(n, src)
	}
	for _, img := range toLink {
		link := ast.NewLink()
		link.Destination = img.Destination
		link.Title = img.Title
		for c := img.FirstChild(); c != nil; {
			next := c.NextSibling()
			link.AppendChild(link, c)
			c = next
		}
		if link.ChildCount() == 0 {
			link.AppendChild(link, ast.NewString([]byte("image")))
		}
		img.Parent().ReplaceChild(img.Parent(), img, link)
	}
}

// replaceWithChildren puts n's children where n was, dropping n.
func replaceWithChildren(n ast.Node, src []byte) {
	parent := n.Parent()
	if parent == nil {
		return
	}
	if al, ok := n.(*ast.AutoLink); ok {
		// An autolink's text is its URL; keep it as text.
		parent.ReplaceChild(parent, n, ast.NewString(al.URL(src)))
		return
	}
	for c := n.FirstChild(); c != nil; {
		next := c.NextSibling()
		parent.InsertBefore(parent, n, c)
		c = next
	}
	parent.RemoveChild(parent, n)
}

func isExternal(dest string) bool {
	u, err := url.Parse(strings.TrimSpace(dest))
	return err == nil && (u.Scheme != "" || u.Host != "")
}

// resolve maps a link destination to what the page links to; ok is false
// when the link must go (a scheme other than http, https or mailto, or an
// unparsable URL).
func (l mdLinks) resolve(dest string) (string, bool) {
	dest = strings.TrimSpace(dest)
	u, err := url.Parse(dest)
	if err != nil {
		return "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "mailto":
		return u.String(), true
	case "":
	default:
		return "", false
	}
	if u.Host != "" {
		// //host/path: scheme-relative, so http or https.
		return u.String(), true
	}
	if u.Path == "" {
		// #fragment or ?query: nothing inside the bundle to point at.
		if u.Fragment != "" {
			return "#" + url.PathEscape(u.Fragment), true
		}
		return "", false
	}
	if l.file == nil {
		return "", false
	}
	p := u.Path
	if !strings.HasPrefix(p, "/") {
		p = path.Join("/", l.dir, p)
	}
	// Clean keeps the path inside the bundle: "/../x" is "/x".
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	return l.file(p), true
}
