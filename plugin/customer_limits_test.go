package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/memory/memorytest"
	"github.com/herken/herken/plugin"
	"github.com/herken/herken/plugin/wasmhost"
	"github.com/herken/herken/plugin/wire"
)

// wide returns text of n bytes that is as long as text can be in JSON:
// '<' is written \u003c. It starts with i, so that values differ.
func wide(n, i int) string { return memorytest.Wide(n, i) }

// token returns a key of n bytes, different for each i.
func token(n, i int) string { return memorytest.Token(n, i) }

// syncBody is the handler's body limit in these tests: a sync carries the
// most changes it may (200) of the largest kind.
const syncBody = 1 << 20

// limitsEnv serves store with a handler that takes requests as fast as a
// test sends them, and bodies of syncBody, and logs its server errors into
// logs.
func limitsEnv(t *testing.T, s *memory.Store, logs *bytes.Buffer) *env {
	t.Helper()
	h, err := plugin.New(s, plugin.Options{Secret: secret, Rate: rate.Inf, ClaimFloor: -1, MaxBody: syncBody,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, store: s, h: h, srv: srv}
}

// rawPost posts body to the handler as b's browser, and returns the status
// and the answer.
func rawPost(t *testing.T, b *browser, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", b.e.srv.URL+"/"+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Herken-CSRF", b.csrf)
	resp, err := b.c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

// customerOf returns the customer b's device belongs to.
func browserCustomer(t *testing.T, b *browser) memory.CustomerID {
	t.Helper()
	id, err := b.e.h.Customer(browserRequest(t, b))
	require.NoError(t, err)
	return id
}

// syncFacts sends lim.Facts facts from b's browser, every text as long as
// its bound and at its widest in JSON, in syncs of the most the handler
// takes: the customer passes 1 MiB on the way.
func syncFacts(t *testing.T, b *browser, lim memory.Limits) {
	t.Helper()
	expires := time.Now().UTC().Add(365 * 24 * time.Hour).Format(time.RFC3339Nano)
	for seq := 1; seq <= lim.Facts; {
		var changes []string
		for ; seq <= lim.Facts && len(changes) < 200; seq++ {
			i := seq - 1
			changes = append(changes, `{"seq":`+fmt.Sprint(seq)+`,"kind":"fact.remembered","fact":{"key":"`+token(64, i)+
				`","value":"`+wide(4096, i)+`","channel":"`+token(32, i)+`","purpose":"personalization","expires":"`+expires+`"}}`)
		}
		status, out := rawPost(t, b, "sync", []byte(`{"changes":[`+strings.Join(changes, ",")+`]}`))
		if status == http.StatusConflict {
			// Numbered on the store's base, as a worker does after a
			// conflict (the test does not follow the chain).
			var base memory.SyncBase
			require.NoError(t, json.Unmarshal(out, &base))
			based, _ := json.Marshal(base)
			status, out = rawPost(t, b, "sync", []byte(`{"base":`+string(based)+`,"changes":[`+strings.Join(changes, ",")+`]}`))
		}
		require.Equal(t, http.StatusOK, status, "%.300s", out)
	}
}

// fillToTheLimits takes the device's customer, who has its facts, to every
// other limit the browser's part shows, every text as long as its bound and
// at its widest in JSON: identifiers, preferences, consent on MaxChannels
// channels and on none, open issues, last contacts on MaxChannels channels,
// and drafts of the largest size, which stay on the server.
func fillToTheLimits(t *testing.T, s *memory.Store, id memory.CustomerID) {
	t.Helper()
	ctx := context.Background()
	lim := s.Limits()
	_, err := s.Link(ctx, id, memorytest.Accounts(lim.Identifiers-1)...) // the device is one
	require.NoError(t, err)
	require.NoError(t, s.Update(ctx, id, func(tx *memory.Tx) error { return memorytest.Fill(tx, lim) }))
	data := bytes.Repeat([]byte("<"), lim.DraftSize)
	for i := range lim.Drafts {
		require.NoError(t, s.SaveDraft(ctx, id, token(64, i), data))
	}
}

// sameJSON fails unless a and b hold the same JSON, without printing them.
func sameJSON(t *testing.T, a, b []byte, what string) {
	t.Helper()
	var x, y any
	require.NoError(t, json.Unmarshal(a, &x), what)
	require.NoError(t, json.Unmarshal(b, &y), what)
	require.True(t, reflect.DeepEqual(x, y), "%s: %d bytes and %d bytes differ", what, len(a), len(b))
}

// browserForm re-encodes JSON as a browser does (JSON.stringify): '<', '>'
// and '&' as themselves.
func browserForm(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return bytes.TrimSpace(out.Bytes())
}

// TestCustomerAtTheLimitsRoundTrips takes a customer to every documented
// limit, every text at its widest, on each engine, and their browser's part
// through the handler, the module and back: the session's answer (6.8 MB)
// is applied; the module's saved state with every change a Local memory
// keeps, each a fact at its widest (32 MB), loads in a new instance; its
// changes reach the server in syncs that fit the handler's bounds; and the
// module ends as the server is. The module took 1 MiB; the in-memory
// engine answered 500 once the customer passed 1 MiB.
func TestCustomerAtTheLimitsRoundTrips(t *testing.T) {
	if testing.Short() {
		t.Skip("a customer of 40 MB; skipped with -short")
	}
	if raceEnabled {
		// 27 s without the detector, 168 s with it. One goroutine drives
		// it; the handler's and the module's concurrency are the other
		// tests'.
		t.Skip("a customer of 40 MB, which the race detector makes take minutes; runs without -race (as in .ci/run)")
	}
	ctx := context.Background()
	for name, opts := range map[string]memory.Options{
		"disk":   memory.DefaultOptions(t.TempDir()).WithSyncWrites(false),
		"memory": memory.InMemoryOptions(),
	} {
		t.Run(name, func(t *testing.T) {
			s, err := memory.Open(ctx, opts)
			require.NoError(t, err)
			defer s.Close()
			var logs bytes.Buffer
			e := limitsEnv(t, s, &logs)
			b := e.browser()
			start := time.Now()
			phase := func(what string) { t.Logf("%s: %v", what, time.Since(start)); start = time.Now() }
			syncFacts(t, b, s.Limits())
			id := browserCustomer(t, b)
			fillToTheLimits(t, s, id)
			phase("fill")

			// The session's answer, applied by the module.
			status, out := rawPost(t, b, "session", nil)
			require.Equal(t, http.StatusOK, status, "%.300s", out)
			t.Logf("session answer: %d bytes", len(out))
			require.Greater(t, len(out), 6<<20, "the customer is at the limits")
			var session struct {
				Snapshot json.RawMessage `json:"snapshot"`
				Applied  uint64          `json:"applied"`
			}
			require.NoError(t, json.Unmarshal(out, &session))
			// The module's clock stands still, at a time after every
			// change the server has: its own changes are the newest.
			now := time.Now().UTC()
			in := instance(t)
			call(t, in, "configure", map[string]string{"now": now.Format(time.RFC3339Nano)})
			call(t, in, "apply", `{"snapshot":`+string(session.Snapshot)+`,"applied":`+jsonNumber(session.Applied)+`}`)
			sameJSON(t, call(t, in, "snapshot", nil), session.Snapshot, "the module's snapshot and the server's")
			phase("session")

			// Every change a Local memory keeps, each a fact at its widest.
			lim := s.Limits()
			last := 0
			for round := 0; round*lim.Facts < memory.MaxPending; round++ {
				last = round + 1
				var facts []memory.Fact
				for i := range min(lim.Facts, memory.MaxPending-round*lim.Facts) {
					facts = append(facts, memory.Fact{Key: token(64, i), Value: wide(4096, round+1), Channel: memory.ChannelWeb, Purpose: memory.PurposeService})
				}
				call(t, in, "remember", map[string]any{"facts": facts})
			}
			_, err = in.Call(ctx, "remember", []byte(`{"facts":[{"key":"one.more","value":"x","purpose":"service"}]}`))
			var ce *wasmhost.CallError
			require.ErrorAs(t, err, &ce, "the Local memory is full")
			require.Equal(t, "limit", ce.Code)

			phase("remember")
			// Saved and loaded in a new instance, as after a page load.
			state := call(t, in, "save", nil)
			t.Logf("saved state: %d bytes", len(state))
			require.Greater(t, len(state), 28<<20)
			require.LessOrEqual(t, len(state), wire.MaxInput)
			again := instance(t)
			call(t, again, "configure", map[string]string{"now": now.Format(time.RFC3339Nano)})
			call(t, again, "load", []byte(state))
			sameJSON(t, call(t, again, "save", nil), state, "the state loaded and saved again")
			sameJSON(t, call(t, again, "brief", nil), call(t, in, "brief", nil), "the briefs")

			phase("save and load")
			// The changes, synced in bodies the handler takes, as the
			// browser sends them.
			var pending []json.RawMessage
			require.NoError(t, json.Unmarshal(call(t, again, "pending", nil), &pending))
			require.Len(t, pending, memory.MaxPending)
			var applied uint64
			for conflicts := 0; ; {
				pending = nil
				require.NoError(t, json.Unmarshal(call(t, again, "pending", nil), &pending))
				if len(pending) == 0 {
					break
				}
				var batch [][]byte
				size := 0
				for len(pending) > 0 && len(batch) < 200 {
					c := browserForm(t, pending[0])
					if size+len(c)+64 > syncBody {
						break
					}
					batch, pending, size = append(batch, c), pending[1:], size+len(c)+1
				}
				base := call(t, again, "synced", nil)
				status, out := rawPost(t, b, "sync", []byte(`{"base":`+string(base)+`,"changes":[`+string(bytes.Join(batch, []byte(",")))+`]}`))
				if status == http.StatusConflict {
					// The session's answer gave no chain head: renumbered
					// on the store's base once, as the worker does.
					conflicts++
					require.Equal(t, 1, conflicts, "%.300s", out)
					var base memory.SyncBase
					require.NoError(t, json.Unmarshal(out, &base))
					call(t, again, "renumber", base)
					continue
				}
				require.Equal(t, http.StatusOK, status, "%.300s", out)
				var res struct {
					Snapshot json.RawMessage `json:"snapshot"`
					Applied  uint64          `json:"applied"`
				}
				require.NoError(t, json.Unmarshal(out, &res))
				require.Greater(t, res.Applied, applied)
				applied = res.Applied
				call(t, again, "apply", `{"snapshot":`+string(res.Snapshot)+`,"applied":`+jsonNumber(res.Applied)+`}`)
			}
			phase("sync")
			require.JSONEq(t, `[]`, string(call(t, again, "pending", nil)), "every change reached the server")
			snap, err := s.Snapshot(ctx, id)
			require.NoError(t, err)
			sameJSON(t, call(t, again, "snapshot", nil), wire.AppendSnapshot(nil, snap), "the module's snapshot and the server's")
			for _, f := range snap.Facts {
				if f.Key == token(64, 0) {
					require.True(t, f.Value == wide(4096, last), "the last change won")
				}
			}
			require.Empty(t, logs.String(), "no server errors")
		})
	}
}

// TestHandlerRefusesLimitsBrowsersCannotHold: a store whose limits let a
// customer's snapshot pass what the module takes gets no handler.
func TestHandlerRefusesLimitsBrowsersCannotHold(t *testing.T) {
	lim := memory.DefaultLimits()
	lim.Facts = 700
	s, err := memory.Open(context.Background(), memory.InMemoryOptions().WithLimits(lim))
	require.NoError(t, err)
	defer s.Close()
	_, err = plugin.New(s, plugin.Options{Secret: secret})
	require.ErrorContains(t, err, "too high for browsers")

	lim.Facts = 512 // twice the default: still fits
	s2, err := memory.Open(context.Background(), memory.InMemoryOptions().WithLimits(lim))
	require.NoError(t, err)
	defer s2.Close()
	_, err = plugin.New(s2, plugin.Options{Secret: secret})
	require.NoError(t, err)
}

// TestHandlerNeverSendsWhatTheModuleCannotTake: a customer who passed the
// limits before they were lowered has a snapshot larger than the module
// takes with its changes; the handler answers a problem instead, and logs
// it, and stays up.
func TestHandlerNeverSendsWhatTheModuleCannotTake(t *testing.T) {
	if testing.Short() {
		t.Skip("a customer of 18 MB; skipped with -short")
	}
	ctx := context.Background()
	dir := t.TempDir()
	lim := memory.DefaultLimits()
	lim.Facts = 700
	s, err := memory.Open(ctx, memory.DefaultOptions(dir).WithSyncWrites(false).WithLimits(lim))
	require.NoError(t, err)
	dev := memory.Device("d1.a-device-of-a-large-customer").AsVerified()
	r, err := s.Recognize(ctx, dev)
	require.NoError(t, err)
	fs := make([]memory.Fact, lim.Facts)
	for i := range fs {
		fs[i] = memory.Fact{Key: token(64, i), Value: wide(4096, i), Purpose: memory.PurposeService}
	}
	require.NoError(t, s.Remember(ctx, r.Customer, fs...))
	require.NoError(t, s.Close())

	// Open again with the default limits: the customer keeps their facts.
	s, err = memory.Open(ctx, memory.DefaultOptions(dir).WithSyncWrites(false))
	require.NoError(t, err)
	defer s.Close()
	snap, err := s.Snapshot(ctx, r.Customer)
	require.NoError(t, err)
	require.Greater(t, len(wire.AppendSnapshot(nil, snap)), wire.MaxSnapshot, "more than the module takes")
	var logs bytes.Buffer
	e := limitsEnv(t, s, &logs)
	b := e.browser()
	_, err = s.Link(ctx, r.Customer, memory.Account("the-large-customer").AsVerified())
	require.NoError(t, err)
	// The device of the browser joins the large customer.
	status, out := rawPost(t, b, "sync", []byte(`{"changes":[]}`))
	require.Equal(t, http.StatusOK, status, "%s", out)
	token, err := e.h.IdentityToken(browserRequest(t, b), memory.Account("the-large-customer").AsVerified())
	require.NoError(t, err)
	status, out = rawPost(t, b, "identify", []byte(`{"token":"`+token+`"}`))
	require.Equal(t, http.StatusInternalServerError, status, "%.300s", out)
	require.Less(t, len(out), 1<<10)
	require.Contains(t, string(out), `"too_large"`)
	status, out = rawPost(t, b, "session", nil)
	require.Equal(t, http.StatusInternalServerError, status, "%.300s", out)
	require.Contains(t, string(out), `"too_large"`)
	require.Contains(t, logs.String(), "too_large", "the server's log says why")

	// Another device is served as ever.
	status, _ = rawPost(t, e.browser(), "session", nil)
	require.Equal(t, http.StatusOK, status)
}

// browserRequest returns a request that carries b's cookies, as the shop's
// own pages get them.
func browserRequest(t *testing.T, b *browser) *http.Request {
	t.Helper()
	u, err := url.Parse(b.e.srv.URL)
	require.NoError(t, err)
	req := httptest.NewRequest("GET", b.e.srv.URL+"/", nil)
	for _, c := range b.c.Jar.(*cookiejar.Jar).Cookies(u) {
		req.AddCookie(c)
	}
	return req
}
