//go:build !wasip1 && unix

package memory_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// TestKilledInstanceLeavesNothingHalfDone runs a second instance of a
// PostgreSQL store in a child process, writing updates of two changes
// while this process writes too, and kills it with SIGKILL at a random
// moment, most likely during a commit. Every update it acknowledged is
// there; the one it had begun is there wholly or not at all; the store is
// consistent; and the killed instance's replication slot goes with it.
func TestKilledInstanceLeavesNothingHalfDone(t *testing.T) {
	ctx := context.Background()
	dsn := postgres(t).NewDatabase(t)
	s, err := memory.Open(ctx, killOptions(dsn))
	require.NoError(t, err)
	defer s.Close()
	id := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer

	cmd := exec.Command(os.Args[0]) // TestMain makes it the writer
	cmd.Env = append(os.Environ(), "HERKEN_PG_WRITER="+dsn)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// This instance writes meanwhile, to the same customer.
	stop := make(chan struct{})
	mine := make(chan []string, 1)
	go func() {
		var acked []string
		defer func() { mine <- acked }()
		for i := range killParentWrites {
			select {
			case <-stop:
				return
			default:
			}
			token := fmt.Sprintf("parent-%d", i)
			if update(ctx, s, id, token) == nil {
				acked = append(acked, token)
			}
		}
	}()

	killAt := 10 + rand.IntN(50)
	acked, tried := map[string]bool{}, map[string]bool{}
	deadline := time.After(time.Minute)
	for len(acked) < killAt {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "the writer ended by itself")
			word, token, _ := strings.Cut(l, " ")
			switch word {
			case "try":
				tried[token] = true
			case "ack":
				acked[token] = true
			default:
				t.Fatalf("the writer: %s", l)
			}
		case <-deadline:
			t.Fatalf("the writer acknowledged %d updates in a minute", len(acked))
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	for l := range lines { // what it printed before it died
		word, token, _ := strings.Cut(l, " ")
		if word == "ack" {
			acked[token] = true
		} else if word == "try" {
			tried[token] = true
		}
	}
	close(stop)
	for _, token := range <-mine {
		acked[token] = true
	}

	facts, prefs := map[string]int{}, map[string]int{} // the update's two contacts
	h, err := s.History(ctx, id)
	require.NoError(t, err)
	for _, e := range h {
		if e.Kind == memory.EventContactRecorded && e.Contact != nil {
			if token, ok := strings.CutSuffix(e.Contact.Summary, " second"); ok {
				prefs[token]++
			} else {
				facts[token]++
			}
		}
	}
	for token := range acked {
		require.Equal(t, 1, facts[token], "acknowledged update %s", token)
		require.Equal(t, 1, prefs[token], "acknowledged update %s", token)
	}
	for token := range tried {
		require.Equal(t, facts[token], prefs[token], "update %s wholly or not at all", token)
		require.LessOrEqual(t, facts[token], 1, "update %s", token)
	}
	require.NoError(t, s.Check(ctx))
	open := 0
	for token := range tried {
		if !acked[token] {
			open++
		}
	}
	t.Logf("killed after %d acknowledged updates of the child; %d begun and not acknowledged", killAt, open)

	// The server notices the dead connection and drops its slot.
	c, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer c.Close(ctx)
	slots := -1
	for end := time.Now().Add(time.Minute); slots != 1; {
		require.NoError(t, c.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'herken_%' AND database = current_database()`).Scan(&slots))
		require.False(t, time.Now().After(end), "%d slots left a minute after the kill", slots)
		if slots != 1 {
			// Another process's state: ask again in a moment.
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// update records two contacts of id with token, in one Update: contacts,
// because the history keeps every one (a fact or preference set again has
// its older value erased).
func update(ctx context.Context, s *memory.Store, id memory.CustomerID, token string) error {
	return s.Update(ctx, id, func(tx *memory.Tx) error {
		if _, err := tx.RecordContact(memory.Contact{Channel: memory.ChannelChat, Summary: token}); err != nil {
			return err
		}
		_, err := tx.RecordContact(memory.Contact{Channel: memory.ChannelEmail, Summary: token + " second"})
		return err
	})
}

// killParentWrites bounds the updates of the test's own instance, and
// killOptions has room in the history and the contacts for all of them
// and the child's.
const killParentWrites = 1000

func killOptions(dsn string) memory.Options {
	lim := memory.DefaultLimits()
	lim.Contacts, lim.History = 2*killParentWrites+400, 1<<20
	return memory.PostgresOptions(dsn).WithDefaultRegion("NL").WithLimits(lim)
}

// pgWriter is the child of TestKilledInstanceLeavesNothingHalfDone: it
// updates the store's one customer until it is killed, printing each
// update before it begins ("try") and once acknowledged ("ack").
func pgWriter(dsn string) {
	ctx := context.Background()
	s, err := memory.Open(ctx, killOptions(dsn))
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	id, err := s.Lookup(ctx, memory.Email("ada@example.com"))
	if err != nil {
		fmt.Println("lookup:", err)
		os.Exit(1)
	}
	for i := range 150 {
		token := fmt.Sprintf("child-%d", i)
		fmt.Println("try", token)
		if err := update(ctx, s, id, token); err == nil {
			fmt.Println("ack", token)
		}
	}
}
