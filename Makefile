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

# Runs every Fuzz* test for FUZZTIME each. Interesting inputs land in each
# package's testdata/fuzz/, and plain `go test` replays them.
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

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
