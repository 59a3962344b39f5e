package pages

import (
	"strings"
	"testing"
)

func TestResolveLinks(t *testing.T) {
	l := mdLinks{dir: "docs", file: func(p string) string { return "/ipfs/ROOT/" + p }}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"https://example.org/x", "https://example.org/x", true},
		{"mailto:a@example.org", "mailto:a@example.org", true},
		{"//example.org/x", "//example.org/x", true},
		{"img.png", "/ipfs/ROOT/docs/img.png", true},
		{"../images/a.svg", "/ipfs/ROOT/images/a.svg", true},
		{"../../../../etc/passwd", "/ipfs/ROOT/etc/passwd", true},
		{"/bom.csv", "/ipfs/ROOT/bom.csv", true},
		{"#step-2", "#step-2", true},
		{"javascript:alert(1)", "", false},
		{"JavaScript:alert(1)", "", false},
		{" javascript:alert(1)", "", false},
		{"data:text/html,<script>", "", false},
		{"vbscript:x", "", false},
		{"file:///etc/passwd", "", false},
		{"?q=1", "", false},
		{"%zz", "", false},
	} {
		got, ok := l.resolve(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("resolve(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRenderMarkdown(t *testing.T) {
	md := newMarkdown()
	l := mdLinks{file: func(p string) string { return "/ipfs/ROOT/" + escapePath(p) }}
	for _, tc := range []struct {
		name, in string
		want     []string
		not      []string
	}{
		{"headings shift", "# A\n## B\n##### E\n", []string{"<h3>A</h3>", "<h4>B</h4>", "<h6>E</h6>"}, []string{"<h1", "<h2"}},
		{"raw html dropped", "<script>alert(1)</script>\n\nx <b onclick=alert(2)>y</b>\n\n<iframe src=x></iframe>", nil, []string{"<script", "alert", "onclick", "<iframe"}},
		{"javascript link unwrapped", "[click](javascript:alert(1))", []string{"click"}, []string{"javascript", "<a"}},
		{"autolink kept as text", "<javascript:alert(1)>", nil, []string{`href="javascript`}},
		{"relative image", "![side view](images/side.svg)", []string{`<img src="/ipfs/ROOT/images/side.svg" alt="side view"`}, nil},
		{"remote image becomes a link", "![pixel](https://tracker.example/p.png)", []string{`<a href="https://tracker.example/p.png"`, "pixel</a>"}, []string{"<img"}},
		{"data image dropped", "![x](data:image/png;base64,AAAA)", []string{"x"}, []string{"data:", "<img"}},
		{"table", "| a | b |\n|---|---|\n| 1 | 2 |\n", []string{"<table>", "<td>1</td>"}, nil},
		{"code class kept", "```go\nx := 1\n```\n", []string{`<code class="language-go">`}, nil},
		{"name with spaces", "[f](my file.txt)", nil, []string{"<a"}},
		{"escaped path", "[f](<my file.txt>)", []string{`href="/ipfs/ROOT/my%20file.txt"`}, nil},
		{"links get no referrer", "[x](https://example.org/)", []string{`rel="nofollow noreferrer"`}, nil},
	} {
		got := string(md.render([]byte(tc.in), l))
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, got)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: output has %q:\n%s", tc.name, n, got)
			}
		}
	}
}
