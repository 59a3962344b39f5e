package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// The village link of issue 5, as NETLAB.md measured Kubo on it.
const (
	netlabRate  = 256_000                // bits per second, each way
	netlabDelay = 150 * time.Millisecond // one way
	netlabLoss  = 0.02                   // each way
	// netlabCut is how long the cut runs cut the link.
	netlabCut = 60 * time.Second
	// netlabBound is how long a transfer without a cut may take (the
	// ideal is about 62 s) before it is reported as not finished.
	netlabBound = 200 * time.Second
	// netlabAfterResumeBound is how long a cut run may take to finish
	// once it has resumed.
	netlabAfterResumeBound = 120 * time.Second
	// netlabResumeBound is how long after the link's return a transfer
	// may take to resume before it is reported as never resumed.
	netlabResumeBound = 60 * time.Second
	// netlabHalfBound bounds the wait for half the payload to cross
	// before a cut.
	netlabHalfBound = 200 * time.Second
	// The definition of resumed: the first window of this length after
	// the link's return in which A->B delivered at least this fraction of
	// the link's rate.
	netlabResumeWindow = 500 * time.Millisecond
	netlabResumeFrac   = 0.5
)

// netlabReport is the netlab scenario's part of the report: the link and
// one row per run.
type netlabReport struct {
	Link    string      `json:"link"`
	Payload string      `json:"payload"`
	Runs    []netlabRun `json:"runs"`
	// DeltaCAR is the size of a one-version update as a delta CAR next to
	// the full CAR, or why it was not measured.
	DeltaCAR string `json:"delta_car"`
}

// netlabRun is one transfer over the link.
type netlabRun struct {
	Name      string `json:"name"`
	Impl      string `json:"impl"`
	Transport string `json:"transport"` // what the transfer ran over
	Cut       bool   `json:"cut"`
	// Finished is whether B held (commons: mirrored and pinned; Kubo: pin
	// add returned) the whole DAG within the bounds.
	Finished bool `json:"finished"`
	// Seconds is the time from the start of the transfer to its end, or
	// to when it was given up.
	Seconds float64 `json:"seconds"`
	// PayloadBytes is the sum of the sizes of the DAG's blocks (for
	// commons, the bundle's and the library's DAGs), Blocks their number.
	PayloadBytes int64 `json:"payload_bytes"`
	Blocks       int   `json:"blocks"`
	// GoodputPct is the payload over the transfer time less the cut, as a
	// percentage of the link rate (finished runs only).
	GoodputPct float64 `json:"goodput_pct,omitempty"`
	// WireAB and WireBA are the bytes serialised onto the link each way
	// (whole IP packets, lost ones included) during the transfer.
	WireAB int64 `json:"wire_bytes_a_to_b"`
	WireBA int64 `json:"wire_bytes_b_to_a"`
	// ReceivedB is what B's own counters say it received (bitswap data
	// received, duplicates included), -1 if unknown.
	ReceivedB int64 `json:"received_bytes_b"`
	// CutAfter is when, from the start, the link was cut (cut runs).
	CutAfter float64 `json:"cut_after_seconds,omitempty"`
	// ResumeSeconds is the time from the link's return to the first
	// window in which the transfer ran at half the link rate; nil when it
	// never did within netlabResumeBound (or there was no cut).
	ResumeSeconds *float64 `json:"resume_seconds,omitempty"`
	// FirstInstructionsSeconds is the time from the start to when B's
	// gateway first answered the instructions file from its own store
	// (Cache-Control: only-if-cached); nil if never.
	FirstInstructionsSeconds *float64 `json:"first_instructions_seconds,omitempty"`
	Note                     string   `json:"note,omitempty"`
}

func (r netlabRun) wireRatio() float64 {
	if r.PayloadBytes == 0 {
		return 0
	}
	return float64(r.WireAB) / float64(r.PayloadBytes)
}

// print writes the netlab table.
func (n *netlabReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nnetlab: %s; %s\n", n.Link, n.Payload)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\ttransport\tresult\ttime s\tgoodput % of link\twire A->B / payload\tB received / payload\tresume after cut s\tfirst instructions s")
	for _, r := range n.Runs {
		result := "finished"
		if !r.Finished {
			result = "DID NOT FINISH"
		}
		goodput, resume, first, recv := "-", "-", "never", "-"
		if r.Finished {
			goodput = fmt.Sprintf("%.0f", r.GoodputPct)
		}
		if r.Cut {
			resume = fmt.Sprintf("never (%.0f s)", netlabResumeBound.Seconds())
			if r.ResumeSeconds != nil {
				resume = fmt.Sprintf("%.1f", *r.ResumeSeconds)
			}
		}
		if r.FirstInstructionsSeconds != nil {
			first = fmt.Sprintf("%.1f", *r.FirstInstructionsSeconds)
		}
		if r.ReceivedB >= 0 && r.PayloadBytes > 0 {
			recv = fmt.Sprintf("%.2f", float64(r.ReceivedB)/float64(r.PayloadBytes))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%s\t%.2f\t%s\t%s\t%s\n", r.Name, r.Transport, result, r.Seconds, goodput, r.wireRatio(), recv, resume, first)
	}
	tw.Flush()
	for _, r := range n.Runs {
		if r.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", r.Name, r.Note)
		}
	}
	fmt.Fprintf(w, "delta CAR vs full CAR, one-version update: %s\n", n.DeltaCAR)
}

// netlabSummary turns the runs into metrics with a commons/Kubo ratio: the
// Kubo column is Kubo with its defaults over TCP (as NETLAB.md measured
// it), other Kubo configurations are references.
func (b *bench) netlabSummary(runs []netlabRun) {
	goodput := b.rep.metric("netlab_goodput_pct", "village link: goodput, % of link rate", "%", "higher")
	wire := b.rep.metric("netlab_wire_ratio", "village link: bytes on the link A->B per payload byte", "x", "lower")
	whole := b.rep.metric("netlab_whole_s", "village link: time to the whole bundle", "s", "lower")
	first := b.rep.metric("netlab_first_instructions_s", "village link: time to readable instructions", "s", "lower")
	resume := b.rep.metric("netlab_resume_s", "village link: resume after a 60 s cut", "s", "lower")
	for _, r := range runs {
		who := r.Impl
		if r.Impl == nameKubo && !strings.HasPrefix(r.Name, "kubo defaults, TCP") {
			who = r.Name
		}
		if r.Cut {
			if r.ResumeSeconds != nil {
				resume.add(who, *r.ResumeSeconds)
			}
			continue
		}
		wire.add(who, r.wireRatio())
		if r.Finished {
			goodput.add(who, r.GoodputPct)
			whole.add(who, r.Seconds)
		}
		if r.FirstInstructionsSeconds != nil {
			first.add(who, *r.FirstInstructionsSeconds)
		}
	}
}
