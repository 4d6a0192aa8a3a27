//go:build linux

package memory_test

import (
	"errors"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/lazyfs"
)

var powerlossTrials = flag.Int("powerloss.trials", 12, "how many times TestPowerLossLosesNothingAcknowledged cuts the power")

// TestPowerLossLosesNothingAcknowledged runs the writer of
// TestCrashLosesNothingAcknowledged, with sync writes, on a file system that
// keeps what was not fsynced in memory (lazyfs, as Jepsen's LazyFS). At a
// random moment after the writer's first acknowledged write the test cuts
// the power: the file system drops every unsynced byte and refuses what
// follows; then it kills the writer, unmounts, and opens the store from the
// backing directory, as a machine would find it when the power came back.
// The store must open the first time, its invariants must hold, and every
// acknowledged write must be there. A SIGKILL alone cannot find a missing
// fsync, since the page cache outlives the process; this can. It repeats
// on the same directory, mounting it again each time.
func TestPowerLossLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes; skipped with -short")
	}
	dir, mnt := t.TempDir(), t.TempDir()
	var acks []string
	var r reopens
	var dropped int64
	start := time.Now()
	for trial := range *powerlossTrials {
		fsys, err := lazyfs.Mount(dir, mnt)
		if errors.Is(err, lazyfs.ErrUnavailable) {
			if os.Getenv("HERKEN_REQUIRE_EXTERNAL") != "" {
				t.Fatalf("FUSE is required (HERKEN_REQUIRE_EXTERNAL is set): %v (apt-get install -y fuse3; run as root)", err)
			}
			t.Skipf("FUSE is not available here, so power loss cannot be simulated: %v", err)
		}
		require.NoError(t, err)
		unmounted := false
		t.Cleanup(func() {
			if !unmounted {
				fsys.Cut()
				_ = fsys.Unmount()
			}
		})
		acks = append(acks, writerTrial(t, mnt, trial, true, 300*time.Millisecond, func(p *os.Process) {
			dropped += fsys.Cut() // first, so that nothing after it persists
			require.NoError(t, p.Kill())
		})...)
		require.NoError(t, fsys.Unmount(), "trial %d", trial)
		unmounted = true
		r.check(t, dir, trial, acks)
	}
	t.Logf("%d power cuts (sync writes), %d acknowledged writes, %d checks after them: nothing lost; %d failed opens, %d repaired; the cuts dropped %d KiB not synced; %v",
		*powerlossTrials, len(acks), r.checked, r.failed, r.repaired, dropped>>10, time.Since(start).Round(time.Millisecond))
	require.Zero(t, r.failed, "opens after a power cut that failed the first time")
}
