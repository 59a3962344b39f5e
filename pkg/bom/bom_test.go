package bom

import (
	"reflect"
	"testing"
)

func TestTotals(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Total
	}{
		{
			name: "one currency from the header",
			in:   "Part,Qty,Unit cost (EUR)\nTube,6,4.85\nBolt,8,0.35\n",
			want: []Total{{Currency: "EUR", Amount: dec(t, "31.9"), Lines: 2}},
		},
		{
			name: "missing costs count under the only currency",
			in:   "Part,Qty,Cost\nTube,6,€4.85\nMotor,1,\nBolt,8,€0.35\nPaint,2,-\n",
			want: []Total{{Currency: "EUR", Amount: dec(t, "31.9"), Lines: 4, Missing: 2}},
		},
		{
			name: "several currencies",
			in:   "Part,Qty,Cost,Currency\nTube,6,4.85,EUR\nCylinder,1,$150,\nBolt,8,0.35,EUR\nValve,2,1200,INR\nMotor,1,,\n",
			want: []Total{
				{Currency: "", Lines: 1, Missing: 1},
				{Currency: "EUR", Amount: dec(t, "31.9"), Lines: 2},
				{Currency: "INR", Amount: dec(t, "2400"), Lines: 1},
				{Currency: "USD", Amount: dec(t, "150"), Lines: 1},
			},
		},
		{
			name: "no currency at all",
			in:   "Part,Qty,Price\nTube,6,4.85\nMotor,1,\n",
			want: []Total{{Currency: "", Amount: dec(t, "29.1"), Lines: 2, Missing: 1}},
		},
		{
			name: "costs without and with a currency stay apart",
			in:   "Part,Qty,Price\nTube,6,4.85\nBolt,8,€0.35\nMotor,1,\n",
			want: []Total{
				{Currency: "", Amount: dec(t, "29.1"), Lines: 2, Missing: 1},
				{Currency: "EUR", Amount: dec(t, "2.8"), Lines: 1},
			},
		},
		{
			name: "a line without cost keeps its own currency",
			in:   "Part,Qty,Price,Currency\nTube,6,4.85,EUR\nMotor,1,,USD\n",
			want: []Total{
				{Currency: "EUR", Amount: dec(t, "29.1"), Lines: 1},
				{Currency: "USD", Lines: 1, Missing: 1},
			},
		},
		{
			name: "no cost column",
			in:   "Part,Qty\nTube,6\n",
			want: []Total{{Currency: "", Lines: 1, Missing: 1}},
		},
		{
			name: "rounding per line",
			in:   "Part,Qty,Price\nA,3,0.3333\nB,0.5,0.0001\n",
			want: []Total{{Currency: "", Amount: dec(t, "1.0000"), Lines: 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseCSV(t, tt.in).Totals(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Totals =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
	var nilBOM *BOM
	if nilBOM.Totals() != nil || (&BOM{}).Totals() != nil {
		t.Error("Totals of an empty BOM is not nil")
	}
}

func TestLineCost(t *testing.T) {
	tests := []struct {
		line Line
		want string
	}{
		{Line{Quantity: dec(t, "8"), UnitCost: dec(t, "0.35"), HasCost: true}, "2.8"},
		{Line{Quantity: dec(t, "8"), UnitCost: dec(t, "0.35")}, "0"}, // HasCost false
		{Line{Quantity: dec(t, "0.5"), UnitCost: dec(t, "0.0001"), HasCost: true}, "0.0001"},
		{Line{Quantity: dec(t, "1000000"), UnitCost: dec(t, "1000000000"), HasCost: true}, "922337203685477.5807"},
	}
	for _, tt := range tests {
		if got := tt.line.Cost(); got.String() != tt.want {
			t.Errorf("%+v: Cost = %s; want %s", tt.line, got, tt.want)
		}
	}
}
