//go:build !wasip1

package memory_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

var (
	crashTrials = flag.Int("crash.trials", 4, "how many times TestCrashLosesNothingAcknowledged kills its writer")
	crashSync   = flag.Bool("crash.sync", true, "whether the writer of TestCrashLosesNothingAcknowledged uses sync writes (a process crash loses nothing either way)")
)

// TestCrashLosesNothingAcknowledged runs a writer in a child process that
// records contacts, remembers facts, makes customers and merges them, with
// sync writes, and reports every acknowledged write. The test kills it with
// SIGKILL at a random moment after its first acknowledged write, reopens
// the store, and checks that it opens the first time, that its invariants
// hold, and that every acknowledged write is there. It repeats on the same
// directory.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes; skipped with -short")
	}
	dir := t.TempDir()
	var acks []string
	var r reopens
	for trial := range *crashTrials {
		acks = append(acks, writerTrial(t, dir, trial, *crashSync, 600*time.Millisecond, func(p *os.Process) {
			require.NoError(t, p.Kill())
		})...)
		r.check(t, dir, trial, acks)
	}
	t.Logf("%d trials (sync writes %v), %d acknowledged writes, %d checks after crashes: nothing lost; %d failed opens, %d repaired",
		*crashTrials, *crashSync, len(acks), r.checked, r.failed, r.repaired)
	require.Zero(t, r.failed, "opens after a crash that failed the first time")
}

// writerTrial runs the crash writer (crashWriter) in a child process on dir
// and returns the writes it acknowledged. At a random moment within the
// given time after its first acknowledged write, it calls crash, which must
// end the writer; it then collects what the writer printed before it ended.
// It fails the test if the writer acknowledges nothing within a minute, or
// does not end within a minute of the crash.
func writerTrial(t *testing.T, dir string, trial int, sync bool, within time.Duration, crash func(*os.Process)) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0]) // TestMain makes it the writer
	cmd.Env = append(os.Environ(), "HERKEN_CRASH_DIR="+dir, fmt.Sprintf("HERKEN_CRASH_TRIAL=%d", trial), fmt.Sprintf("HERKEN_CRASH_SYNC=%v", sync))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &capped{max: 16 << 10}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var acks []string
	var crashAt <-chan time.Time // set at the first acknowledged write
	crashed := false
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
collect:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break collect
			}
			if !strings.HasPrefix(l, "ack ") {
				continue
			}
			acks = append(acks, l)
			if len(acks) == 1 && !crashed {
				crashAt = time.After(time.Duration(rand.Int64N(int64(within))))
			}
		case <-crashAt:
			crash(cmd.Process)
			crashed, crashAt = true, nil
			deadline.Reset(time.Minute)
		case <-deadline.C:
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if crashed {
				t.Fatalf("trial %d: the writer did not end within a minute of the crash", trial)
			}
			t.Fatalf("trial %d: the writer acknowledged %d writes in a minute; stderr: %s", trial, len(acks), stderr)
		}
	}
	_ = cmd.Wait()
	if !crashed {
		t.Fatalf("trial %d: the writer ended before the crash, after %d acknowledged writes; stderr: %s", trial, len(acks), stderr)
	}
	return acks
}

// reopens reopens a store after crashes and checks it.
type reopens struct {
	checked  int // acknowledged writes checked, over all reopens
	failed   int // opens that failed the first time
	repaired int // repairs the store reported at Warn while opening
}

// check opens the store in dir after trial's crash, once, and checks that
// it opens, that its invariants hold and that every acknowledged write is
// there. An open that fails is a failure of the trial, counted; the test
// then opens a second time, to go on.
func (r *reopens) check(t *testing.T, dir string, trial int, acks []string) {
	t.Helper()
	ctx := context.Background()
	var logs bytes.Buffer
	opts := memory.DefaultOptions(dir).WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	s, err := memory.Open(ctx, opts)
	if err != nil {
		r.failed++
		t.Errorf("trial %d: the store must open the first time after a crash: %v", trial, err)
		s, err = memory.Open(ctx, opts)
		require.NoError(t, err, "trial %d: a second open", trial)
	}
	defer s.Close()
	r.repaired += strings.Count(logs.String(), "removed an empty log")
	require.NoError(t, s.Check(ctx), "trial %d: invariants after a crash", trial)
	tokens := histories(t, s, acks)
	for _, a := range acks {
		checkAck(t, s, a, tokens)
	}
	r.checked += len(acks)
	require.NoError(t, s.Close())
}

// capped keeps the first max bytes written to it, and counts the rest.
type capped struct {
	max     int
	buf     bytes.Buffer
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	n := min(len(p), c.max-c.buf.Len())
	c.buf.Write(p[:n])
	c.dropped += len(p) - n
	return len(p), nil
}

func (c *capped) String() string {
	if c.dropped > 0 {
		return fmt.Sprintf("%s... (%d bytes more)", c.buf.String(), c.dropped)
	}
	return c.buf.String()
}

// histories returns the contact summaries and fact keys in the histories of
// every customer the acknowledgements name, and, under "value:" and the key,
// the fact keys whose value is still there. A write to a merged customer
// goes to the history of the customer it was merged into.
func histories(t *testing.T, s *memory.Store, acks []string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	tokens := map[string]bool{}
	for _, a := range acks {
		if strings.Fields(a)[1] == "forgotten" {
			continue
		}
		for _, f := range strings.Fields(a)[2:] {
			if len(f) != 26 || seen[f] {
				continue
			}
			seen[f] = true
			h, err := s.History(context.Background(), memory.CustomerID(f))
			require.NoError(t, err, a)
			for _, e := range h {
				if e.Contact != nil {
					tokens[e.Contact.Summary] = true
				}
				if e.Fact != nil {
					tokens[e.Fact.Key] = true
					if e.Fact.Value != "" {
						tokens["value:"+e.Fact.Key] = true
					}
				}
			}
		}
	}
	return tokens
}

// checkAck checks one acknowledged write in the reopened store.
func checkAck(t *testing.T, s *memory.Store, ack string, tokens map[string]bool) {
	t.Helper()
	ctx := context.Background()
	f := strings.Fields(ack)
	switch f[1] {
	case "customer": // ack customer <id> <email>
		id, err := s.Lookup(ctx, memory.Email(f[3]))
		require.NoError(t, err, ack)
		b, err := s.Brief(ctx, memory.CustomerID(f[2]), memory.BriefQuery{})
		require.NoError(t, err, ack)
		require.Equal(t, b.Customer, id, ack)
	case "contact", "fact": // ack contact|fact <id> <token>
		require.True(t, tokens[f[3]], "acknowledged and lost: %s", ack)
	case "forgotten": // ack forgotten <id> <email>
		_, err := s.Lookup(ctx, memory.Email(f[3]))
		require.ErrorIs(t, err, memory.ErrNotFound, "forgotten and found again: %s", ack)
		_, err = s.Brief(ctx, memory.CustomerID(f[2]), memory.BriefQuery{})
		require.ErrorIs(t, err, memory.ErrNotFound, "forgotten and found again: %s", ack)
	case "unremembered", "expiring": // ack unremembered|expiring <id> <key>
		require.True(t, tokens[f[3]], "acknowledged and lost: %s", ack)
		require.False(t, tokens["value:"+f[3]], "erased and still there: %s", ack)
	case "merge": // ack merge <into> <from>
		a, err := s.Brief(ctx, memory.CustomerID(f[2]), memory.BriefQuery{})
		require.NoError(t, err, ack)
		b, err := s.Brief(ctx, memory.CustomerID(f[3]), memory.BriefQuery{})
		require.NoError(t, err, ack)
		require.Equal(t, a.Customer, b.Customer, "merged and not one: %s", ack)
	}
}

// TestMain runs the writer of TestCrashLosesNothingAcknowledged, instead of
// the tests, in the child processes that test starts.
func TestMain(m *testing.M) {
	if dir := os.Getenv("HERKEN_CRASH_DIR"); dir != "" {
		crashWriter(dir, os.Getenv("HERKEN_CRASH_TRIAL"))
		return
	}
	if dsn := os.Getenv("HERKEN_PG_WRITER"); dsn != "" {
		pgWriter(dsn)
		return
	}
	code := m.Run()
	stopPostgres()
	os.Exit(code)
}

// crashWriter writes until it is killed, printing a line for each write
// the store acknowledged.
func crashWriter(dir, trial string) {
	ctx := context.Background()
	s, err := memory.Open(ctx, memory.DefaultOptions(dir).WithSyncWrites(os.Getenv("HERKEN_CRASH_SYNC") != "false"))
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex // guards ids and stdout
	var ids []memory.CustomerID
	ack := func(format string, args ...any) {
		mu.Lock()
		fmt.Printf("ack "+format+"\n", args...) // one write(2) a line
		mu.Unlock()
	}
	pick := func(rng *rand.Rand) (memory.CustomerID, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(ids) == 0 {
			return "", false
		}
		return ids[rng.IntN(len(ids))], true
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
			for n := 0; ; n++ {
				token := fmt.Sprintf("t%s-%d-%d", trial, g, n)
				id, ok := pick(rng)
				switch op := rng.IntN(13); {
				case !ok || op == 0:
					email := token + "@example.com"
					r, err := s.Recognize(ctx, memory.Email(email).AsVerified())
					if err != nil {
						fmt.Fprintln(os.Stderr, "recognize:", err)
						continue
					}
					mu.Lock()
					ids = append(ids, r.Customer)
					mu.Unlock()
					ack("customer %s %s", r.Customer, email)
				case op <= 5:
					if _, err := s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelChat, Summary: token}); err == nil {
						ack("contact %s %s", id, token)
					}
				case op <= 8:
					if err := s.Remember(ctx, id, memory.Fact{Key: "k." + strings.ReplaceAll(token, "-", "."), Value: "v"}); err == nil {
						ack("fact %s %s", id, "k."+strings.ReplaceAll(token, "-", "."))
					}
				case op == 10:
					// A customer of its own, forgotten.
					email := token + "-gone@example.com"
					r, err := s.Recognize(ctx, memory.Email(email).AsVerified())
					if err == nil {
						err = s.Remember(ctx, r.Customer, memory.Fact{Key: "shipping.street", Value: "gone " + token})
					}
					if err == nil {
						_, err = s.Forget(ctx, r.Customer)
					}
					if err == nil {
						ack("forgotten %s %s", r.Customer, email)
					}
				case op == 11:
					key := "u." + strings.ReplaceAll(token, "-", ".")
					err := s.Remember(ctx, id, memory.Fact{Key: key, Value: "secret " + token})
					if err == nil {
						err = s.ForgetFact(ctx, id, key)
					}
					if err == nil {
						ack("unremembered %s %s", id, key)
					}
				case op == 12:
					key := "x." + strings.ReplaceAll(token, "-", ".")
					if err := s.Remember(ctx, id, memory.Fact{Key: key, Value: "brief " + token, Retention: time.Millisecond}); err == nil {
						ack("expiring %s %s", id, key)
					}
				case op == 9:
					from, _ := pick(rng)
					if _, err := s.Merge(ctx, id, from, "crash test"); err == nil {
						ack("merge %s %s", id, from)
					} else if !errors.Is(err, memory.ErrInvalidInput) && !errors.Is(err, memory.ErrLimit) {
						fmt.Fprintln(os.Stderr, "merge:", err)
					}
				}
			}
		}()
	}
	wg.Wait()
}
