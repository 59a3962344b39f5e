package node_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/folder"
)

// versionStats returns the counts of version root in st, or false.
func versionStats(st api.Stats, root string) (api.VersionStats, bool) {
	for _, b := range st.Bundles {
		for _, v := range b.Versions {
			if v.CID.String() == root {
				return v, true
			}
		}
	}
	return api.VersionStats{}, false
}

// TestReachCountedAndKept: page views and downloads of a bundle version
// read through the node's real gateway are counted per version, only for
// versions the node holds, and survive a restart (they are written at
// Close; the periodic flush is covered by the daemon end-to-end test).
func TestReachCountedAndKept(t *testing.T) {
	nw := nodetest.New(t, 1, nodetest.Options{Gateway: true})
	n := nw.Nodes[0]
	v1 := publishDir(t, n.Node, demoFolder(t))
	plainDir := filepath.Join(t.TempDir(), "notes")
	nodetest.WriteTree(t, plainDir, map[string]string{"a.txt": "not a bundle\n"})
	plain := publishPlain(t, n.Node, plainDir)
	base := n.GatewayURL()
	root := v1.CID.String()

	for range 3 {
		if res, body := fetch(t, base+"/bundles/"+root+"/", ""); res.StatusCode != http.StatusOK {
			t.Fatalf("bundle page: %d %.200s", res.StatusCode, body)
		}
	}
	for _, u := range []string{
		"/bundles/" + root + ".zip",
		"/bundles/" + root + ".car",
		"/bundles/" + root + ".car",
		"/ipfs/" + root + "/bom.csv?download=true&filename=bom.csv",
		"/ipfs/" + plain.CID.String() + "/a.txt?download=true&filename=a.txt", // not a bundle: not counted
	} {
		if res, body := fetch(t, base+u, ""); res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %.200s", u, res.StatusCode, body)
		}
	}
	// A range of a download link is not a download.
	req, _ := http.NewRequest(http.MethodGet, base+"/ipfs/"+root+"/bom.csv?download=true", nil)
	req.Header.Set("Range", "bytes=0-3")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusPartialContent {
		t.Fatalf("range: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	want := api.VersionStats{Sequence: 1, Views: 3, Downloads: api.DownloadCounts{Zip: 1, CAR: 2, File: 1}}
	check := func(when string) {
		t.Helper()
		st, err := n.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Bundles) != 1 || st.Bundles[0].Name != "brick-press" || st.Bundles[0].Views != 3 || st.Bundles[0].Downloads != 4 {
			t.Fatalf("%s: stats %+v", when, st)
		}
		got, ok := versionStats(st, root)
		got.CID, got.Version = want.CID, ""
		if !ok || got != want {
			t.Errorf("%s: version counts %+v, want %+v", when, got, want)
		}
	}
	check("before restart")

	n.Restart()
	check("after restart")

	// Counting goes on from the stored counts.
	if res, _ := fetch(t, n.GatewayURL()+"/bundles/"+root+"/", ""); res.StatusCode != http.StatusOK {
		t.Fatalf("bundle page after restart: %d", res.StatusCode)
	}
	st, err := n.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := versionStats(st, root); v.Views != 4 {
		t.Errorf("views after restart and one more view: %d, want 4", v.Views)
	}

	// A version the node no longer pins is no longer reported.
	if err := n.Unpin(context.Background(), v1.CID); err != nil {
		t.Fatal(err)
	}
	if st, err := n.Stats(context.Background()); err != nil || len(st.Bundles) != 0 {
		t.Errorf("stats after unpin: %+v %v", st, err)
	}
}

// TestReachFlushedWhileRunning: a running node writes its counts to the
// store every few seconds, not only at Close, so a crash loses at most
// those seconds.
func TestReachFlushedWhileRunning(t *testing.T) {
	nw := nodetest.New(t, 1, nodetest.Options{Gateway: true})
	n := nw.Nodes[0]
	v1 := publishDir(t, n.Node, demoFolder(t))
	root := v1.CID.String()
	if res, _ := fetch(t, n.GatewayURL()+"/bundles/"+root+"/", ""); res.StatusCode != http.StatusOK {
		t.Fatalf("bundle page: %d", res.StatusCode)
	}
	nodetest.Eventually(t, 20*time.Second, func() bool {
		b, err := n.StoredReach(context.Background(), v1.CID)
		return err == nil && bytes.Contains(b, []byte(`"views":1`))
	}, "the view written to the store")
}

// publishPlain imports dir as a plain folder (no manifest).
func publishPlain(t *testing.T, n api.Service, dir string) api.PublishResult {
	t.Helper()
	fn, _, err := folder.Open(dir, folder.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Publish(context.Background(), fn, api.PublishOptions{Name: filepath.Base(dir), Plain: true}, nil)
	if err != nil {
		t.Fatalf("add %s: %v", dir, err)
	}
	return res
}
