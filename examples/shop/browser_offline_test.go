package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// offline cuts the network of the tab and of the plugin's worker in it, or
// gives it back. The page gets Chromium's network emulation (navigator.onLine
// and the offline and online events follow it); a dedicated worker answers
// "Not supported" to that, so its requests are blocked through its own
// Network domain instead (worker, from pluginWorker: blocked URLs are the
// session's that set them), and fail as they do offline.
func offline(t *testing.T, tab, worker context.Context, cut bool) {
	t.Helper()
	block := []string{}
	if cut {
		block = []string{"*"}
	}
	do(t, worker, chromedp.ActionFunc(func(ctx context.Context) error {
		return network.SetBlockedURLs(block).Do(ctx)
	}))
	do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		return network.EmulateNetworkConditions(cut, 0, -1, -1).Do(ctx)
	}))
}

// pluginWorker is the plugin's worker of the page in tab, as a chromedp
// target.
func pluginWorker(t *testing.T, tab context.Context) context.Context {
	t.Helper()
	var id target.ID
	do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		c := chromedp.FromContext(ctx)
		info, err := target.GetTargetInfo().WithTargetID(c.Target.TargetID).Do(cdp.WithExecutor(ctx, c.Browser))
		if err != nil {
			return err
		}
		all, err := target.GetTargets().Do(cdp.WithExecutor(ctx, c.Browser))
		if err != nil {
			return err
		}
		for _, w := range all {
			if w.Type == "worker" && w.BrowserContextID == info.BrowserContextID && strings.Contains(w.URL, "/herken/herken-worker.js") {
				id = w.TargetID
			}
		}
		return nil
	}))
	require.NotEmpty(t, id, "the page runs the plugin's worker")
	w, cancel := chromedp.NewContext(tab, chromedp.WithTargetID(id))
	t.Cleanup(cancel)
	// The context of a target's first Run is its lifetime: attach with w
	// itself, and bound the wait here.
	attached := make(chan error, 1)
	go func() { attached <- chromedp.Run(w) }()
	select {
	case err := <-attached:
		require.NoError(t, err, "attach to the plugin's worker")
	case <-time.After(30 * time.Second):
		t.Fatal("no answer from the plugin's worker")
	}
	return w
}

// TestBrowserAddToCartOffline: with the browser offline, adding to the cart
// is kept and said so, the plugin's calls resolve, and the status says
// offline with what waits; back online, the cart and the answer given
// offline arrive at the store, and the status says so.
func TestBrowserAddToCartOffline(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`window.statuses = []; document.addEventListener("herken:status", (e) => statuses.push(e.detail));`).Do(ctx)
		return err
	}), chromedp.Navigate(base+"/"), ready())
	var online struct {
		Online  bool `json:"online"`
		Pending int  `json:"pending"`
	}
	eval(t, tab, `herken.status()`, &online)
	require.True(t, online.Online)
	require.Zero(t, online.Pending)

	worker := pluginWorker(t, tab)
	offline(t, tab, worker, true)
	do(t, tab,
		chromedp.Click(`button[data-add-to-cart]`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector("[data-cart-note]").textContent.includes("sent when you are back online")`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	var button string
	do(t, tab, chromedp.Text(`button[data-add-to-cart]`, &button, chromedp.ByQuery))
	require.Equal(t, "In your cart", button)

	var calls struct {
		Sync     any    `json:"sync"`
		Remember string `json:"remember"`
	}
	eval(t, tab, `Promise.all([herken.sync().then(ok => ok, e => "rejected: " + e.message),
		herken.remember([{key: "shipping.city", value: "Utrecht"}]).then(() => "kept", e => "rejected: " + e.message)])
		.then(([sync, remember]) => ({sync, remember}))`, &calls)
	require.Equal(t, false, calls.Sync, "sync resolves false offline, and does not reject")
	require.Equal(t, "kept", calls.Remember)
	eval(t, tab, `herken.status()`, &online)
	require.False(t, online.Online)
	require.Equal(t, 2, online.Pending, "the cart and the answer wait")
	var heard bool
	eval(t, tab, `statuses.some(s => !s.online && s.pending === 2)`, &heard)
	require.True(t, heard, "the page heard herken:status")

	// Nothing has reached the server: the same device in an empty browser
	// gets no cart from it.
	other := sameDevice(t, tab, base)
	do(t, other, chromedp.Navigate(base+"/checkout"), ready())
	var empty bool
	eval(t, other, `document.querySelector("[data-cart-item]") === null`, &empty)
	require.True(t, empty, "the cart is not on the server yet")

	// Back online: it all arrives, and the page hears that nothing waits.
	offline(t, tab, worker, false)
	do(t, tab,
		chromedp.Poll(`document.querySelector("[data-cart-note]").textContent === "In your cart: sent."`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	eval(t, tab, `herken.status()`, &online)
	require.Equal(t, true, online.Online)
	require.Zero(t, online.Pending)
	do(t, other, chromedp.Navigate(base+"/checkout"), ready(),
		chromedp.WaitVisible(`[data-cart-item="trail-jacket"]`, chromedp.ByQuery), waitValue("city", "Utrecht"))
}

// sameDevice opens a new browser context with tab's device cookie: the same
// device, with none of its browser storage.
func sameDevice(t *testing.T, tab context.Context, base string) context.Context {
	t.Helper()
	var cookies []*network.Cookie
	do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{base}).Do(ctx)
		return err
	}))
	other := newVisitor(t)
	do(t, other, chromedp.ActionFunc(func(ctx context.Context) error {
		for _, c := range cookies {
			if c.Name == "herken_device" {
				return network.SetCookie(c.Name, c.Value).WithURL(base).WithHTTPOnly(true).Do(ctx)
			}
		}
		t.Fatal("no device cookie")
		return nil
	}))
	return other
}

// TestBrowserDraftsWaitingOfflineAreBounded is the attacker's test of the
// drafts a page keeps in the browser: offline, at most 16 wait to be sent;
// one more, one too large, or one that is not text is refused with a clear
// error and keeps nothing; back online, the 16 arrive.
func TestBrowserDraftsWaitingOfflineAreBounded(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(base+"/"), ready())
	worker := pluginWorker(t, tab)
	offline(t, tab, worker, true)
	var res struct {
		Pending []bool `json:"pending"`
		Many    string `json:"many"`
		Large   string `json:"large"`
		NotText string `json:"notText"`
		Message string `json:"message"`
		Drafts  int    `json:"drafts"`
		Status  int    `json:"status"`
	}
	eval(t, tab, `(async () => {
		const pending = [];
		for (let i = 0; i < 16; i++) pending.push((await herken.saveDraft("d" + i, "work " + i)).pending);
		const code = (p) => p.then(() => "saved", (e) => e.code);
		const many = await code(herken.saveDraft("d16", "one more"));
		const large = await code(herken.saveDraft("d0", "x".repeat((256 << 10) + 1)));
		const notText = await code(herken.saveDraft("d1", {a: 1}));
		const message = await herken.saveDraft("d16", "x").catch((e) => e.message);
		const drafts = await new Promise(ok => { const r = indexedDB.open("herken", 1); r.onsuccess = () => {
			const g = r.result.transaction("state").objectStore("state").get("notes"); g.onsuccess = () => ok(g.result.drafts.size); }; });
		return {pending, many, large, notText, message, drafts, status: (await herken.status()).pending};
	})()`, &res)
	require.Len(t, res.Pending, 16)
	for i, p := range res.Pending {
		require.True(t, p, "draft %d waits", i)
	}
	require.Equal(t, "too_many", res.Many)
	require.Contains(t, res.Message, "16 drafts wait to be sent already")
	require.Equal(t, "too_large", res.Large)
	require.Equal(t, "bad_data", res.NotText)
	require.Equal(t, 16, res.Drafts, "nothing refused was kept")
	require.Equal(t, 16, res.Status)
	var kept string
	eval(t, tab, `herken.draft("d0").then(d => d.data)`, &kept)
	require.Equal(t, "work 0", kept, "the refused save changed nothing")

	offline(t, tab, worker, false)
	do(t, tab, chromedp.Poll(`herken.status().then(s => s.online && s.pending === 0)`, nil,
		chromedp.WithPollingTimeout(25*time.Second), chromedp.WithPollingInterval(250*time.Millisecond)))
	var names []string
	eval(t, tab, `herken.snapshot().then(s => s.drafts.filter(d => !d.pending).map(d => d.name))`, &names)
	require.Len(t, names, 16, "all arrived")
}
