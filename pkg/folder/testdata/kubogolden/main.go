// Command kubogolden prints, as JSON, the root CID that Kubo's own adder
// (github.com/ipfs/kubo/core/coreunix, the code behind `ipfs add`) gives for
// each folder named on the command line, with the settings of
// `ipfs add -r --cid-version=1 --raw-leaves --chunker=buzhash` and Kubo's
// default Import config. A folder whose name ends in "-hidden" is added as
// with --hidden. See README.md.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfs/boxo/blockservice"
	bstore "github.com/ipfs/boxo/blockstore"
	offline "github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/ipfs/kubo/core/coreiface/options"
	"github.com/ipfs/kubo/core/coreunix"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kubogolden:", err)
		os.Exit(1)
	}
}

func run(paths []string) error {
	ctx := context.Background()
	out := map[string]string{}
	for _, p := range paths {
		c, err := add(ctx, p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		out[filepath.Base(p)] = c
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func add(ctx context.Context, p string) (string, error) {
	bs := bstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore()))
	dag := merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))

	// What the ipfs CLI does with `add -r [--hidden] PATH`.
	st, err := os.Lstat(p)
	if err != nil {
		return "", err
	}
	filter, err := files.NewFilter("", nil, strings.HasSuffix(p, "-hidden"))
	if err != nil {
		return "", err
	}
	node, err := files.NewSerialFileWithFilter(p, filter, st)
	if err != nil {
		return "", err
	}

	// What coreapi.UnixfsAPI.Add does with those flags.
	_, prefix, err := options.UnixfsAddOptions(
		options.Unixfs.CidVersion(1),
		options.Unixfs.RawLeaves(true),
		options.Unixfs.Chunker("buzhash"),
	)
	if err != nil {
		return "", err
	}
	adder, err := coreunix.NewAdder(ctx, nil, bstore.NewGCLocker(), dag)
	if err != nil {
		return "", err
	}
	adder.Pin = false
	adder.Chunker = "buzhash"
	adder.RawLeaves = true
	adder.CidBuilder = prefix
	nd, err := adder.AddAllAndPin(ctx, node)
	if err != nil {
		return "", err
	}
	return nd.Cid().String(), nil
}
