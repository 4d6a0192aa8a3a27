//go:build linux

package kv

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/stretchr/testify/require"
)

const mb = 1 << 20

// k is a Badger key: s with a version.
func k(s string) []byte { return y.KeyWithTs([]byte(s), 1) }

func TestBackground(t *testing.T) {
	sh := shape{compactors: 2, multiplier: 10}
	var l6 []span // 20 tables of 1 MiB: [b000, b009], [b010, b019]…
	for i := range 20 {
		l6 = append(l6, span{size: mb, left: k(fmt.Sprintf("b%02d0", i)), right: k(fmt.Sprintf("b%02d9", i))})
	}
	for _, tc := range []struct {
		name string
		tr   tree
		want int64
	}{
		{name: "empty", want: 0},
		{name: "a log only: its table", tr: tree{logs: 5 * mb}, want: 5 * mb},
		{
			// Level 0 and the logs compact into the base level, L5. The
			// other compactor's largest is the L5 table [a, b149], with the
			// fifteen 1 MiB L6 tables its key range covers: more than the
			// twelve of the next level's largest tables that are assumed
			// where key ranges are unknown, which the table [b15, c] gets.
			name: "level 0, base level and the largest other compaction",
			tr: tree{logs: 3 * mb, levels: [][]span{
				{{size: 8 * mb}, {size: 8 * mb}},
				{}, {}, {}, {},
				{{size: 4 * mb, left: k("a"), right: k("b149")}, {size: 2 * mb, left: k("b15"), right: k("c")}},
				l6,
			}},
			want: (8+8+3)*mb /* L0 */ + 6*mb /* L5 */ + (4+15)*mb,
		},
		{
			name: "never more than the whole tree",
			tr: tree{logs: 1 * mb, levels: [][]span{
				{{size: 8 * mb}},
				{}, {}, {}, {}, {},
				{{size: 2 * mb, left: k("a"), right: k("z")}},
			}},
			want: (1 + 8 + 2) * mb,
		},
		{
			// From the manifest, without key ranges: a table of L5 touches
			// at most multiplier+2 of the next level's largest tables,
			// and no more than the level.
			name: "key ranges unknown",
			tr: tree{levels: [][]span{
				{{size: 64 * mb}},
				{}, {}, {}, {},
				{{size: 4 * mb}, {size: 4 * mb}},
				slices.Repeat([]span{{size: 8 * mb}}, 20),
			}},
			want: 64*mb + 8*mb + (4+12*8)*mb,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, sh.background(tc.tr))
		})
	}
}

func TestCompareKeys(t *testing.T) {
	require.Negative(t, compareKeys(k("a"), k("b")))
	require.Zero(t, compareKeys(k("a"), k("a")))
	// Short keys are not Badger's, but must not panic.
	require.Negative(t, compareKeys([]byte("a"), k("a")))
	require.Empty(t, userKey([]byte("abc")))
}

// openFull opens a database on disk whose guard reads free space from the
// returned variable.
func openFull(t *testing.T) (*Badger, *atomic.Int64) {
	t.Helper()
	db, err := Open(Options{Dir: t.TempDir(), MemTableSize: 8 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	var free atomic.Int64
	free.Store(1 << 40)
	require.NotNil(t, db.room, "statfs works on linux")
	db.room.free = func() (int64, error) { return free.Load(), nil }
	db.room.freeAge = 0 // every commit sees what free says now
	return db, &free
}

func set(db *Badger, key, val string) error {
	tx := db.Begin(true)
	defer tx.Discard()
	if err := tx.Set([]byte(key), []byte(val)); err != nil {
		return err
	}
	return tx.Commit()
}

func TestCommitRefusedWhenDiskFull(t *testing.T) {
	db, free := openFull(t)
	require.NoError(t, set(db, "a", "1"))

	free.Store(512 << 10) // less than the slack for Badger's small files
	err := set(db, "b", "2")
	require.ErrorIs(t, err, ErrDiskFull)
	var e *DiskFullError
	require.True(t, errors.As(err, &e))
	require.Equal(t, int64(512<<10), e.Free)
	require.Greater(t, e.Need, e.Free)
	require.Contains(t, err.Error(), fmt.Sprintf("has %d bytes", e.Free))
	require.Contains(t, err.Error(), fmt.Sprintf("needs %d bytes", e.Need))
	require.Zero(t, db.room.inflight.Load(), "a refused commit holds no room")

	tx := db.Begin(false)
	defer tx.Discard()
	ok, err := tx.Has([]byte("b"))
	require.NoError(t, err)
	require.False(t, ok, "a refused commit wrote nothing")

	free.Store(1 << 40)
	require.NoError(t, set(db, "b", "2"), "writes succeed once space is freed")
	require.Zero(t, db.room.inflight.Load())
}

// The room a commit needs grows with what is committed, until the estimate
// is refreshed from the files.
func TestCommitNeedsRoomForItsLogs(t *testing.T) {
	db, free := openFull(t)
	before := db.room.need(0)
	val := string(bytes.Repeat([]byte("v"), 64<<10))
	for i := range 8 {
		require.NoError(t, set(db, fmt.Sprint(i), val))
	}
	after := db.room.need(0)
	require.GreaterOrEqual(t, after-before, int64(8*64<<10), "eight 64 KiB commits")

	free.Store(after - 1)
	require.ErrorIs(t, set(db, "x", val), ErrDiskFull)
}

func TestOpenRefusedWhenDiskFull(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir, MemTableSize: 8 << 20})
	require.NoError(t, err)
	val := make([]byte, 1000)
	for i := range 1000 {
		_, _ = rand.Read(val) // no compression
		require.NoError(t, set(db, fmt.Sprint(i), string(val)))
	}
	require.NoError(t, db.Close())
	ssts, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	require.NoError(t, err)
	require.NotEmpty(t, ssts, "Close flushes the memtable")
	var tables int64
	for _, f := range ssts {
		tables += fileBytes(f)
	}

	bo := badger.DefaultOptions(dir).WithMemTableSize(8 << 20)
	none := func(string) (int64, error) { return 0, nil }
	err = checkOpen(bo, none)
	require.ErrorIs(t, err, ErrDiskFull)
	var e *DiskFullError
	require.True(t, errors.As(err, &e))
	require.GreaterOrEqual(t, e.Need, tables+filesSlack, "the table Close flushed may be compacted")
	require.Contains(t, err.Error(), "opening the database needs")

	plenty := func(string) (int64, error) { return 1 << 40, nil }
	require.NoError(t, checkOpen(bo, plenty))

	// A new database is checked on the directory it is made in.
	var asked []string
	ask := func(d string) (int64, error) {
		asked = append(asked, d)
		return freeBytes(d)
	}
	require.NoError(t, checkOpen(badger.DefaultOptions(filepath.Join(dir, "new", "db")), ask))
	require.Equal(t, []string{filepath.Join(dir, "new", "db"), filepath.Join(dir, "new"), dir}, asked)
}

func TestMaintenanceRefusedWhenDiskFull(t *testing.T) {
	db, free := openFull(t)
	for i := range 100 {
		require.NoError(t, set(db, fmt.Sprintf("p/%03d", i), "v"))
	}
	var backup bytes.Buffer
	require.NoError(t, db.Backup(&backup, func([]byte) bool { return true }))

	free.Store(0)
	require.ErrorIs(t, db.Compact(), ErrDiskFull)
	require.ErrorIs(t, db.DropPrefixes([]byte("p/")), ErrDiskFull)
	require.ErrorIs(t, db.DeletePrefixes([]byte("p/")), ErrDiskFull)
	require.ErrorIs(t, db.Load(bytes.NewReader(backup.Bytes())), ErrDiskFull)

	free.Store(1 << 40)
	require.NoError(t, db.Compact())
	require.NoError(t, db.DropPrefixes([]byte("p/")))
	require.NoError(t, db.Load(bytes.NewReader(backup.Bytes())))
}

// A commit with room to spare takes a reading of free space up to freeEvery
// old, less what was admitted since; near the limit it reads it afresh.
func TestAdmitTakesARecentReading(t *testing.T) {
	db, free := openFull(t)
	db.room.freeAge = time.Hour
	reads := 0
	db.room.free = func() (int64, error) { reads++; return free.Load(), nil }
	require.NoError(t, set(db, "a", "1"))
	require.Equal(t, 1, reads)
	require.NoError(t, set(db, "b", "1"))
	require.Equal(t, 1, reads, "the reading was recent")

	// Near the limit, the reading is taken afresh, and refuses.
	need := db.room.need(0)
	db.room.lastFree.Store(need + freeSlack)
	free.Store(0)
	require.ErrorIs(t, set(db, "c", "1"), ErrDiskFull)
	require.Equal(t, 2, reads)

	// An old reading is taken afresh.
	free.Store(1 << 40)
	require.NoError(t, set(db, "d", "1"))
	require.Equal(t, 3, reads)
	db.room.lastAt.Store(time.Now().Add(-2 * time.Hour).UnixNano())
	require.NoError(t, set(db, "e", "1"))
	require.Equal(t, 4, reads)
}

// A statfs per commit is the guard's cost on the write path.
func BenchmarkAdmit(b *testing.B) {
	db, err := Open(Options{Dir: b.TempDir()})
	require.NoError(b, err)
	defer db.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := db.room.admit(100); err != nil {
			b.Fatal(err)
		}
		db.room.done(100)
	}
}
