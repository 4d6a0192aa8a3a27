package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/examples/internal/browsertest"
	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

// syncServer serves a page with the plugin on a free loopback port, with
// its store at hand, and stands between the page and the sync API: it can
// refuse every sync, as a network or a server that is down, or answer the
// next ones with chosen failures.
type syncServer struct {
	url   string
	store *memory.Store
	h     *plugin.Handler

	mu       sync.Mutex  // guards the fields below
	down     bool        // every sync answers 503
	faults   []int       // statuses to answer the next syncs with, in order
	answered map[int]int // syncs answered, by status, the handler's own answers
	largest  int64       // the largest body of a sync the handler answered

	synced chan struct{} // a sync was answered by the handler since the last receive
}

func startSyncServer(t *testing.T, opts plugin.Options) *syncServer {
	t.Helper()
	store, err := memory.Open(context.Background(), memory.InMemoryOptions())
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	opts.Secret = []byte("a test secret of at least 32 bytes, not for use")
	h, err := plugin.New(store, opts)
	require.NoError(t, err)
	s := &syncServer{store: store, h: h, answered: map[int]int{}, synced: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>sync</title><p>A page.</p><script src="/herken/herken.js" data-widget="off" defer></script>`)
	})
	mux.Handle("/herken/", http.StripPrefix("/herken", s.front(h)))
	srv := httptest.NewServer(mux) // on 127.0.0.1, a free port
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// front answers syncs as the test says, and counts the handler's answers.
func (s *syncServer) front(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sync" {
			h.ServeHTTP(w, r)
			return
		}
		s.mu.Lock()
		status := 0
		switch {
		case s.down:
			status = http.StatusServiceUnavailable
		case len(s.faults) > 0:
			status, s.faults = s.faults[0], s.faults[1:]
		}
		s.mu.Unlock()
		if status != 0 {
			code := map[int]string{403: "csrf", 413: "too_large", 429: "rate_limited", 500: "internal", 503: "busy"}[status]
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"status":%d,"code":%q,"detail":"made to fail by the test"}`, status, code)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		s.mu.Lock()
		s.answered[rec.status]++
		s.largest = max(s.largest, r.ContentLength)
		s.mu.Unlock()
		select {
		case s.synced <- struct{}{}:
		default: // a wake-up is pending already
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (s *syncServer) set(down bool, faults ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down, s.faults = down, faults
}

func (s *syncServer) answers() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]int{}
	for k, v := range s.answered {
		out[k] = v
	}
	return out
}

// summaries returns how many times each contact summary is in the history
// of the customer whose device the tab is; none before it has one.
func (s *syncServer) summaries(t *testing.T, tab context.Context) map[string]int {
	t.Helper()
	var cookies []*network.Cookie
	do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{s.url}).Do(ctx)
		return err
	}))
	req := httptest.NewRequest("GET", s.url+"/", nil)
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	out := map[string]int{}
	id, err := s.h.Customer(req)
	if err != nil {
		require.ErrorIs(t, err, memory.ErrNotFound)
		return out
	}
	exp, err := s.store.Export(context.Background(), id)
	require.NoError(t, err)
	for _, e := range exp.History {
		if e.Kind == memory.EventContactRecorded {
			out[e.Contact.Summary]++
		}
	}
	return out
}

// waitSummaries waits until the store holds every one of want, each
// exactly once, and nothing else; it fails the test at the deadline.
func (s *syncServer) waitSummaries(t *testing.T, tab context.Context, want []string, within time.Duration) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		got := s.summaries(t, tab)
		missing := 0
		for _, w := range want {
			require.LessOrEqual(t, got[w], 1, "applied twice: %q", w)
			if got[w] == 0 {
				missing++
			}
		}
		if missing == 0 {
			require.Len(t, got, len(want), "changes nobody made")
			return
		}
		// The store changes only when the handler answers a sync.
		select {
		case <-s.synced:
		case <-deadline.C:
			t.Fatalf("after %v, %d of %d changes have not reached the store (answers: %v)", within, missing, len(want), s.answers())
		}
	}
}

// contacts makes the page record n contacts, summaries prefix 0 to n-1
// (padded with pad), from as many calls at once; it returns the summaries.
func contacts(t *testing.T, tab context.Context, prefix string, n int, pad string) []string {
	t.Helper()
	var made int
	eval(t, tab, `Promise.all(Array.from({length: `+fmt.Sprint(n)+`}, (_, i) => herken.contact({channel: "web", summary: `+jsString(prefix)+` + i + `+jsString(pad)+`}))).then((r) => r.length)`, &made)
	require.Equal(t, n, made)
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(prefix, i, pad)
	}
	return out
}

// TestBrowserTwoTabsLoseNoChange: two tabs of one visitor on one page make
// changes at the same time, each syncing as it goes. Every change reaches
// the store, once.
func TestBrowserTwoTabsLoseNoChange(t *testing.T) {
	s := startSyncServer(t, plugin.Options{})
	first := newVisitor(t)
	do(t, first, chromedp.Navigate(s.url+"/"), ready())
	second := browsertest.NewTab(t, first)
	do(t, second, chromedp.Navigate(s.url+"/"), ready())

	const n = 60
	var want [2][]string
	var wg sync.WaitGroup
	for i, tab := range []context.Context{first, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want[i] = contacts(t, tab, fmt.Sprintf("tab %d, change ", i+1), n, "")
		}()
	}
	wg.Wait()
	for _, tab := range []context.Context{first, second} {
		var ok bool
		eval(t, tab, `herken.sync()`, &ok)
		require.True(t, ok, "sync")
	}
	s.waitSummaries(t, first, append(want[0], want[1]...), 30*time.Second)

	// Both tabs show every change: they hold the one saved memory.
	for _, tab := range []context.Context{first, second} {
		var contacts int
		eval(t, tab, `herken.brief().then((b) => (b.last_contacts || []).length)`, &contacts)
		require.Positive(t, contacts)
	}
}

// TestBrowserRecoversFromAConflict: a copy of the visitor's memory that
// the worker does not know of (another browser program with the same
// cookie) syncs a change first. The tab's next sync is refused as a
// conflict; the worker renumbers its change and it arrives.
func TestBrowserRecoversFromAConflict(t *testing.T) {
	s := startSyncServer(t, plugin.Options{})
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(s.url+"/"), ready())
	want := contacts(t, tab, "from the tab, before ", 1, "")
	var ok bool
	eval(t, tab, `herken.sync()`, &ok)
	require.True(t, ok)

	// The other copy: the tab's cookie, its own session, and its own
	// change numbered after what it knows, which is nothing.
	var status int
	eval(t, tab, `(async () => {
		const post = (path, csrf, body) => fetch("/herken/" + path, {method: "POST", headers: {"Content-Type": "application/json", "X-Herken-CSRF": csrf}, body: JSON.stringify(body)});
		const s = await (await post("session", "", {})).json();
		const change = {seq: 1, kind: "contact.recorded", contact: {channel: "web", outcome: "neutral", summary: "from another copy"}};
		const c = await (await post("sync", s.csrf, {changes: [change]})).json();
		change.seq = c.applied + 1;
		return (await post("sync", s.csrf, {base: {applied: c.applied, head: c.head}, changes: [change]})).status;
	})()`, &status)
	require.Equal(t, http.StatusOK, status)
	want = append(want, "from another copy")

	want = append(want, contacts(t, tab, "from the tab, after ", 1, "")...)
	eval(t, tab, `herken.sync()`, &ok)
	require.True(t, ok)
	s.waitSummaries(t, tab, want, 30*time.Second)
	require.GreaterOrEqual(t, s.answers()[http.StatusConflict], 2, "the other copy's first try, and the tab's")
}

// TestBrowserThousandOfflineChangesArrive: the visitor makes a thousand
// changes (the most a browser keeps) while the sync API is down, half of
// them large enough that a batch is bounded by bytes before it is by
// count. Once it is back, after a rate limit, a too-large answer, a lost
// session and a server error on the way, every change arrives, once, in
// batches the worker fitted to the limits itself.
func TestBrowserThousandOfflineChangesArrive(t *testing.T) {
	s := startSyncServer(t, plugin.Options{})
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(s.url+"/"), ready())

	s.set(true)
	var want []string
	for i := range 10 {
		pad := ""
		if i >= 5 {
			pad = " " + strings.Repeat("x", 1000) // about 60 such changes fill 64 KiB
		}
		want = append(want, contacts(t, tab, fmt.Sprintf("offline %d.", i), 100, pad)...)
	}
	var ok bool
	eval(t, tab, `herken.sync()`, &ok)
	require.False(t, ok, "the sync API is down")
	require.Empty(t, s.summaries(t, tab), "nothing reached the store")
	var pending int
	eval(t, tab, `herken.snapshot().then((s) => (s.last_contacts || []).length)`, &pending)
	require.Positive(t, pending, "the page still shows them")

	s.set(false, http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusRequestEntityTooLarge, http.StatusForbidden)
	do(t, tab, chromedp.Evaluate(`dispatchEvent(new Event("online"))`, nil))
	s.waitSummaries(t, tab, want, 90*time.Second)
	eval(t, tab, `herken.sync()`, &ok)
	require.True(t, ok)

	got := s.answers()
	s.mu.Lock()
	largest := s.largest
	s.mu.Unlock()
	t.Logf("the handler's answers to syncs, by status: %v; the largest body %d bytes", got, largest)
	for status, n := range got {
		require.Equal(t, http.StatusOK, status, "the handler answered %d %d times: the worker's batches did not fit", status, n)
	}
	require.GreaterOrEqual(t, got[http.StatusOK], 500/200+500/60, "at most 200 changes, and 64 KiB, a batch")
	require.LessOrEqual(t, largest, int64(64<<10))
	require.Greater(t, largest, int64(60<<10), "batches of large changes are bounded by bytes")
}

// TestBrowserDropsWhatCanNeverBeSent: a change the server refuses (a page
// may not record a phone call) and one larger than any sync this server
// takes are dropped, and the page hears of each; the changes around them
// arrive.
func TestBrowserDropsWhatCanNeverBeSent(t *testing.T) {
	s := startSyncServer(t, plugin.Options{MaxBody: 2048})
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(s.url+"/"), ready(),
		chromedp.Evaluate(`window.dropped = []; herken.on("dropped", (d) => dropped.push(d.reason))`, nil))
	want := contacts(t, tab, "before ", 1, "")
	var made bool
	eval(t, tab, `herken.contact({channel: "phone", summary: "a call, as a page cannot record"}).then(() => true)`, &made)
	eval(t, tab, `herken.remember([{key: "notes.long", value: "x".repeat(3000)}]).then(() => true)`, &made)
	want = append(want, contacts(t, tab, "after ", 1, "")...)
	var ok bool
	eval(t, tab, `herken.sync()`, &ok)
	require.True(t, ok)
	s.waitSummaries(t, tab, want, 30*time.Second)
	var dropped []string
	eval(t, tab, `dropped`, &dropped)
	require.ElementsMatch(t, []string{"invalid", "too_large"}, dropped)
	var facts int
	eval(t, tab, `herken.snapshot().then((s) => (s.facts || []).length)`, &facts)
	require.Zero(t, facts, "the page no longer shows what was dropped")
}
