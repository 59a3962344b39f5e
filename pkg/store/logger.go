package store

import (
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// quietLogger passes pebble's messages on, but each message format at
// most once per interval: pebble retries a failed flush at once and
// forever, logging each failure, and on a full disk that was 150 lines a
// second, which would fill the disk again if the log is on it. Fatal
// messages are always passed on, with what to do when the disk is full.
type quietLogger struct {
	next     pebble.Logger
	interval time.Duration

	mu   sync.Mutex
	last map[string]*quietEntry
}

type quietEntry struct {
	at         time.Time
	suppressed int
}

func newQuietLogger(next pebble.Logger) *quietLogger {
	return &quietLogger{next: next, interval: 10 * time.Second, last: map[string]*quietEntry{}}
}

// pass reports whether a message of this format may be logged now, and
// how many were held back since the last one.
func (l *quietLogger) pass(format string) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.last[format]
	if !ok {
		if len(l.last) > 256 {
			clear(l.last) // formats are constants; this only bounds a surprise
		}
		e = &quietEntry{}
		l.last[format] = e
	} else if time.Since(e.at) < l.interval {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.at, e.suppressed = time.Now(), 0
	return true, n
}

func (l *quietLogger) Infof(format string, args ...any) {
	if ok, _ := l.pass(format); ok {
		l.next.Infof(format, args...)
	}
}

func (l *quietLogger) Errorf(format string, args ...any) {
	ok, held := l.pass(format)
	if !ok {
		return
	}
	if held > 0 {
		format += fmt.Sprintf(" (and %d more like it in the last %s)", held, l.interval)
	}
	l.next.Errorf(format, args...)
}

func (l *quietLogger) Fatalf(format string, args ...any) {
	l.next.Errorf("the store cannot go on and the process stops; if the disk is full, free space on it and start again: "+format, args...)
	l.next.Fatalf(format, args...)
}
