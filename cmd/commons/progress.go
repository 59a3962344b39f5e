package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/commons-p2p/commons/gateway/api"
)

// progressLine shows a long operation's progress on one self-overwriting
// line of stderr, when stderr is a terminal and --quiet is off. Scripts
// (stderr not a terminal) get no progress noise.
type progressLine struct {
	w      io.Writer
	on     bool
	phase  string
	total  int64
	start  time.Time
	mu     sync.Mutex
	last   time.Time
	shown  bool
	latest api.Progress
}

func (a *app) progress(phase string, total int64) *progressLine {
	return &progressLine{w: a.stderr, on: !a.quiet && isTerminal(a.stderr), phase: phase, total: total, start: time.Now()}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progressLine) update(pr api.Progress) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr.Phase != "" && pr.Phase != p.latest.Phase && p.latest.Phase != "" {
		// A new phase (fetch, then write): keep the last line of the old
		// one and measure the new one's rate from its own start.
		if p.shown {
			p.draw()
			fmt.Fprintln(p.w)
		}
		p.start, p.shown = time.Now(), false
	}
	p.latest = pr
	if time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progressLine) draw() {
	pr := p.latest
	phase := pr.Phase
	if phase == "" {
		phase = p.phase
	}
	total := pr.TotalBytes
	if total == 0 {
		total = p.total
	}
	el := time.Since(p.start).Seconds()
	rate := ""
	if el > 0.5 {
		rate = fmt.Sprintf(", %s/s", humanBytes(int64(float64(pr.Bytes)/el)))
	}
	line := fmt.Sprintf("%s: %s", phase, humanBytes(pr.Bytes))
	if total > 0 {
		line += fmt.Sprintf(" of %s (%d%%)", humanBytes(total), min(100, pr.Bytes*100/max(total, 1)))
	}
	if pr.Blocks > 0 {
		line += fmt.Sprintf(", %d blocks", pr.Blocks)
	}
	if pr.Files > 0 {
		line += fmt.Sprintf(", %d files", pr.Files)
	}
	line += rate
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.shown = true
}

func (p *progressLine) done() {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		p.draw()
		fmt.Fprintln(p.w)
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
