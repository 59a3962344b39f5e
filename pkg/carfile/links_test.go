package carfile

import (
	"slices"
	"testing"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

func TestLinks(t *testing.T) {
	a := rawBlock(t, []byte("a")).Cid()
	bc := rawBlock(t, []byte("b")).Cid()

	pn := merkledag.NodeWithData([]byte{0x08, 0x01})
	if err := pn.AddRawLink("second", &ipld.Link{Cid: bc}); err != nil {
		t.Fatal(err)
	}
	if err := pn.AddRawLink("first", &ipld.Link{Cid: a}); err != nil {
		t.Fatal(err)
	}
	pbData, err := pn.EncodeProtobuf(false)
	if err != nil {
		t.Fatal(err)
	}
	// dag-json: links anywhere in the structure, in document order.
	jsonData := []byte(`{"list":[{"/":"` + bc.String() + `"},{"/":"` + a.String() + `"}],"n":1}`)

	mk := func(codec uint64, data []byte) cid.Cid {
		c, err := cid.V1Builder{Codec: codec, MhType: mh.SHA2_256}.Sum(data)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name    string
		codec   uint64
		data    []byte
		want    []cid.Cid
		wantErr bool
	}{
		{"raw", cid.Raw, []byte("anything"), nil, false},
		{"json (no links)", 0x0200, []byte(`{"/":"x"}`), nil, false},
		{"dag-pb in link order", cid.DagProtobuf, pbData, pbLinkOrder(t, pbData), false},
		{"dag-json", cid.DagJSON, jsonData, []cid.Cid{bc, a}, false},
		{"bad dag-json", cid.DagJSON, []byte(`{"/":`), nil, true},
		{"bad dag-cbor", cid.DagCBOR, []byte{0xa1}, nil, true},
		{"bad dag-pb", cid.DagProtobuf, []byte{0xff}, nil, true},
		{"unsupported codec", cid.GitRaw, []byte("blob 0\x00"), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := links(mk(tt.codec, tt.data), tt.data)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !slices.EqualFunc(got, tt.want, cid.Cid.Equals) {
				t.Fatalf("links = %v, want %v", got, tt.want)
			}
		})
	}
}

// pbLinkOrder decodes dag-pb with boxo's merkledag, independently.
func pbLinkOrder(t *testing.T, data []byte) []cid.Cid {
	t.Helper()
	pn, err := merkledag.DecodeProtobuf(data)
	if err != nil {
		t.Fatal(err)
	}
	var out []cid.Cid
	for _, l := range pn.Links() {
		out = append(out, l.Cid)
	}
	if len(out) != 2 {
		t.Fatalf("test setup: %d links", len(out))
	}
	return out
}
