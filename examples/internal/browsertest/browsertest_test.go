package browsertest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/examples/internal/browsertest"
)

func TestMain(m *testing.M) { browsertest.Main(m) }

// site is a page on loopback that can leave every kind of state a visitor
// carries: a cookie from the server (HttpOnly, so not in document.cookie), a
// cookie from script, localStorage, IndexedDB and a service worker.
func site(t *testing.T) string {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>state</title><p>state</p>"))
	})
	mux.HandleFunc("GET /set-cookie", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "server", Value: "1", Path: "/", HttpOnly: true, MaxAge: 3600})
	})
	mux.HandleFunc("GET /sw.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte("self.addEventListener('fetch', () => {});"))
	})
	srv := httptest.NewServer(mux) // on 127.0.0.1: a secure context, so service workers run
	t.Cleanup(srv.Close)
	return srv.URL
}

// leave leaves every kind of state in the tab's browser context.
const leave = `(async () => {
	await fetch("/set-cookie");
	document.cookie = "script=1; max-age=3600";
	localStorage.setItem("k", "v");
	await new Promise((ok, fail) => {
		const req = indexedDB.open("visitor", 1);
		req.onupgradeneeded = () => req.result.createObjectStore("s");
		req.onsuccess = () => { req.result.close(); ok(); };
		req.onerror = () => fail(req.error);
	});
	await navigator.serviceWorker.register("/sw.js");
	await navigator.serviceWorker.ready;
	return true;
})()`

// seen describes the state a tab's browser context holds for the site.
const seen = `(async () => ({
	cookie: document.cookie,
	localStorage: localStorage.length,
	indexedDB: (await indexedDB.databases()).map((d) => d.name),
	serviceWorkers: (await navigator.serviceWorker.getRegistrations()).length,
}))()`

type state struct {
	Cookie         string   `json:"cookie"`
	LocalStorage   int      `json:"localStorage"`
	IndexedDB      []string `json:"indexedDB"`
	ServiceWorkers int      `json:"serviceWorkers"`
	Cookies        int      `json:"-"` // from the browser, HttpOnly ones included
}

func look(t *testing.T, tab context.Context, url string) state {
	t.Helper()
	var s state
	browsertest.Do(t, tab, chromedp.Navigate(url),
		chromedp.Evaluate(seen, &s, awaitPromise),
		chromedp.ActionFunc(func(ctx context.Context) error {
			cs, err := network.GetCookies().WithURLs([]string{url}).Do(ctx)
			s.Cookies = len(cs)
			return err
		}))
	return s
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

func TestEachContextIsANewVisitor(t *testing.T) {
	url := site(t)
	first := browsertest.NewContext(t)
	var ok bool
	browsertest.Do(t, first, chromedp.Navigate(url), chromedp.Evaluate(leave, &ok, awaitPromise))
	require.True(t, ok)
	// The state is there, in this context, across a navigation: what the
	// next context does not see is not missing for another reason.
	kept := look(t, first, url)
	require.Equal(t, state{Cookie: "script=1", LocalStorage: 1, IndexedDB: []string{"visitor"}, ServiceWorkers: 1, Cookies: 2}, kept)

	// Another context, while the first is still open, and one after it.
	empty := state{IndexedDB: []string{}}
	require.Equal(t, empty, look(t, browsertest.NewContext(t), url))
	require.NoError(t, chromedp.Cancel(first))
	require.Equal(t, empty, look(t, browsertest.NewContext(t), url))
}

func TestContextsShareOneBrowser(t *testing.T) {
	a, b := browsertest.NewContext(t), browsertest.NewContext(t)
	require.Same(t, chromedp.FromContext(a).Browser, chromedp.FromContext(b).Browser, "one Chromium process")
	require.NotEqual(t, browserContext(t, a), browserContext(t, b), "a browser context each")
}

func browserContext(t *testing.T, tab context.Context) cdp.BrowserContextID {
	var info *target.Info
	browsertest.Do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		info, err = target.GetTargetInfo().Do(ctx)
		return err
	}))
	require.NotEmpty(t, info.BrowserContextID)
	return info.BrowserContextID
}

// TestPicture takes a picture of one element, a box of a known size.
func TestPicture(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>box</title><div style="margin:40px;width:120px;height:80px;background:#1f5f8b" id="box"></div>`))
	}))
	t.Cleanup(srv.Close)
	tab := browsertest.NewContext(t)
	browsertest.Do(t, tab, chromedp.Navigate(srv.URL), chromedp.WaitVisible("#box"))
	browsertest.Picture(t, tab, browsertest.ElementBox(`document.getElementById("box")`, 8), t.TempDir()+"/box.png")
}
