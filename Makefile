# commons: see README.md. Targets CI and users rely on:
#   build test test-race e2e browser netlab interop bench bench-netlab fuzz lint generate demo clean
GO      ?= go
BIN     := bin/commons
DEMO    := .demo
PKGS    := ./...
# Kubo, for interop tests and benchmarks, is built from node/nodetest/kubo
# (its own module, pinned to v0.43.1) into bin/ipfs-kubo.
KUBO    := $(CURDIR)/bin/ipfs-kubo
# Files tests leave for people to look at (the browser tests' screenshots),
# under $(ARTIFACTS)/_artifacts/.
ARTIFACTS := $(CURDIR)/test-artifacts

.PHONY: build test test-race e2e browser netlab interop kubo bench bench-netlab fuzz lint generate demo clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/commons

# Everything CI runs: vet, unit and multi-node tests with -race, the binary
# end-to-end tests and the interop tests against a real Kubo node.
# The netlab tests (network namespaces) need root and iproute2; CI has both.
test: build kubo
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed: run gofmt -w on these"; exit 1)
	$(GO) vet $(PKGS)
	$(GO) vet -tags netlab ./cmd/commons
	@mkdir -p $(ARTIFACTS)
	COMMONS_KUBO_BIN=$(KUBO) COMMONS_BIN=$(CURDIR)/$(BIN) $(GO) test -race -timeout 20m -artifacts -outputdir $(ARTIFACTS) $(PKGS)
	@if [ "$$(id -u)" = 0 ] && command -v ip >/dev/null; then $(MAKE) --no-print-directory netlab; \
	else echo "NOTE: netlab tests not run here: they need root and iproute2 (make netlab)"; fi

test-race: test

e2e: build
	COMMONS_BIN=$(CURDIR)/$(BIN) $(GO) test -race -run 'E2E' -count=1 ./cmd/commons/

# The design pages in headless Chromium (/usr/bin/chromium), phone and
# desktop windows; screenshots land in $(ARTIFACTS)/_artifacts/.
browser:
	@mkdir -p $(ARTIFACTS)
	$(GO) test -run 'BrowserE2E' -count=1 -v -artifacts -outputdir $(ARTIFACTS) ./node/

# Network namespaces (root only): two nodes on a LAN joined by a veth
# pair, and the link lab (node/nodetest/linklab): a userspace link with
# delay, loss, a rate and cuts, and a village mirror over it (minutes).
# Also root only: the disk-full test (TestNetLabDiskFull), a repo on a
# small tmpfs and on a loop-mounted ext4 image (about 3 minutes).
netlab: build
	$(GO) vet -tags netlab ./cmd/commons ./node/nodetest/linklab
	COMMONS_BIN=$(CURDIR)/$(BIN) $(GO) test -race -tags netlab -run NetLab -count=1 -timeout 30m ./node/nodetest/linklab/ ./cmd/commons/

interop: build kubo
	COMMONS_KUBO_BIN=$(KUBO) COMMONS_BIN=$(CURDIR)/$(BIN) $(GO) test -run 'Kubo' -count=1 -v ./node/... ./cmd/...

kubo: $(KUBO)
$(KUBO): node/nodetest/kubo/go.mod node/nodetest/kubo/go.sum
	@mkdir -p bin
	@echo "building Kubo v0.43.1 for interop tests (takes about 2 minutes the first time)"
	cd node/nodetest/kubo && $(GO) build -trimpath -o $(KUBO) github.com/ipfs/kubo/cmd/ipfs

bench: build kubo
	COMMONS_KUBO_BIN=$(KUBO) $(GO) run ./cmd/commons-bench $(BENCHFLAGS)

# The village link (root, Linux, about 20 minutes): commons and Kubo over
# 256 kbit/s, 150 ms and 2% loss each way, with and without a 60 s cut.
bench-netlab: build kubo
	COMMONS_KUBO_BIN=$(KUBO) $(GO) run ./cmd/commons-bench -scenarios netlab $(BENCHFLAGS)

# Runs every Fuzz* test for FUZZTIME each and prints, per target, the CPU
# time it used (user+system, all workers), executions, new interesting
# inputs and the result. The interesting inputs the fuzzer finds (kept in
# Go's cache) are copied into the package's testdata/fuzz/<target>/, where
# plain `go test` replays them; a crasher is written there by Go itself.
# To keep the repo small only the FUZZKEEP smallest, each under
# FUZZKEEPSIZE, are copied per target. Commit them. Exits non-zero if any target found a failure.
FUZZTIME ?= 30s
FUZZMINIMIZE ?= 5s
FUZZKEEP ?= 64
FUZZKEEPSIZE ?= 16k
fuzz:
	@bash -c 'set -uo pipefail; cache=$$($(GO) env GOCACHE)/fuzz; fail=0; sum=""; \
	for pkg in $$($(GO) list $(PKGS)); do \
	  dir=$$($(GO) list -f "{{.Dir}}" $$pkg); \
	  for f in $$($(GO) test -list "^Fuzz" $$pkg | grep "^Fuzz" || true); do \
	    echo "== $$pkg $$f ($(FUZZTIME))"; \
	    out=$$(mktemp); \
	    /usr/bin/time -f "%U %S" -o $$out.cpu $(GO) test -run "^$$" -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg 2>&1 | tee $$out; \
	    rc=$${PIPESTATUS[0]}; \
	    cpu=$$(awk "{printf \"%.0f\", \$$1+\$$2}" $$out.cpu 2>/dev/null); \
	    execs=$$(grep -o "execs: [0-9]*" $$out | tail -1 | cut -d" " -f2); \
	    new=$$(grep -o "new interesting: [0-9]*" $$out | tail -1 | cut -d" " -f3); \
	    res=ok; if [ $$rc != 0 ]; then res=FAILED; fail=1; fi; \
	    if [ -d $$cache/$$pkg/$$f ]; then mkdir -p $$dir/testdata/fuzz/$$f; \
	      for c in $$(cd $$cache/$$pkg/$$f && find . -type f -size -$(FUZZKEEPSIZE) -printf "%s %f\n" | sort -n | head -$(FUZZKEEP) | cut -d" " -f2); do \
	        cp -n $$cache/$$pkg/$$f/$$c $$dir/testdata/fuzz/$$f/; done; fi; \
	    sum="$$sum$$(printf "%-52s %-24s %6ss %10s %5s %s" $${pkg#github.com/commons-p2p/commons/} $$f "$${cpu:-?}" "$${execs:-0}" "$${new:-0}" $$res)\n"; \
	    rm -f $$out $$out.cpu; \
	  done; \
	done; \
	printf "\n%-52s %-24s %7s %10s %5s %s\n" package target cpu execs new result; printf "$$sum"; exit $$fail'

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	$(GO) vet $(PKGS)

generate:
	$(GO) generate $(PKGS)

# The main job: build, make a local repo, publish the demo design bundle, and
# run the node with its gateway on http://127.0.0.1:8080.
demo: build
	@test -f $(DEMO)/config.toml || $(BIN) --repo $(DEMO) init --profile lan >/dev/null
	$(BIN) --repo $(DEMO) publish testdata/demo/brick-press
	@echo
	@echo "starting the node: open the gateway URL it prints in a browser (the design pages); Ctrl-C stops it"
	$(BIN) --repo $(DEMO) daemon

clean:
	rm -rf bin $(DEMO) $(ARTIFACTS)
