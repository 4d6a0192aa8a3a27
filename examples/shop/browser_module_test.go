package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// The page compiles the module beside its worker's start and hands it over
// (herken.js, start): one download a visit. The worker takes it only for
// its own version; otherwise, or when the page cannot compile it, the worker
// fetches the module itself.

// moduleVersion is the version herken.js asks the module by.
var moduleVersion = regexp.MustCompile(`const VERSION = "([0-9a-f]{16})"`)

// fetches counts the requests for the module, by who asked: the page or
// its worker (by the request's referrer).
type fetches struct{ page, worker atomic.Int32 }

// moduleFront serves the shop through a proxy that counts the requests for
// the module, serving herken.js through edit and the checkout page with csp
// when they are given.
func moduleFront(t *testing.T, shop string, edit func(string) string, csp string) (string, *fetches) {
	t.Helper()
	var modules fetches
	base := front(t, shop, func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.URL.Path == "/herken/herken.wasm":
			if strings.HasSuffix(r.Referer(), "/herken/herken-worker.js") {
				modules.worker.Add(1)
			} else {
				modules.page.Add(1)
			}
		case r.URL.Path == "/herken/herken.js" && edit != nil:
			resp, err := http.Get(shop + r.URL.Path)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return true
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return true
			}
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.Header().Set("Cache-Control", "no-store")
			_, _ = io.WriteString(w, edit(string(b)))
			return true
		case r.URL.Path == "/checkout" && csp != "":
			resp, err := http.Get(shop + r.URL.Path)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return true
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.Header().Set("Content-Security-Policy", csp)
			_, _ = io.Copy(w, resp.Body)
			return true
		}
		return false
	})
	return base, &modules
}

// remembers checks that the plugin on the page works: it keeps an answer,
// the server takes it, and the answer comes back as a prefill.
func remembers(t *testing.T, tab context.Context) {
	t.Helper()
	var got struct {
		Synced bool   `json:"synced"`
		City   string `json:"city"`
	}
	eval(t, tab, `(async () => {
		await herken.remember([{key: "shipping.city", value: "Utrecht"}]);
		const synced = await herken.sync();
		return {synced, city: (await herken.prefill(["shipping.city"]))["shipping.city"]};
	})()`, &got)
	require.True(t, got.Synced, "the server has the answer")
	require.Equal(t, "Utrecht", got.City)
}

func TestBrowserDownloadsTheModuleOnce(t *testing.T) {
	base, modules := moduleFront(t, startShop(t, t.TempDir()), nil, "")
	tab := newVisitor(t)
	do(t, tab, noCache(), chromedp.Navigate(base+"/checkout"), ready())
	remembers(t, tab)
	require.EqualValues(t, 1, modules.page.Load())
	require.EqualValues(t, 0, modules.worker.Load(), "the worker takes the module the page compiled")
}

func TestBrowserWorkerOfAnotherVersionFetchesItsOwnModule(t *testing.T) {
	shop := startShop(t, t.TempDir())
	stale := func(js string) string {
		require.Regexp(t, moduleVersion, js)
		return moduleVersion.ReplaceAllString(js, `const VERSION = "0000000000000000"`)
	}
	base, modules := moduleFront(t, shop, stale, "")
	tab := newVisitor(t)
	do(t, tab, noCache(), chromedp.Navigate(base+"/checkout"), ready())
	remembers(t, tab)
	require.EqualValues(t, 1, modules.page.Load())
	require.EqualValues(t, 1, modules.worker.Load(), "a page of another release compiles a module its worker does not take")
}

func TestBrowserPageThatCannotCompileLeavesItToTheWorker(t *testing.T) {
	// A page whose policy does not allow WebAssembly (against the plugin's
	// README): the worker, under its own policy (none), compiles the module.
	const csp = "default-src 'self'; script-src 'self'; worker-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
	base, modules := moduleFront(t, startShop(t, t.TempDir()), nil, csp)
	tab := newVisitor(t)
	do(t, tab, noCache(), chromedp.Navigate(base+"/checkout"), ready())
	var compiles string
	eval(t, tab, `WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])).then(() => "yes", (e) => e.name)`, &compiles)
	require.Equal(t, "CompileError", compiles, "the page may not compile WebAssembly")
	remembers(t, tab)
	require.EqualValues(t, 1, modules.page.Load()+modules.worker.Load(), "the worker compiles the page's download, from the browser's cache")
}
