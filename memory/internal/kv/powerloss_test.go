//go:build linux

package kv

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/lazyfs"
)

var powerlossTrials = flag.Int("powerloss.trials", 4, "how many times TestPowerLossWhileMemtablesRotate cuts the power")

// powerlossMemTable is small, and the values large, so that memtables
// rotate several times a second: a commit in a memtable rotated out but not
// yet flushed to a table is what Badger's own Sync does not make durable.
const (
	powerlossMemTable = 8 << 20 // the least Badger takes with its 1 MB value threshold
	powerlossValue    = 64 << 10
)

// TestPowerLossWhileMemtablesRotate runs a writer in a child process that
// commits large values with Durable, on a file system that keeps what was
// not fsynced in memory (lazyfs), and reports every key Durable
// acknowledged. Soon after a memtable is rotated out, the test cuts the
// power, kills the writer, and opens the backing directory directly: every
// acknowledged key must be there, whole. It repeats on the same directory.
// With Badger's Sync alone, which syncs the active memtable's log and not
// the one rotated out, this loses acknowledged keys. (The store's own
// power-loss test, in package memory, writes too little to rotate one.)
func TestPowerLossWhileMemtablesRotate(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes; skipped with -short")
	}
	dir, mnt := t.TempDir(), t.TempDir()
	var acked []string
	rotations := 0
	for trial := range *powerlossTrials {
		fsys, err := lazyfs.Mount(dir, mnt)
		if errors.Is(err, lazyfs.ErrUnavailable) {
			if os.Getenv("HERKEN_REQUIRE_EXTERNAL") != "" {
				t.Fatalf("FUSE is required (HERKEN_REQUIRE_EXTERNAL is set): %v (apt-get install -y fuse3; run as root)", err)
			}
			t.Skipf("FUSE is not available here, so power loss cannot be simulated: %v", err)
		}
		require.NoError(t, err)
		keys, rotated := powerlossTrial(t, fsys, mnt, trial)
		require.NoError(t, fsys.Unmount(), "trial %d", trial)
		acked = append(acked, keys...)
		rotations += rotated

		db, err := Open(Options{Dir: dir, SyncWrites: true, MemTableSize: powerlossMemTable})
		require.NoError(t, err, "trial %d: open after the power cut", trial)
		tx := db.Begin(false)
		lost := 0
		for _, k := range acked {
			err := tx.Get([]byte(k), func(v []byte) error {
				if !bytes.Equal(v, powerlossValueOf(k)) {
					return fmt.Errorf("%s: the value read back differs", k)
				}
				return nil
			})
			if errors.Is(err, ErrNotFound) {
				lost++
				continue
			}
			require.NoError(t, err, "trial %d", trial)
		}
		tx.Discard()
		require.NoError(t, db.Close())
		require.Zero(t, lost, "trial %d: acknowledged and lost, of %d acknowledged", trial, len(acked))
	}
	t.Logf("%d power cuts, %d memtable rotations before them, %d acknowledged keys: nothing lost", *powerlossTrials, rotations, len(acked))
}

// powerlossTrial runs the writer on mnt, cuts the power at a random moment
// in the 50 ms after it first sees a memtable rotated out (while that
// memtable is being flushed to a table), and returns the keys the writer
// acknowledged and how many memtables it saw rotated out.
func powerlossTrial(t *testing.T, fsys *lazyfs.FS, mnt string, trial int) (acked []string, rotated int) {
	t.Helper()
	cmd := exec.Command(os.Args[0]) // TestMain makes it the writer
	cmd.Env = append(os.Environ(), "HERKEN_KV_POWERLOSS_DIR="+mnt, fmt.Sprintf("HERKEN_KV_POWERLOSS_TRIAL=%d", trial))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var cutAt <-chan time.Time
	cut := false
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				require.True(t, cut, "trial %d: the writer ended before the cut: %s", trial, stderr.String())
				return acked, rotated
			}
			if k, ok := strings.CutPrefix(l, "ack "); ok {
				acked = append(acked, k)
			}
			if l == "rotated" {
				rotated++
				if rotated == 1 && !cut {
					cutAt = time.After(time.Duration(rand.Int64N(int64(50 * time.Millisecond))))
				}
			}
		case <-cutAt:
			fsys.Cut() // first, so that nothing after it persists
			require.NoError(t, cmd.Process.Kill())
			cut, cutAt = true, nil
			deadline.Reset(time.Minute)
		case <-deadline.C:
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("trial %d: in a minute the writer acknowledged %d keys and rotated %d memtables, and did not end (cut: %v): %s", trial, len(acked), rotated, cut, stderr.String())
		}
	}
}

// powerlossValueOf returns the value of key: random bytes, so that
// compression does not shrink the tables that memtables are flushed to,
// and the flush takes the time a real one takes.
func powerlossValueOf(key string) []byte {
	h := fnv.New64a()
	h.Write([]byte(key))
	rng := rand.NewChaCha8([32]byte(bytes.Repeat(binary.BigEndian.AppendUint64(nil, h.Sum64()), 4)))
	v := make([]byte, powerlossValue)
	rng.Read(v)
	return v
}

// powerlossWriter commits keys with large values from four goroutines until
// it is killed, printing each key once Durable returned after its commit,
// and "rotated" each time a memtable log appears.
func powerlossWriter(dir, trial string) {
	db, err := Open(Options{Dir: dir, SyncWrites: true, MemTableSize: powerlossMemTable})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex // guards stdout and logs
	logs := map[string]bool{}
	for g := range 4 {
		go func() {
			for n := 0; ; n++ {
				k := fmt.Sprintf("t%s-%d-%d", trial, g, n)
				tx := db.Begin(true)
				err := tx.Set([]byte(k), powerlossValueOf(k))
				if err == nil {
					err = tx.Commit()
				}
				tx.Discard()
				if err == nil {
					err = db.Durable()
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "write:", err)
					continue
				}
				mu.Lock()
				fmt.Printf("ack %s\n", k)
				if names, err := os.ReadDir(dir); err == nil {
					for _, e := range names {
						if strings.HasSuffix(e.Name(), ".mem") && !logs[e.Name()] {
							if len(logs) > 0 {
								fmt.Println("rotated")
							}
							logs[e.Name()] = true
						}
					}
				}
				mu.Unlock()
			}
		}()
	}
	select {}
}

// TestMain runs powerlossWriter, instead of the tests, in the child
// processes that TestPowerLossWhileMemtablesRotate starts.
func TestMain(m *testing.M) {
	if dir := os.Getenv("HERKEN_KV_POWERLOSS_DIR"); dir != "" {
		powerlossWriter(dir, os.Getenv("HERKEN_KV_POWERLOSS_TRIAL"))
		return
	}
	os.Exit(m.Run())
}
