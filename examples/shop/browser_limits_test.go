package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/memory/memorytest"
	"github.com/herken/herken/plugin"
)

// TestBrowserCustomerAtTheLimits runs the plugin's script, worker and wasm
// module in Chromium (the plugin has no browser tests of its own; they run
// here) for a customer at every limit the browser's part shows, every text
// at its widest in JSON: the session's answer of 6.8 MB is applied, a
// change reaches the server, and the saved state, loaded back offline,
// holds it all. The module took 1 MiB: the worker could apply neither.
func TestBrowserCustomerAtTheLimits(t *testing.T) {
	tab := newVisitor(t)
	ctx := context.Background()
	s, err := memory.Open(ctx, memory.InMemoryOptions())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	var logs syncBuffer
	h, err := plugin.New(s, plugin.Options{Secret: []byte("a test secret of at least 32 bytes, kept here"), Rate: rate.Inf, ClaimFloor: -1,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError}))})
	require.NoError(t, err)
	var offline atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/herken/", http.StripPrefix("/herken", h))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>At the limits</title><p>A page.</p><script src="/herken/herken.js" defer data-widget="off"></script>`)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if offline.Load() && r.Method == http.MethodPost {
			w.WriteHeader(http.StatusBadGateway) // the network is gone
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	base := srv.URL

	wide, token := memorytest.Wide, memorytest.Token
	first := token(64, 0)
	factIs := func(key, value string) string {
		return `herken.snapshot().then(s => s.facts.some(f => f.key === ` + jsString(key) + ` && f.value === ` + jsString(value) + `))`
	}
	until := func(js string) chromedp.Action {
		return chromedp.Poll(js, nil, chromedp.WithPollingTimeout(20*time.Second))
	}

	// The visitor remembers a fact: the device becomes a customer.
	do(t, tab, chromedp.Navigate(base+"/"), ready())
	var ok bool
	eval(t, tab, `herken.remember([{key: `+jsString(first)+`, value: "first", purpose: "personalization"}]).then(() => herken.sync())`, &ok)
	require.True(t, ok, "sync")
	req := httptest.NewRequest("GET", base+"/", nil)
	do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		cs, err := network.GetCookies().WithURLs([]string{base}).Do(ctx)
		for _, c := range cs {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		return err
	}))
	id, err := h.Customer(req)
	require.NoError(t, err)

	// The shop takes the customer to every limit.
	lim := s.Limits()
	_, err = s.Link(ctx, id, memorytest.Accounts(lim.Identifiers-1)...) // the device is one
	require.NoError(t, err)
	require.NoError(t, s.Update(ctx, id, func(tx *memory.Tx) error {
		if err := tx.Remember(memorytest.Facts(lim)...); err != nil {
			return err
		}
		if err := memorytest.Fill(tx, lim); err != nil {
			return err
		}
		for i := range lim.Drafts {
			if err := tx.SaveDraft(token(64, i), []byte("x")); err != nil {
				return err
			}
		}
		return nil
	}))

	// A page load: the worker applies the session's answer.
	last := token(64, lim.Facts-1)
	full := `herken.snapshot().then(s => s.facts.length === ` + fmt.Sprint(lim.Facts) + ` && s.open_issues.length === ` + fmt.Sprint(lim.OpenIssues) +
		` && s.consents.length === ` + fmt.Sprint(4*(memory.MaxChannels+1)) + ` && s.identifiers.length === ` + fmt.Sprint(lim.Identifiers-1) + `)`
	do(t, tab, chromedp.Reload(), ready(), until(full),
		until(factIs(last, wide(4096, lim.Facts-1))))

	// A change reaches the server.
	eval(t, tab, `herken.remember([{key: `+jsString(first)+`, value: "changed", purpose: "personalization"}]).then(() => herken.sync())`, &ok)
	require.True(t, ok, "sync")
	snap, err := s.Snapshot(ctx, id)
	require.NoError(t, err)
	for _, f := range snap.Facts {
		if f.Key == first {
			require.Equal(t, "changed", f.Value)
		}
	}

	// Offline, the next page load has only the saved state: it loads.
	offline.Store(true)
	do(t, tab, chromedp.Reload(), ready(), until(full),
		until(factIs(first, "changed")))
	require.Empty(t, logs.String(), "no server errors")
}
