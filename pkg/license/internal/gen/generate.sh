#!/bin/sh
# Regenerates spdx_gen.go from the npm package spdx-license-list (CC0-1.0).
# Run by `go generate` in pkg/license (see spdx.go); the working directory is
# that package. The tarball is fetched into a temporary directory with
# `npm pack` (no node_modules, nothing left behind) and checked against a
# pinned SHA-256, so a registry that serves different bytes for the same
# version fails here instead of silently changing the table.
set -eu

version=6.12.0
sha256=54cc8d13086187333ca1457c8edaa06d9a412144f076aa7f7c1b59c4f3b0a1ef

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

(cd "$tmp" && npm pack --silent "spdx-license-list@$version" >/dev/null)
tarball="$tmp/spdx-license-list-$version.tgz"
got=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ "$got" != "$sha256" ]; then
	echo "generate.sh: spdx-license-list@$version has SHA-256 $got, want $sha256" >&2
	exit 1
fi
tar -xzf "$tarball" -C "$tmp" package/spdx.json
go run ./internal/gen -source "spdx-license-list@$version" -in "$tmp/package/spdx.json" -out spdx_gen.go
