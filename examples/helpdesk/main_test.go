package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startDesk runs the help desk without simulated contacts on a free
// loopback port and returns its base URL.
func startDesk(t *testing.T, args ...string) string {
	t.Helper()
	base, _ := startDeskIn(t, t.TempDir(), args...)
	return base
}

// startDeskIn runs the help desk on data folder dir and returns its base
// URL and a function that stops it and waits until it has (also called
// when the test ends).
func startDeskIn(t *testing.T, dir string, args ...string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	out := &syncBuffer{}
	args = append([]string{"-addr", "127.0.0.1:0", "-data", dir, "-simulate=false"}, args...)
	go func() { done <- run(ctx, args, out, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("help desk did not start: %v\n%s", err, out)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return "http://" + addr, stop
}

func post(t *testing.T, url, body string, out any) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		require.NoError(t, json.Unmarshal(b, out), "%s", b)
	}
	return resp.StatusCode
}

func TestOneCustomerAcrossChannels(t *testing.T) {
	base := startDesk(t)
	var first, second inboxItem
	require.Equal(t, 200, post(t, base+"/api/contacts", `{"channel":"email","from":[{"kind":"email","value":"Ada@Example.com"}],"subject":"Broken zipper"}`, &first))
	require.Equal(t, 200, post(t, base+"/api/contacts", `{"channel":"phone","from":[{"kind":"phone","value":"06 12345678"}],"subject":"broken zipper"}`, &second))
	require.Equal(t, first.Customer, second.Customer, "the caller is the emailer")
	require.Equal(t, "Ada Lovelace", second.Name)
	require.False(t, first.Escalated)
	require.True(t, second.Escalated, "the second contact about it escalates")

	var v view
	resp, err := http.Get(base + "/api/customers/" + string(first.Customer))
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	require.True(t, v.Brief.Escalate)
	require.NotNil(t, v.Influence)
	require.Equal(t, 4, v.Influence.Score)
	require.Len(t, v.Customer.Contacts, 2)

	var bad map[string]string
	require.Equal(t, 422, post(t, base+"/api/contacts", `{"channel":"email","from":[{"kind":"email","value":"null"}],"subject":"x"}`, &bad))
	require.Contains(t, bad["error"], "placeholder")
	require.Equal(t, 422, post(t, base+"/api/contacts", `{"channel":"email","from":[],"subject":"x"}`, &bad))
	require.Equal(t, 400, post(t, base+"/api/contacts", `{"nonsense":1}`, &bad))
	require.Equal(t, 404, post(t, base+"/api/customers/aaaaaaaaaaaaaaaaaaaaaaaaaa/forget", `{}`, &bad))
}

func TestSimulationRuns(t *testing.T) {
	base := startDesk(t, "-simulate", "-every", "20ms")
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/api/inbox?show=escalated")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var page inboxPage
		_ = json.NewDecoder(resp.Body).Decode(&page)
		return len(page.Entries) > 0 && page.Entries[0].Escalate
	}, 30*time.Second, 50*time.Millisecond)
}

// TestSimulationIsPaced plays the simulation step by step: a step is one
// contact or one issue solved, never a burst of them; between rounds the
// agents solve issues, one a step, at most resolvesPerBreak in a break;
// and the simulation escalates what it should.
func TestSimulationIsPaced(t *testing.T) {
	ctx := context.Background()
	store, err := memory.Open(ctx, memory.InMemoryOptions().WithDefaultRegion("NL"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	d := newDesk(store)
	require.NoError(t, d.seed(ctx))
	w, err := store.Watch(ctx, memory.EventIssueResolved, memory.EventIssueEscalated, memory.EventPreferenceSet)
	require.NoError(t, err)
	defer w.Close()
	// After each step a mark on a customer of its own: its event comes
	// after every event of the step's writes.
	marker, err := store.Recognize(ctx, memory.Account("test-marker").AsVerified())
	require.NoError(t, err)
	sim := newSimulator(d, 1)
	resolved, escalated, inBreak := 0, 0, 0
	for i := range 4 * len(script) {
		did, err := sim.step(ctx)
		require.NoError(t, err, "step %d", i)
		require.NoError(t, store.SetPreference(ctx, marker.Customer, "step", strconv.Itoa(i)))
		n := 0
		for {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			e, err := w.Next(wctx)
			cancel()
			require.NoError(t, err, "step %d: the mark never came", i)
			if e.Kind == memory.EventPreferenceSet && e.Customer == marker.Customer {
				break
			}
			switch e.Kind {
			case memory.EventIssueResolved:
				n++
			case memory.EventIssueEscalated:
				escalated++
			}
		}
		require.LessOrEqual(t, n, 1, "step %d (%s) solved %d issues", i, did, n)
		resolved += n
		if strings.HasPrefix(did, "resolved") {
			inBreak++
			require.LessOrEqual(t, inBreak, resolvesPerBreak)
		} else {
			inBreak = 0
		}
	}
	require.Positive(t, resolved, "the agents solve issues")
	require.Positive(t, escalated, "repeat contacts escalate")
	require.NoError(t, store.Check(ctx))
}

// TestHelpExitsZero: -h and --help print the usage and exit with status 0,
// as the command itself, not only run; a wrong flag exits 2.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}} {
		var out syncBuffer
		err := run(context.Background(), args, &out, nil)
		require.ErrorIs(t, err, flag.ErrHelp)
		require.Contains(t, out.String(), "Usage: helpdesk")
		require.Contains(t, out.String(), "-data")

		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "HERKEN_HELPDESK_MAIN=1")
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "%v: %s", args, b)
		require.Contains(t, string(b), "Usage: helpdesk")
	}
	cmd := exec.Command(os.Args[0], "-no-such-flag")
	cmd.Env = append(os.Environ(), "HERKEN_HELPDESK_MAIN=1")
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v: %s", err, b)
	require.Equal(t, 2, exit.ExitCode())
	require.Contains(t, string(b), "no-such-flag")
}

// TestInboxRefusesBadInput plays a client that sends the inbox what it
// should not: a forged or garbage cursor, an unknown filter, a bad or huge
// page size. Each gets a clear error that says what was wrong, and the
// inbox is as it was.
func TestInboxRefusesBadInput(t *testing.T) {
	base := startDesk(t)
	for i := range 3 {
		require.Equal(t, 200, post(t, base+"/api/contacts", `{"channel":"email","from":[{"kind":"email","value":"c`+strconv.Itoa(i)+`@example.com"}],"subject":"Question"}`, nil))
	}
	get := func(query string) (int, map[string]any) {
		resp, err := http.Get(base + "/api/inbox" + query)
		require.NoError(t, err)
		defer resp.Body.Close()
		var v map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
		return resp.StatusCode, v
	}
	status, first := get("?limit=2")
	require.Equal(t, 200, status)
	next, _ := first["next"].(string)
	require.NotEmpty(t, next)
	for _, tc := range []struct {
		query  string
		status int
		says   string
	}{
		{"?after=garbage", 422, "queue cursor"},
		{"?after=" + next[:len(next)-2] + "AA", 422, "queue cursor"},
		{"?after=" + next + "&show=escalated", 422, "other filters"},
		{"?after=" + strings.Repeat("A", 4000), 422, "queue cursor"},
		{"?show=everyone", 400, "show must be"},
		{"?limit=lots", 400, "limit must be a number"},
		{"?limit=100000", 422, "queue limit"},
		{"?limit=-1", 422, "queue limit"},
	} {
		status, body := get(tc.query)
		require.Equal(t, tc.status, status, tc.query)
		require.Contains(t, body["error"], tc.says, tc.query)
	}
	status, again := get("?limit=2")
	require.Equal(t, 200, status)
	require.Equal(t, first["entries"], again["entries"], "nothing changed")
	status, rest := get("?limit=2&after=" + next)
	require.Equal(t, 200, status)
	require.Len(t, rest["entries"], 1)
}
