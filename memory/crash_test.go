//go:build !wasip1

package memory_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
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
// SIGKILL at a random moment, reopens the store, and checks that it opens,
// that its invariants hold, and that every acknowledged write is there. It
// repeats on the same directory.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes; skipped with -short")
	}
	dir := t.TempDir()
	var acks []string
	checked := 0
	for trial := range *crashTrials {
		cmd := exec.Command(os.Args[0]) // TestMain makes it the writer
		cmd.Env = append(os.Environ(), "HERKEN_CRASH_DIR="+dir, fmt.Sprintf("HERKEN_CRASH_TRIAL=%d", trial), fmt.Sprintf("HERKEN_CRASH_SYNC=%v", *crashSync))
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Wait until it writes, then kill it at a random moment.
		var trialAcks []string
		deadline := time.After(time.Duration(150+rand.IntN(600)) * time.Millisecond)
	collect:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break collect
				}
				if strings.HasPrefix(l, "ack ") {
					trialAcks = append(trialAcks, l)
				}
			case <-deadline:
				require.NoError(t, cmd.Process.Kill())
				deadline = nil
			}
		}
		_ = cmd.Wait()
		acks = append(acks, trialAcks...)
		require.NotEmpty(t, trialAcks, "trial %d: the writer acknowledged nothing before it was killed", trial)

		ctx := context.Background()
		s, err := memory.Open(ctx, memory.DefaultOptions(dir))
		require.NoError(t, err, "trial %d: the store must open after a crash", trial)
		require.NoError(t, s.Check(ctx), "trial %d: invariants after a crash", trial)
		tokens := histories(t, s, acks)
		for _, a := range acks {
			checkAck(t, s, a, tokens)
		}
		checked += len(acks)
		require.NoError(t, s.Close())
	}
	t.Logf("%d trials (sync writes %v), %d acknowledged writes, %d checks after crashes: nothing lost", *crashTrials, *crashSync, len(acks), checked)
}

// histories returns the contact summaries and fact keys in the histories of
// every customer the acknowledgements name. A write to a merged customer
// goes to the history of the customer it was merged into.
func histories(t *testing.T, s *memory.Store, acks []string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	tokens := map[string]bool{}
	for _, a := range acks {
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
	os.Exit(m.Run())
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
				switch op := rng.IntN(10); {
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
				default:
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
