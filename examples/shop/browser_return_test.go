package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/examples/internal/browsertest"
	"github.com/herken/herken/memory"
)

// deviceCookie returns the plugin's device cookie of the tab at base.
func deviceCookie(t *testing.T, tab context.Context, base string) string {
	t.Helper()
	var value string
	do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		cs, err := network.GetCookies().WithURLs([]string{base}).Do(ctx)
		for _, c := range cs {
			if c.Name == "herken_device" {
				value = c.Value
			}
		}
		return err
	}))
	require.NotEmpty(t, value, "the plugin has set its device cookie")
	return value
}

// withDevice opens a new visitor whose browser carries the device cookie
// value and nothing else: someone who kept an old cookie.
func withDevice(t *testing.T, base, value string) context.Context {
	t.Helper()
	tab := newVisitor(t)
	do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		return network.SetCookie("herken_device", value).WithURL(base).WithHTTPOnly(true).Do(ctx)
	}))
	return tab
}

// agentPage is the text of the agent page at path, read by an agent in a
// browser of their own.
func agentPage(t *testing.T, agent context.Context, base, path string) string {
	t.Helper()
	var text string
	do(t, agent, chromedp.Navigate(base+path), chromedp.WaitVisible(`//h1[.="Agent view"]`), chromedp.Text("main", &text, chromedp.ByQuery))
	return text
}

// TestBrowserClearedCookiesStayOneCustomer is the customer whose cookies
// were cleared: she signs in, gives her details and asks a question; her
// cookies are cleared; she signs in again and comes back about the
// question. The agent finds one customer by her address, with everything,
// escalated, under the name she gave. Then she asks the widget to forget
// her: nothing of her is found by her address, by either of her old device
// cookies, or in the store.
func TestBrowserClearedCookiesStayOneCustomer(t *testing.T) {
	dir := t.TempDir()
	base, stop := startStoppableShop(t, dir)
	const email = "ada@example.com"
	// She signs in at once, whether or not the plugin has started on the
	// sign-in page.
	signIn := chromedp.Tasks{
		chromedp.Navigate(base + "/login"),
		chromedp.SetValue(`input[name=account]`, email, chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible(`//h1[.="Checkout"]`), ready(),
	}
	tab := newVisitor(t)
	do(t, tab, signIn, fillCheckout("Keizersgracht 1", email))
	var opened int
	eval(t, tab, `herken.openIssue("My parcel did not arrive").then(b => b.open_issues.length)`, &opened)
	require.Equal(t, 1, opened)
	synced(t, tab)
	first := deviceCookie(t, tab, base)

	// Her cookies are cleared: the shop's session and the plugin's device.
	do(t, tab, network.ClearBrowserCookies())
	// Signed in before the plugin gave the new browser a device, maybe:
	// the next page proves the login on the device.
	do(t, tab, signIn, chromedp.Navigate(base+"/checkout"), ready(), waitValue("street", "Keizersgracht 1"))
	second := deviceCookie(t, tab, base)
	require.NotEqual(t, first, second, "a new device")
	var brief struct {
		Name       string `json:"name"`
		OpenIssues []struct {
			ID string `json:"id"`
		} `json:"open_issues"`
	}
	eval(t, tab, `herken.brief()`, &brief)
	require.Equal(t, "Ada Lovelace", brief.Name, "the widget's greeting")
	require.Len(t, brief.OpenIssues, 1, "her question came back with her")
	eval(t, tab, `herken.contact({issue: `+jsString(brief.OpenIssues[0].ID)+`, summary: "Still no parcel"}).then(() => true)`, nil)
	synced(t, tab)

	agent := newVisitor(t)
	do(t, agent, signInAgent(base))
	page := agentPage(t, agent, base, "/agent?q="+email)
	for _, want := range []string{"Ada Lovelace", "Keizersgracht 1", "Amsterdam", "My parcel did not arrive", "ESCALATED", "escalate: true", "email: " + email + " (verified)"} {
		require.Contains(t, page, want)
	}
	require.Equal(t, 2, strings.Count(page, "device: "), "both of her browsers, one customer:\n%s", page)
	// Each old cookie is her, and the same customer.
	for _, cookie := range []string{first, second} {
		other := withDevice(t, base, cookie)
		do(t, other, signInAgent(base))
		require.Equal(t, page[strings.Index(page, "Ada Lovelace"):], func() string {
			p := agentPage(t, other, base, "/agent")
			return p[strings.Index(p, "Ada Lovelace"):]
		}())
	}

	// "Forget me", from the widget's API.
	eval(t, tab, `herken.forget().then(() => true)`, nil)
	page = agentPage(t, agent, base, "/agent?q="+email)
	require.Contains(t, page, "no customer found")
	require.NotContains(t, page, "Keizersgracht")
	for _, cookie := range []string{first, second} {
		other := withDevice(t, base, cookie)
		do(t, other, signInAgent(base))
		p := agentPage(t, other, base, "/agent")
		require.Contains(t, p, "no customer found", "an old device cookie is a stranger")
		do(t, other, chromedp.Navigate(base+"/checkout"), ready())
		var snap string
		eval(t, other, `herken.snapshot().then(s => JSON.stringify(s))`, &snap)
		require.NotContains(t, snap, "Keizersgracht")
		require.NotContains(t, snap, "Ada")
	}

	// In the store: nobody by her address, one receipt for everything.
	stop()
	ctx := context.Background()
	store, err := memory.Open(ctx, memory.DefaultOptions(filepath.Join(dir, "memory")))
	require.NoError(t, err)
	defer store.Close()
	_, err = store.Lookup(ctx, memory.Email(email))
	require.True(t, errors.Is(err, memory.ErrNotFound), "%v", err)
	receipts, err := store.Receipts(ctx)
	require.NoError(t, err)
	require.Len(t, receipts, 1)
	require.Equal(t, 2, receipts[0].Erased["identifiers"]-1, "her email and both devices: %v", receipts[0].Erased)
	require.NoError(t, store.Check(ctx))
}

// TestBrowserStartsWhileStorageWillNotOpen is a page whose plugin cannot
// open its IndexedDB: another tab of the visitor holds the database's
// creation open (as a page just left, or one in the back/forward cache,
// may), so the open never answers. The plugin still starts, from the
// server's memory, instead of the page waiting for ever.
func TestBrowserStartsWhileStorageWillNotOpen(t *testing.T) {
	base := startShop(t, t.TempDir())
	holder := newVisitor(t)
	// A page of the origin without the plugin: it creates the plugin's
	// database and keeps the creating transaction alive.
	var opened bool
	do(t, holder, chromedp.Navigate(base+"/static/shop.css"), chromedp.Evaluate(`new Promise((ok) => {
		const r = indexedDB.open("herken", 1);
		r.onupgradeneeded = () => {
			const s = r.transaction.objectStore(r.result.createObjectStore("state").name);
			const spin = () => s.get("x").onsuccess = spin; // the upgrade never ends
			spin();
			ok(true);
		};
	})`, &opened, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	require.True(t, opened)
	tab := browsertest.NewTab(t, holder)
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), fillCheckout("Keizersgracht 1", "ada@example.com"))
	synced(t, tab)
}
