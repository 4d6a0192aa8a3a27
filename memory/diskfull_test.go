//go:build linux

package memory_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// TestDiskFull fills a store on a small tmpfs that it mounts itself, and
// checks that a full disk is an error, not a death:
//
//   - writes fail with ErrDiskFull, bounded in count and time, and the
//     writing process lives, through the engine's background work and Close;
//   - once space is freed (a filler file the test placed is deleted), writes
//     succeed again in the same process;
//   - Open on the full disk returns ErrDiskFull, saying how much is free and
//     needed;
//   - once the filler of the full disk is gone, leaving what the store kept
//     when it refused, the store opens, its invariants hold, every write
//     acknowledged before is there (and no refused draft replaced an
//     acknowledged one), and once the tmpfs grows, writes succeed again.
//
// The store runs in child processes (this test binary, with
// HERKEN_DISKFULL_PHASE set), so that a regression that lets the engine
// write into a full disk through its memory maps, which kills the process
// with SIGBUS, fails the test with that signal instead of crashing it.
func TestDiskFull(t *testing.T) {
	if phase := os.Getenv("HERKEN_DISKFULL_PHASE"); phase != "" {
		diskFullChild(t, phase)
		return
	}
	for _, tc := range []struct {
		name     string
		size     int64 // of the tmpfs
		memTable int64 // 0: the engine's default
		short    bool  // runs with -short and -race
	}{
		// The default store: its 64 MiB memtable never fills on 24 MiB,
		// and its log is written through a memory map.
		{name: "default store on 24 MiB", size: 24 << 20, short: true},
		// Memtables rotate and flush to tables.
		{name: "8 MiB memtables on 48 MiB", size: 48 << 20, memTable: 8 << 20, short: true},
		// Enough tables for compactions.
		{name: "8 MiB memtables on 160 MiB", size: 160 << 20, memTable: 8 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && !tc.short {
				t.Skip("fills 160 MiB; skipped with -short")
			}
			if raceEnabled && !tc.short {
				t.Skip("fills 160 MiB, which the race detector makes take a minute; runs without -race (as in .ci/run)")
			}
			testDiskFull(t, tc.size, tc.memTable)
		})
	}
}

func testDiskFull(t *testing.T, size, memTable int64) {
	mnt := mountTmpfs(t, size)
	dir := filepath.Join(mnt, "store")
	acks := filepath.Join(t.TempDir(), "acks") // off the tmpfs
	filler := filepath.Join(mnt, "filler")
	require.NoError(t, fill(filler, size/6), "placing the filler")

	child := func(phase string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDiskFull$", "-test.v")
		cmd.Env = append(os.Environ(), "HERKEN_DISKFULL_PHASE="+phase, "HERKEN_DISKFULL_DIR="+dir,
			"HERKEN_DISKFULL_ACKS="+acks, "HERKEN_DISKFULL_FILLER="+filler, "HERKEN_DISKFULL_MNT="+mnt,
			fmt.Sprintf("HERKEN_DISKFULL_MEMTABLE=%d", memTable), fmt.Sprintf("HERKEN_DISKFULL_SIZE=%d", size))
		out, err := cmd.CombinedOutput()
		// The Go runtime turns a fault in a mapping into a crash with
		// exit status 2 and this message.
		if i := strings.Index(string(out), "signal SIGBUS"); i >= 0 {
			t.Fatalf("%s: the store's process died of SIGBUS: a full disk must be an error, not a death (%v)\n%s",
				phase, err, out[i:min(len(out), i+4000)])
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Fatalf("%s: the store's process died of %v\n%s", phase, ws.Signal(), tail(out))
			}
		}
		require.NoError(t, err, "%s:\n%s", phase, tail(out))
		return string(out)
	}

	out := child("fill")
	n := countLines(t, acks)
	t.Logf("fill: %d writes acknowledged; %s; after Close: %s", n, grepLine(out, "full:"), grepLine(out, "files:"))
	require.Contains(t, out, "refilled:", "writes did not succeed again after space was freed")

	// Fill what is left, then Open must refuse.
	_ = fill(filepath.Join(mnt, "rest"), size)
	out = child("open")
	t.Logf("open on the full disk: %s", grepLine(out, "refused:"))

	require.NoError(t, os.Remove(filepath.Join(mnt, "rest")))
	out = child("check")
	t.Logf("check: %s", grepLine(out, "checked:"))
}

// diskFullChild runs one phase of TestDiskFull in the child process.
func diskFullChild(t *testing.T, phase string) {
	dir, acks := os.Getenv("HERKEN_DISKFULL_DIR"), os.Getenv("HERKEN_DISKFULL_ACKS")
	var memTable, size int64
	_, err := fmt.Sscan(os.Getenv("HERKEN_DISKFULL_MEMTABLE"), &memTable)
	require.NoError(t, err)
	_, err = fmt.Sscan(os.Getenv("HERKEN_DISKFULL_SIZE"), &size)
	require.NoError(t, err)
	draftMax := int(size >> 10)
	if raceEnabled {
		draftMax *= 4 // fewer, larger writes: the race detector slows each write more than its bytes
	}
	opts := memory.DefaultOptions(dir)
	if memTable > 0 {
		opts = opts.WithMemTableSize(memTable)
	}
	ctx := context.Background()
	switch phase {
	case "fill":
		s, err := memory.Open(ctx, opts)
		require.NoError(t, err)
		f, err := os.OpenFile(acks, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		require.NoError(t, err)
		defer f.Close()
		w := &diskFullWriter{s: s, acks: f, draftMax: draftMax}
		full := w.fillUp(t)
		fmt.Println("full:", full)
		require.Regexp(t, freeAndNeeded, full.Error())

		// Free the filler's space: writes succeed again.
		require.NoError(t, os.Remove(os.Getenv("HERKEN_DISKFULL_FILLER")))
		require.NoError(t, w.write(0, rand.New(rand.NewPCG(0, 0))), "a write after space was freed")
		fmt.Println("refilled:", w.fillUp(t))
		require.NoError(t, s.Close())
		fmt.Println("files:", describeFiles(t, dir))
	case "open":
		s, err := memory.Open(ctx, opts)
		if err == nil {
			s.Close()
		}
		require.ErrorIs(t, err, memory.ErrDiskFull)
		require.Regexp(t, freeAndNeeded, err.Error())
		fmt.Println("refused:", err)
	case "check":
		s, err := memory.Open(ctx, opts)
		require.NoError(t, err)
		require.NoError(t, s.Check(ctx))
		checked := checkDiskFullAcks(t, s, acks)
		// The store opens with room for its background work, not
		// necessarily for writes: grow the tmpfs.
		w := &diskFullWriter{s: s, acks: nopWriter{}, draftMax: draftMax}
		rng := rand.New(rand.NewPCG(1, 1))
		if err := w.write(0, rng); err != nil {
			require.ErrorIs(t, err, memory.ErrDiskFull)
		}
		mnt := os.Getenv("HERKEN_DISKFULL_MNT")
		require.NoError(t, syscall.Mount("tmpfs", mnt, "tmpfs", syscall.MS_REMOUNT, fmt.Sprintf("size=%d", 2*size)))
		for range 100 {
			require.NoError(t, w.write(0, rng), "a write after the tmpfs grew")
		}
		require.NoError(t, s.Check(ctx))
		require.NoError(t, s.Close())
		fmt.Printf("checked: %d acknowledged writes there after reopening; 100 new writes succeeded once the tmpfs grew\n", checked)
	}
}

// freeAndNeeded matches what ErrDiskFull's message says.
var freeAndNeeded = regexp.MustCompile(`has \d+ bytes .*free; .* needs \d+ bytes`)

// diskFullWriter writes records and drafts, and appends a line to acks for
// each acknowledged write: "customer <id> <email>", "contact <id> <summary>",
// "fact <id> <key>" or "draft <id> <name> <sha256>".
type diskFullWriter struct {
	s    *memory.Store
	mu   sync.Mutex // guards acks, ids and n
	acks interface{ Write([]byte) (int, error) }
	ids  [][]memory.CustomerID // by goroutine: each writes only its own customers
	n    int

	draftMax int // bytes in a draft, at most
}

func (w *diskFullWriter) ack(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	_, _ = w.acks.Write([]byte(fmt.Sprintf(format, args...) + "\n"))
}

// write makes one write of goroutine g.
func (w *diskFullWriter) write(g int, rng *rand.Rand) error {
	ctx := context.Background()
	w.mu.Lock()
	for len(w.ids) <= g {
		w.ids = append(w.ids, nil)
	}
	ids := w.ids[g]
	token := fmt.Sprintf("g%d.%d.%d", g, w.n, rng.Uint32())
	w.mu.Unlock()
	op := rng.IntN(10)
	if len(ids) == 0 || op == 0 {
		email := token + "@example.com"
		r, err := w.s.Recognize(ctx, memory.Email(email).AsVerified())
		if err != nil {
			return err
		}
		w.mu.Lock()
		w.ids[g] = append(w.ids[g], r.Customer)
		w.mu.Unlock()
		w.ack("customer %s %s", r.Customer, email)
		return nil
	}
	id := ids[rng.IntN(len(ids))]
	switch {
	case op <= 4:
		if _, err := w.s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelChat, Summary: token}); err != nil {
			return err
		}
		w.ack("contact %s %s", id, token)
	case op <= 8:
		if err := w.s.Remember(ctx, id, memory.Fact{Key: "k." + token, Value: "v"}); err != nil {
			return err
		}
		w.ack("fact %s k.%s", id, token)
	default:
		data := make([]byte, 8*(1+rng.IntN(w.draftMax/8))) // random: the engine cannot compress it
		for i := 0; i < len(data); i += 8 {
			binary.LittleEndian.PutUint64(data[i:], rng.Uint64())
		}
		name := fmt.Sprintf("d%d", rng.IntN(3))
		if err := w.s.SaveDraft(ctx, id, name, data); err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		w.ack("draft %s %s %s", id, name, hex.EncodeToString(sum[:]))
	}
	return nil
}

// fillUp writes from four goroutines until each is refused with
// ErrDiskFull, and returns one of those errors. Any other error, or no
// refusal within a bound of writes and time, fails the test.
func (w *diskFullWriter) fillUp(t *testing.T) error {
	const maxWrites, maxTime = 1_000_000, 3 * time.Minute
	deadline := time.Now().Add(maxTime)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for g := range errs {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
			for i := 0; i < maxWrites/len(errs) && time.Now().Before(deadline); i++ {
				if err := w.write(g, rng); err != nil {
					errs[g] = err
					return
				}
			}
			errs[g] = fmt.Errorf("no refusal after %d writes", maxWrites/len(errs))
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, memory.ErrDiskFull)
	}
	return errs[0]
}

// checkDiskFullAcks checks every acknowledged write in s and returns how
// many it checked.
func checkDiskFullAcks(t *testing.T, s *memory.Store, acks string) int {
	ctx := context.Background()
	f, err := os.Open(acks)
	require.NoError(t, err)
	defer f.Close()
	var lines [][]string
	drafts := map[[2]string]string{} // the last acknowledged version of each draft
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.Fields(sc.Text())
		lines = append(lines, l)
		if l[0] == "draft" {
			drafts[[2]string{l[1], l[2]}] = l[3]
		}
	}
	require.NoError(t, sc.Err())
	tokens := map[memory.CustomerID]map[string]bool{}
	for _, l := range lines {
		id := memory.CustomerID(l[1])
		switch l[0] {
		case "customer":
			got, err := s.Lookup(ctx, memory.Email(l[2]))
			require.NoError(t, err, l)
			require.Equal(t, id, got, l)
		case "contact", "fact":
			if tokens[id] == nil {
				h, err := s.History(ctx, id)
				require.NoError(t, err, l)
				tokens[id] = map[string]bool{}
				for _, e := range h {
					if e.Contact != nil {
						tokens[id][e.Contact.Summary] = true
					}
					if e.Fact != nil {
						tokens[id][e.Fact.Key] = true
					}
				}
			}
			require.True(t, tokens[id][l[2]], "acknowledged and lost: %v", l)
		}
	}
	for k, want := range drafts {
		d, err := s.LoadDraft(ctx, memory.CustomerID(k[0]), k[1])
		require.NoError(t, err, k)
		sum := sha256.Sum256(d.Data)
		require.Equal(t, want, hex.EncodeToString(sum[:]), "draft %v is not its last acknowledged version", k)
	}
	return len(lines)
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts
// it when the test ends. Where mounting is refused (not root, no
// CAP_SYS_ADMIN) the test skips, unless HERKEN_REQUIRE_EXTERNAL is set, as
// in CI: then it fails.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		msg := fmt.Sprintf("mounting a %d MiB tmpfs on %s: %v; the test needs root (or CAP_SYS_ADMIN) to mount one", size>>20, dir, err)
		if os.Getenv("HERKEN_REQUIRE_EXTERNAL") != "" {
			t.Fatal(msg + " (HERKEN_REQUIRE_EXTERNAL is set)")
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fill writes a file of up to n bytes, stopping early without error when
// the disk is full.
func fill(name string, n int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<16)
	for n > 0 {
		m, err := f.Write(buf[:min(n, int64(len(buf)))])
		n -= int64(m)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// describeFiles says how many tables and bytes the store's directory holds.
func describeFiles(t *testing.T, dir string) string {
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var tables, bytes int64
	for _, e := range es {
		fi, err := e.Info()
		require.NoError(t, err)
		if filepath.Ext(e.Name()) == ".sst" {
			tables++
		}
		bytes += fi.Sys().(*syscall.Stat_t).Blocks * 512
	}
	return fmt.Sprintf("%d tables, %.1f MiB in %d files", tables, float64(bytes)/(1<<20), len(es))
}

func countLines(t *testing.T, name string) int {
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return strings.Count(string(b), "\n")
}

func grepLine(out, prefix string) string {
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, prefix) {
			return strings.TrimSpace(strings.TrimPrefix(l, prefix))
		}
	}
	return "(no " + strings.TrimSuffix(prefix, ":") + " line)"
}

func tail(out []byte) string {
	if len(out) > 8000 {
		return "…" + string(out[len(out)-8000:])
	}
	return string(out)
}
