// Package proto holds the wire formats commons defines itself: IPLD schemas
// for what it stores and exchanges. Go bindings live beside their users
// (pkg/bundle binds BundleSchema with bindnode).
package proto

import _ "embed"

// BundleSchema is the IPLD schema (DSL) of the design bundle manifest,
// schema version 1.
//
//go:embed bundle.ipldsch
var BundleSchema []byte

// LibrarySchema is the IPLD schema (DSL) of the library record, schema
// version 1.
//
//go:embed library.ipldsch
var LibrarySchema []byte

// SneakernetSchema is the IPLD schema (DSL) of the have-file and of the
// export manifest, schema version 1 of each.
//
//go:embed sneakernet.ipldsch
var SneakernetSchema []byte
