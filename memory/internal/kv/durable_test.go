//go:build !wasip1

package kv

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Durable on an on-disk database syncs the memtable logs it holds and finds
// by number; if the newest went away with none after it, because Badger
// named, numbered or placed its logs otherwise, it would sync nothing and
// acknowledge writes a power cut loses. It must fail instead.
func TestDurableFailsWhenItFindsNoLog(t *testing.T) {
	_, err := openLogs(t.TempDir())
	require.ErrorIs(t, err, errNoLog)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00001.mem"), []byte("x"), 0o600))
	l, err := openLogs(dir)
	require.NoError(t, err)
	defer l.close()
	require.NoError(t, l.sync())
	require.NoError(t, os.Remove(filepath.Join(dir, "00001.mem")))
	require.ErrorIs(t, l.sync(), errNoLog)
	// A successor takes its place: the rounds go on with it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00002.mem"), []byte("y"), 0o600))
	require.NoError(t, l.sync())
	require.Len(t, l.held, 1)
	require.Equal(t, filepath.Join(dir, "00002.mem"), l.held[0].Name())
}

// Durable follows the memtable logs as they rotate: it holds the newest,
// and lets go of the ones before it once synced.
func TestDurableFollowsRotatedLogs(t *testing.T) {
	db, err := Open(Options{Dir: t.TempDir(), SyncWrites: true, MemTableSize: 8 << 20})
	require.NoError(t, err)
	val := make([]byte, 200<<10)
	for i := range 128 {
		tx := db.Begin(true)
		require.NoError(t, tx.Set([]byte{'k', byte(i)}, val))
		require.NoError(t, tx.Commit())
		require.NoError(t, db.Durable())
		require.Len(t, db.logs.held, 1)
	}
	require.Greater(t, db.logs.next, 2, "the memtables rotated")
	mems, err := filepath.Glob(filepath.Join(db.opts.Dir, "*.mem"))
	require.NoError(t, err)
	require.Contains(t, mems, db.logs.held[0].Name(), "the log held is one in the directory")
	require.NoError(t, db.Close())
	require.ErrorIs(t, db.Durable(), ErrClosed)
}

// A round's leader syncs its own round only: the writers that came while
// it synced get their round from one of them, and the leader returns.
func TestDurableLeaderHandsTheNextRoundOn(t *testing.T) {
	var g group
	release := make(chan struct{})
	var started atomic.Int32
	flush := func() error { started.Add(1); <-release; return nil }
	first, second := make(chan error, 1), make(chan error, 1)
	go func() { first <- g.wait(flush) }()
	require.Eventually(t, func() bool { return started.Load() == 1 }, time.Minute, time.Millisecond)
	go func() { second <- g.wait(flush) }()
	require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.next != nil }, time.Minute, time.Millisecond)
	release <- struct{}{} // the first round ends
	require.Eventually(t, func() bool { return len(first) == 1 }, time.Minute, time.Millisecond,
		"the first round's leader did not return while the next round was still to run")
	require.NoError(t, <-first)
	require.Eventually(t, func() bool { return started.Load() == 2 }, time.Minute, time.Millisecond, "nobody led the next round")
	release <- struct{}{}
	require.NoError(t, <-second)
	g.mu.Lock()
	defer g.mu.Unlock()
	require.False(t, g.running, "a leader is left with no round")
}

// Every writer that Durable answers committed before a sync that started
// after its call and finished: many writers at once, commits under way
// counted as the engine counts them.
func TestDurableAnswersAfterASyncThatSawTheCommit(t *testing.T) {
	var g group
	var committed, synced atomic.Int64 // the last commit; the last commit a finished sync had seen start
	flush := func() error {
		seen := committed.Load()
		for range rand.IntN(8) { // the disk: other writers come meanwhile
			runtime.Gosched()
		}
		for {
			old := synced.Load()
			if seen <= old || synced.CompareAndSwap(old, seen) {
				return nil
			}
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				g.committing.Add(1)
				n := committed.Add(1)
				g.committing.Add(-1)
				if err := g.wait(flush); err != nil {
					t.Error(err)
					return
				}
				if got := synced.Load(); got < n {
					t.Errorf("commit %d acknowledged with syncs up to commit %d", n, got)
					return
				}
			}
		})
	}
	wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	require.False(t, g.running)
	require.Nil(t, g.next)
}
