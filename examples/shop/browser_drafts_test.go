package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserResumeBringsTheCartToCheckout: the cart added on the product
// page is a draft whose page is the checkout; herken.resume("cart") (the
// widget's "Continue") leads there, and the checkout shows the cart and
// orders it.
func TestBrowserResumeBringsTheCartToCheckout(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(base+"/"), ready(),
		chromedp.Click(`button[data-add-to-cart]`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector("button[data-add-to-cart]").textContent === "In your cart"`, nil, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(250*time.Millisecond)))
	var page string
	eval(t, tab, `herken.snapshot().then(s => s.drafts.find(d => d.name === "cart").page)`, &page)
	require.Equal(t, "/checkout", page)

	do(t, tab, chromedp.Navigate(base+"/login"), ready(),
		chromedp.Evaluate(`herken.resume("cart")`, nil),
		chromedp.WaitVisible(`//h1[.="Checkout"]`), ready(),
		chromedp.WaitVisible(`[data-cart-item="trail-jacket"]`, chromedp.ByQuery))
	var cart string
	do(t, tab, chromedp.Text(`[data-cart]`, &cart, chromedp.ByQuery))
	require.Contains(t, cart, "Trail jacket")
	do(t, tab, checkoutWith(chromedp.Tasks{}))
	var thanks string
	do(t, tab, chromedp.Text(`main`, &thanks, chromedp.ByQuery))
	require.Contains(t, thanks, "Your Trail jacket is on its way")
	// The order ends the cart (data-herken-ends): nothing to continue.
	do(t, tab, chromedp.Poll(`herken.status().then(s => s.pending === 0)`, nil, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(250*time.Millisecond)))
	var names []string
	eval(t, tab, `herken.snapshot().then(s => s.drafts.map(d => d.name))`, &names)
	require.NotContains(t, names, "cart")
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready())
	var empty bool
	eval(t, tab, `document.querySelector("[data-cart-item]") === null`, &empty)
	require.True(t, empty, "the checkout shows no cart")
}

// TestBrowserResumeACartFromAnotherBrowser: the same customer in a browser
// that did not save the cart (its page is not known there) still continues
// at the checkout, with the cart from the server.
func TestBrowserResumeACartFromAnotherBrowser(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(base+"/"), ready(),
		chromedp.Click(`button[data-add-to-cart]`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector("button[data-add-to-cart]").textContent === "In your cart"`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	other := sameDevice(t, tab, base)
	var resumed bool
	do(t, other, chromedp.Navigate(base+"/"), ready())
	eval(t, other, `herken.resume("cart")`, &resumed)
	require.False(t, resumed, "this browser does not know the cart's page")
	do(t, other, chromedp.WaitVisible(`//h1[.="Checkout"]`), ready(),
		chromedp.WaitVisible(`[data-cart-item="trail-jacket"]`, chromedp.ByQuery))
}

// TestBrowserDraftFormComesBack: a form marked data-herken-draft keeps what
// the customer types; resuming it from another page brings them back to
// it, filled; sending the form ends the draft, here and on the server.
func TestBrowserDraftFormComesBack(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(base+"/"), ready(),
		typeInto(`textarea[name=text]`, "Warm and light."),
		pick("stars", "4"),
		chromedp.Poll(`herken.draft("review").then(d => d !== null && !d.pending && d.data.includes("Warm") && d.data.includes('"4"'))`, nil,
			chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(250*time.Millisecond)))

	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(),
		chromedp.Evaluate(`herken.resume("review")`, nil),
		chromedp.WaitVisible(`//h2[.="Write a review"]`), ready(),
		chromedp.Poll(`document.querySelector("textarea[name=text]").value === "Warm and light." && document.querySelector("select[name=stars]").value === "4"`, nil,
			chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(250*time.Millisecond)))

	do(t, tab, chromedp.Click(`//button[.="Post review"]`), chromedp.WaitVisible(`//h1[.="Thank you for your review"]`), ready(),
		chromedp.Poll(`herken.draft("review").then(d => d === null)`, nil, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(250*time.Millisecond)),
		chromedp.Poll(`herken.status().then(s => s.pending === 0)`, nil, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(250*time.Millisecond)))
	var status int
	eval(t, tab, `fetch("/herken/session", {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"}).then(r => r.json())
		.then(s => fetch("/herken/drafts/review", {headers: {"X-Herken-CSRF": s.csrf}})).then(r => r.status)`, &status)
	require.Equal(t, http.StatusNotFound, status, "the server's draft ended too")
	var names []string
	eval(t, tab, `herken.snapshot().then(s => s.drafts.map(d => d.name))`, &names)
	require.NotContains(t, names, "review")
}

// TestBrowserResumeNeverLeavesTheSite is the attacker's test: a draft
// saved with a page of another origin, a javascript: or data: URL is
// refused with a clear error and kept nowhere; a draft planted in the
// browser's storage with such a page never navigates.
func TestBrowserResumeNeverLeavesTheSite(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(base+"/"), ready())
	bad := []string{"https://evil.example/", "//evil.example/checkout", "javascript:alert(1)", "data:text/html,<h1>hi</h1>", "http://127.0.0.1:1/", strings.Repeat("/a", 2000)}
	for _, p := range bad {
		var res struct{ Code, Message string }
		eval(t, tab, `herken.saveDraft("evil", "x", {page: `+jsString(p)+`}).then(() => ({code: "saved"}), e => ({code: e.code, message: e.message}))`, &res)
		require.Equal(t, "bad_page", res.Code, "page %q", p)
		require.Contains(t, res.Message, "a page of this site", "page %q", p)
	}
	var none bool
	eval(t, tab, `herken.draft("evil").then(d => d === null)`, &none)
	require.True(t, none, "nothing kept")

	for _, name := range []string{"../cart", "Cart", "", "a b"} {
		var code string
		eval(t, tab, `herken.saveDraft(`+jsString(name)+`, "x").then(() => "saved", e => e.code)`, &code)
		require.Equal(t, "bad_name", code, "name %q", name)
		eval(t, tab, `herken.resume(`+jsString(name)+`).then(() => "resumed", e => e.code)`, &code)
		require.Equal(t, "bad_name", code, "name %q", name)
	}

	// Planted in IndexedDB, as a script of the origin could: resume
	// refuses and stays on this page.
	for _, p := range []string{"javascript:window.hit=1", "https://evil.example/", "//evil.example/x"} {
		var code string
		eval(t, tab, `new Promise(ok => { const r = indexedDB.open("herken", 1); r.onsuccess = () => {
			const s = r.result.transaction("state", "readwrite").objectStore("state"), g = s.get("notes");
			g.onsuccess = () => { const n = g.result || {labels: new Map(), drafts: new Map()};
				n.drafts.set("planted", {page: `+jsString(p)+`, data: "x", size: 1, saved: new Date().toISOString(), pending: true, v: "p"});
				s.put(n, "notes").onsuccess = () => ok(); }; }; })
			.then(() => { window.stay = 1; return herken.resume("planted"); }).then(() => "resumed", e => e.code)`, &code)
		require.Equal(t, "bad_page", code, "page %q", p)
		var still bool
		eval(t, tab, `window.stay === 1 && window.hit === undefined && location.pathname === "/"`, &still)
		require.True(t, still, "never navigated for %q", p)
	}
}
