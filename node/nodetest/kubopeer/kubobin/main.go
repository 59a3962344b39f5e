// Command kubobin builds, if it is not cached yet, the Kubo binary that
// package kubopeer runs, and prints its path. CI runs it before the tests so
// that the first build (minutes on a cold cache) does not count against a
// test's timeout:
//
//	go run ./node/nodetest/kubopeer/kubobin
//
// It honours the same environment as kubopeer.Binary ($COMMONS_KUBO_BIN,
// $COMMONS_CACHE_DIR). With -timeout it gives up after that long.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/commons-p2p/commons/node/nodetest/kubopeer"
)

func main() {
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this long")
	flag.Parse()
	bin, err := run(*timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubobin:", err)
		os.Exit(1)
	}
	fmt.Println(bin)
}

func run(timeout time.Duration) (string, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return kubopeer.Binary(ctx)
}
