//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestE2ESneakernetRefusesTerminal: the have-file and export CARs are
// binary; written to a terminal they would garble it, so `have` and
// `export -o -` refuse one (exit 2) and say what to do.
func TestE2ESneakernetRefusesTerminal(t *testing.T) {
	t.Parallel()
	r := newRepo(t, "village")
	for _, args := range [][]string{{"have"}, {"have", "-o", "-"}, {"export", "--libraries", "-o", "-"}} {
		_, slave := openPTY(t)
		ctx, cancel := context.WithTimeout(context.Background(), commandDeadline)
		cmd := exec.CommandContext(ctx, commonsBin(t), append([]string{"--repo", r.path}, args...)...)
		cmd.Env = commandEnv()
		cmd.Stdout = slave
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.WaitDelay = 5 * time.Second
		err := cmd.Run()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "terminal") {
			t.Errorf("commons %s on a terminal: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
	}
}
