package node_test

import (
	"archive/zip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/commons-p2p/commons/node/nodetest"
)

// chromiumPath is Debian's Chromium, which CI installs (.ci/run); the tests
// never download a browser.
const chromiumPath = "/usr/bin/chromium"

// TestPagesBrowserE2E drives a real headless Chromium through the design
// pages of a real node, in a phone-sized and a desktop-sized window: the
// home page, a search, a bundle page (instructions and BOM total), the diff
// between two versions, and the zip download; then it checks in the
// browser that a hostile bundle runs no script on the pages' origin.
// Screenshots go to the test's artifact directory (go test -artifacts).
func TestPagesBrowserE2E(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s (apt-get install chromium; CI installs it): %v", chromiumPath, err)
	}
	nw := nodetest.New(t, 1, nodetest.Options{Gateway: true})
	n := nw.Nodes[0]
	dir := demoFolder(t)
	v1 := publishDir(t, n.Node, dir)
	// Version 2: six bolts instead of four (+1.80 USD), and a fifth step.
	bomPath := filepath.Join(dir, "bom.csv")
	bomCSV, err := os.ReadFile(bomPath)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(bomCSV), "bolt M12x80 with nut,4,", "bolt M12x80 with nut,6,", 1)
	if edited == string(bomCSV) {
		t.Fatal("the demo BOM has no line for the M12 bolts any more; update this test")
	}
	nodetest.WriteTree(t, dir, map[string]string{"bom.csv": edited})
	f, err := os.OpenFile(filepath.Join(dir, "instructions.md"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "\n## 5. Paint\nPrime and paint every steel surface against rust.\n")
	f.Close()
	v2 := publishDir(t, n.Node, dir)
	evil := publishDir(t, n.Node, hostileFolder(t))
	waitSearch(t, n.Node, "mould", v2.CID.String())
	base := n.GatewayURL()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.Headless,
		chromedp.Flag("disable-dev-shm-usage", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()

	for _, win := range []struct {
		name   string
		w, h   int64
		mobile bool
	}{
		{"phone", 390, 844, true},
		{"desktop", 1366, 900, false},
	} {
		t.Run(win.name, func(t *testing.T) {
			browserCtx, cancel := chromedp.NewContext(allocCtx)
			defer cancel()
			viewport := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
			if win.mobile {
				viewport = append(viewport, chromedp.EmulateMobile)
			}
			// The first action starts the browser and must not run under a
			// timeout (it would stop the browser); the rest do.
			if err := chromedp.Do(browserCtx, chromedp.EmulateViewport(win.w, win.h, viewport...)); err != nil {
				t.Fatalf("start chromium: %v", err)
			}
			ctx, cancelT := context.WithTimeout(browserCtx, 3*time.Minute)
			defer cancelT()
			artifacts := t.ArtifactDir()
			do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
				t.Helper()
				if err := chromedp.Do(ctx, steps...); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			text := func(sel string) string {
				t.Helper()
				s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
				if err != nil {
					t.Fatalf("text of %s: %v", sel, err)
				}
				return s
			}
			eval := func(expr string) any {
				t.Helper()
				v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr))
				if err != nil {
					t.Fatalf("evaluate %s: %v", expr, err)
				}
				return v
			}
			location := func() string {
				t.Helper()
				u, err := chromedp.Run(ctx, chromedp.Location())
				if err != nil {
					t.Fatal(err)
				}
				return u
			}
			shot := func(name string) {
				t.Helper()
				png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatalf("screenshot %s: %v", name, err)
				}
				if err := os.WriteFile(filepath.Join(artifacts, win.name+"-"+name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fits := func(what string) {
				t.Helper()
				if ok, _ := eval(`document.documentElement.scrollWidth <= window.innerWidth + 1`).(bool); !ok {
					t.Errorf("%s is wider than the %dpx window", what, win.w)
				}
			}

			// Home.
			do("home", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#all`)))
			if home := text(`main`); !strings.Contains(home, "Compressed earth brick press") || !strings.Contains(home, "Open source") {
				t.Errorf("home page lacks the demo bundle:\n%s", home)
			}
			shot("home")
			fits("the home page")

			// Search, then open the first result: the newest version.
			do("search", chromedp.SetValue(chromedp.CSS(`#q`), "mould"), chromedp.Submit(chromedp.CSS(`#q`)),
				chromedp.WaitVisible(chromedp.CSS(`ul.cards li h3 a`)))
			if results := text(`main`); !strings.Contains(results, "Compressed earth brick press") || !strings.Contains(results, "mould") {
				t.Errorf("search results:\n%s", results)
			}
			shot("search")
			do("open the result", chromedp.Click(chromedp.CSS(`ul.cards li h3 a`), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS(`#bom`)))
			if url, want := location(), base+"/bundles/"+v2.CID.String()+"/"; url != want {
				t.Errorf("first result opened %s, want the newest version %s", url, want)
			}

			// The bundle page: rendered instructions, the BOM total.
			instructions := text(`.prose`)
			for _, want := range []string{"Weld the mould box", "Paint", "Prime and paint every steel surface"} {
				if !strings.Contains(instructions, want) {
					t.Errorf("instructions lack %q:\n%s", want, instructions)
				}
			}
			// 3.2×9.50 + 0.25×62.00 + 0.6×7.20 + 1.2×6.80 + 6×0.90 + 0.5×14.00
			if total := text(`td[data-total="USD"]`); total != "70.78 USD" {
				t.Errorf("BOM total %q, want 70.78 USD", total)
			}
			shot("bundle")
			fits("the bundle page")

			// The diff from the previous version.
			do("diff", chromedp.Click(chromedp.CSS(`a[href^="/diff?"]`), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS(`#bomafter`)))
			if url, want := location(), "/diff?old="+v1.CID.String()+"&new="+v2.CID.String(); !strings.HasSuffix(url, want) {
				t.Errorf("diff link went to %s, want …%s", url, want)
			}
			diff := text(`main`)
			if !strings.Contains(text(`#bomafter`), "70.78 USD") || !strings.Contains(diff, "68.98 USD") || !strings.Contains(diff, "bolt") ||
				!strings.Contains(diff, "+Prime and paint every steel surface") {
				t.Errorf("diff page:\n%s", diff)
			}
			shot("diff")

			// Download the zip through the browser.
			downloads := t.TempDir()
			done := make(chan string, 1)
			if err := chromedp.ListenBrowser(ctx, func(ev any) {
				if e, ok := ev.(*browser.EventDownloadProgress); ok && e.State == browser.DownloadProgressStateCompleted {
					select {
					case done <- e.GUID:
					default:
					}
				}
			}); err != nil {
				t.Fatal(err)
			}
			events := true
			if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &events}); err != nil {
				t.Fatal(err)
			}
			do("zip download", chromedp.Navigate(base+"/bundles/"+v2.CID.String()+"/"), chromedp.WaitVisible(chromedp.CSS(`#bom`)),
				chromedp.Click(chromedp.CSS(`a[href$=".zip"]`), chromedp.NodeVisible))
			var guid string
			select {
			case guid = <-done:
			case <-ctx.Done():
				t.Fatal("the zip download did not complete")
			}
			zr, err := zip.OpenReader(filepath.Join(downloads, guid))
			if err != nil {
				t.Fatalf("downloaded zip: %v", err)
			}
			found := false
			for _, zf := range zr.File {
				if zf.Name == "brick-press-v2/bom.csv" {
					found = zf.UncompressedSize64 == uint64(len(edited))
				}
			}
			zr.Close()
			if !found {
				t.Error("the downloaded zip lacks brick-press-v2/bom.csv as published")
			}

			// A hostile bundle runs no script on the pages' origin.
			evilPage := "/bundles/" + evil.CID.String() + "/"
			do("hostile bundle", chromedp.Navigate(base+evilPage), chromedp.WaitVisible(chromedp.CSS(`#instructions`)))
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const i = document.querySelector('img[src$="evil.svg"]'); return !!(i && i.complete && i.naturalWidth > 0) })()`,
				chromedp.WithPollingTimeout(30*time.Second))); err != nil {
				t.Errorf("the design's SVG did not load as an image: %v", err)
			}
			if pwned, scripts := eval(`typeof window.__pwned`), eval(`document.scripts.length`); pwned != "undefined" || scripts != float64(0) {
				t.Errorf("hostile bundle page: window.__pwned is %v, %v scripts", pwned, scripts)
			}
			shot("hostile")
			// Opened on the pages' origin, its HTML is sandboxed: no script.
			do("hostile HTML by path", chromedp.Navigate(base+"/ipfs/"+evil.CID.String()+"/evil.html"), chromedp.WaitVisible(chromedp.CSS(`h1`)))
			if title := eval(`document.title`); title != "evil" {
				t.Errorf("the design's HTML ran script on the pages' origin (title %q)", title)
			}
			// Reached by name, the pages link it to its own origin.
			port := base[strings.LastIndex(base, ":"):]
			do("hostile HTML by subdomain", chromedp.Navigate("http://localhost"+port+evilPage), chromedp.WaitVisible(chromedp.CSS(`#instructions`)),
				chromedp.Click(chromedp.CSS(`.prose a[href$="evil.html"]`), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS(`h1`)))
			if origin, want := eval(`location.origin`), "http://"+evil.CID.String()+".ipfs.localhost"+port; origin != want {
				t.Errorf("the design's HTML opened on %v, want its own origin %s", origin, want)
			}
		})
	}
}
