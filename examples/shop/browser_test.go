package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/examples/internal/browsertest"
	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

func TestMain(m *testing.M) { browsertest.Main(m) }

// newVisitor opens a tab as a new visitor: a browser context of its own,
// with no cookies and no storage.
func newVisitor(t *testing.T) context.Context { return browsertest.NewContext(t) }

func do(t *testing.T, ctx context.Context, actions ...chromedp.Action) {
	t.Helper()
	browsertest.Do(t, ctx, actions...)
}

// ready waits until the page has loaded and the plugin on it has given its
// first brief. After an action that navigates, it must follow a wait for
// something of the new page only: the old page was ready too.
func ready() chromedp.Action {
	return chromedp.Poll(`document.readyState === "complete" && typeof herken === "object" && performance.getEntriesByName("herken:ready").length > 0`,
		nil, chromedp.WithPollingTimeout(20*time.Second))
}

func eval(t *testing.T, ctx context.Context, js string, out any) {
	t.Helper()
	do(t, ctx, chromedp.Evaluate(js, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
}

func fillCheckout(street, email string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.SetValue(`input[name=name]`, "Ada Lovelace", chromedp.ByQuery),
		chromedp.SetValue(`input[name=email]`, email, chromedp.ByQuery),
		chromedp.SetValue(`input[name=street]`, street, chromedp.ByQuery),
		chromedp.SetValue(`input[name=postcode]`, "1011 AB", chromedp.ByQuery),
		chromedp.SetValue(`input[name=city]`, "Amsterdam", chromedp.ByQuery),
		chromedp.Click(`input[name=remember]`, chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[contains(., "Thank you")]`),
		ready(),
	}
}

func value(t *testing.T, ctx context.Context, name string) string {
	var v string
	do(t, ctx, chromedp.Value(`input[name=`+name+`]`, &v, chromedp.ByQuery))
	return v
}

func waitValue(name, want string) chromedp.Action {
	return chromedp.Poll(`document.querySelector("input[name=`+name+`]").value === `+jsString(want), nil, chromedp.WithPollingTimeout(20*time.Second))
}

// front serves the shop at shopURL through a proxy on a loopback port of
// its own, which lets fail answer a request instead (when it says so), as
// a network that fails would, and returns the proxy's URL.
func front(t *testing.T, shopURL string, fail func(http.ResponseWriter, *http.Request) bool) string {
	t.Helper()
	target, err := url.Parse(shopURL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fail(w, r) {
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// signInAgent signs the tab in as an agent, so that it reaches the agent
// page; the customer in the tab stays who they were.
func signInAgent(base string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.Navigate(base + "/agent/login"),
		chromedp.SetValue(`input[name=password]`, testAgentPassword, chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[.="Agent view"]`),
	}
}

// ask types a question into the open widget and sends it.
func ask(text string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.Evaluate(widgetRoot+`.querySelector("textarea").value = `+jsString(text), nil),
		chromedp.Evaluate(`[...`+widgetRoot+`.querySelectorAll("button")].find(b => b.textContent === "Send").click()`, nil),
	}
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// watchPrefill makes every later page in the tab note when the plugin has
// filled the page's form: window.prefilled becomes true.
func watchPrefill() chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`document.addEventListener("herken:prefilled", () => { window.prefilled = true })`).Do(ctx)
		return err
	})
}

// synced waits until the page's memory has reached the server.
func synced(t *testing.T, ctx context.Context) {
	var ok bool
	eval(t, ctx, `herken.sync()`, &ok)
	require.True(t, ok, "sync")
}

func TestBrowserFirstVisitReturnAndNewContext(t *testing.T) {
	dir := t.TempDir()
	first, stop := startStoppableShop(t, dir)
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(first+"/checkout"), ready(), fillCheckout("Keizersgracht 1", "ada@example.com"))
	synced(t, tab)

	// The shop restarts (on another port: cookies do not mind ports).
	stop()
	base := startShop(t, dir)
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), waitValue("street", "Keizersgracht 1"))
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), fillCheckout("Keizersgracht 1", "ada@example.com"))
	synced(t, tab)

	// Back to the checkout: filled.
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), waitValue("street", "Keizersgracht 1"))
	require.Equal(t, "1011 AB", value(t, tab, "postcode"))

	// Reload: still filled.
	do(t, tab, chromedp.Reload(), ready(), waitValue("city", "Amsterdam"))

	// Another browser context with the same cookie and empty storage: the
	// server gives the memory back.
	other := sameDevice(t, tab, base)
	do(t, other, chromedp.Navigate(base+"/checkout"), ready(), waitValue("street", "Keizersgracht 1"))
}

func TestBrowserOfflineThenOnline(t *testing.T) {
	var offline atomic.Bool
	base := front(t, startShop(t, t.TempDir()), func(w http.ResponseWriter, r *http.Request) bool {
		if !offline.Load() || !strings.HasPrefix(r.URL.Path, "/herken/") || r.Method != http.MethodPost {
			return false
		}
		// The network is gone: the connection drops.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return true
			}
		}
		w.WriteHeader(http.StatusBadGateway)
		return true
	})
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready())

	offline.Store(true)
	do(t, tab, fillCheckout("Prinsengracht 2", "grace@example.com"))
	var ok bool
	eval(t, tab, `herken.sync()`, &ok)
	require.False(t, ok, "offline: nothing reaches the server")
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), waitValue("street", "Prinsengracht 2"))

	var agent string
	do(t, tab, signInAgent(base), chromedp.Navigate(base+"/agent"), chromedp.Text("main", &agent, chromedp.ByQuery))
	require.Contains(t, agent, "no customer found", "the server has nothing yet")

	offline.Store(false)
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready())
	do(t, tab, chromedp.Evaluate(`dispatchEvent(new Event("online"))`, nil))
	do(t, tab, chromedp.Poll(`fetch("/agent").then(r => r.text()).then(t => t.includes("Prinsengracht 2"))`, nil,
		chromedp.WithPollingTimeout(20*time.Second)))
}

func TestBrowserForgetMe(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), fillCheckout("Herengracht 3", "forget@example.com"))
	synced(t, tab)
	// Open the widget, then "what we remember about you", then "forget me".
	widget := `document.querySelector("[data-herken-widget-host]").shadowRoot`
	var facts int
	do(t, tab,
		openWidget(), // the widget's script loads after the plugin is ready: wait for it
		chromedp.Poll(widget+`.querySelector(".p").textContent.includes("What we remember")`, nil),
		chromedp.Evaluate(`[...`+widget+`.querySelectorAll("button")].find(b => b.textContent === "What we remember about you").click()`, nil),
		chromedp.Poll(widget+`.querySelector(".p").textContent.includes("Herengracht 3")`, nil),
		chromedp.Evaluate(`[...`+widget+`.querySelectorAll("button")].find(b => b.textContent === "Forget me").click()`, nil),
		// It asks once, in the widget, before anything is erased.
		chromedp.Poll(widget+`.querySelector(".p").textContent.includes("This cannot be undone")`, nil),
	)
	eval(t, tab, `herken.snapshot().then(s => s.facts.length)`, &facts)
	require.Positive(t, facts, "nothing is erased before the customer confirms")
	do(t, tab,
		chromedp.Evaluate(`[...`+widget+`.querySelectorAll("button")].find(b => b.textContent === "Yes, forget me").click()`, nil),
		// The receipt, readable: what was erased and when.
		chromedp.Poll(widget+`.querySelector(".p").textContent.includes("We have forgotten you")`, nil, chromedp.WithPollingTimeout(20*time.Second)),
	)
	var receipt string
	do(t, tab, chromedp.Evaluate(widget+`.querySelector(".p").textContent`, &receipt))
	require.Contains(t, receipt, "Erased on ")
	require.Regexp(t, `[0-9]+ answers you gave`, receipt)
	require.Contains(t, receipt, "1 customer record", "one of a kind in the singular")
	require.NotContains(t, receipt, "1 customer records")
	require.Contains(t, receipt, "Receipt ")
	do(t, tab, watchPrefill(), chromedp.Navigate(base+"/checkout"), ready(), chromedp.Poll(`window.prefilled === true`, nil))
	require.Empty(t, value(t, tab, "street"), "the plugin has filled the form, with nothing")
	var agent string
	do(t, tab, signInAgent(base), chromedp.Navigate(base+"/agent"), chromedp.Text("main", &agent, chromedp.ByQuery))
	require.Contains(t, agent, "no customer found", "this browser is a stranger now")
	require.NotContains(t, agent, "Herengracht 3")
}

func TestBrowserAnotherCustomersEmailRevealsNothing(t *testing.T) {
	base := startShop(t, t.TempDir())
	owner := newVisitor(t)
	do(t, owner, chromedp.Navigate(base+"/checkout"), ready(), fillCheckout("Secret street 9", "owner@example.com"))
	synced(t, owner)

	stranger := newVisitor(t)
	do(t, stranger, chromedp.Navigate(base+"/checkout"), ready(), fillCheckout("Other road 1", "owner@example.com"))
	synced(t, stranger)
	var snap string
	eval(t, stranger, `herken.snapshot().then(s => JSON.stringify(s))`, &snap)
	require.NotContains(t, snap, "Secret street 9")
	require.NotContains(t, snap, `"kind":"email"`, "the email stays the owner's")
	do(t, stranger, chromedp.Navigate(base+"/checkout"), ready(), waitValue("street", "Other road 1"))

	// Typed addresses recognize nobody: the server finds no one by it,
	// and each browser's customer keeps what is theirs.
	var agent string
	do(t, stranger, signInAgent(base), chromedp.Navigate(base+"/agent?q=owner@example.com"), chromedp.Text("main", &agent, chromedp.ByQuery))
	require.Contains(t, agent, "no customer found")
	do(t, stranger, chromedp.Navigate(base+"/agent"), chromedp.Text("main", &agent, chromedp.ByQuery))
	require.Contains(t, agent, "Other road 1")
	require.NotContains(t, agent, "Secret street 9")
	do(t, owner, signInAgent(base), chromedp.Navigate(base+"/agent"), chromedp.Text("main", &agent, chromedp.ByQuery))
	require.Contains(t, agent, "Secret street 9")
	require.NotContains(t, agent, "Other road 1")
}

func TestBrowserIdentityTokens(t *testing.T) {
	dir := t.TempDir()
	base := startShop(t, dir)
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(base+"/"), ready())
	var device string
	do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		cs, err := network.GetCookies().WithURLs([]string{base}).Do(ctx)
		for _, c := range cs {
			if c.Name == "herken_device" {
				device = c.Value
			}
		}
		return err
	}))
	require.NotEmpty(t, device)
	secrets, err := plugin.LoadSecrets(filepath.Join(dir, "plugin.secrets"))
	require.NoError(t, err)
	secret := secrets.Secret
	refused := func(token string) string {
		var msg string
		eval(t, tab, `herken.identify(`+jsString(token)+`).then(() => "accepted", e => e.message)`, &msg)
		return msg
	}
	require.Contains(t, refused("v1.forged.token.1.2.3"), "not valid")
	expired := plugin.SignIdentity(secret, memory.Account("cust-7"), device, time.Now().Add(-time.Minute))
	require.Contains(t, refused(expired), "expired")
	otherDevice := plugin.SignIdentity(secret, memory.Account("cust-7"), "another-device", time.Now().Add(time.Minute))
	require.Contains(t, refused(otherDevice), "not valid")
	good := plugin.SignIdentity(secret, memory.Account("cust-7"), device, time.Now().Add(time.Minute))
	require.Equal(t, "accepted", refused(good))
	require.Contains(t, refused(good), "used already")

	// The shop's own login issues a token and the page proves it.
	do(t, tab, chromedp.Navigate(base+"/login"), chromedp.SetValue(`input[name=account]`, "cust-8", chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible(`//h1[.="Checkout"]`), ready())
	var agent string
	do(t, tab, signInAgent(base), chromedp.Poll(`fetch("/agent?q=cust-8").then(r => r.text()).then(t => !t.includes("no customer found"))`, nil,
		chromedp.WithPollingTimeout(20*time.Second)), chromedp.Navigate(base+"/agent"), chromedp.Text("main", &agent, chromedp.ByQuery))
	require.Contains(t, agent, "cust-8 (verified)")
}

func TestBrowserSecondHelpContactEscalates(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	widget := widgetRoot
	do(t, tab, chromedp.Navigate(base+"/"), ready(),
		openWidget(), // the widget's script loads after the plugin is ready: wait for it
		chromedp.Poll(widget+`.querySelector("textarea") !== null`, nil),
		ask("My parcel did not arrive"),
		chromedp.Poll(widget+`.querySelector("li[data-issue]") !== null`, nil, chromedp.WithPollingTimeout(20*time.Second)),
	)
	synced(t, tab)
	do(t, tab, chromedp.Navigate(base+"/"), ready(),
		openWidget(), // the widget's script loads after the plugin is ready: wait for it
		chromedp.Poll(widget+`.querySelector("li[data-issue] button") !== null`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(widget+`.querySelector("li[data-issue] button").click()`, nil),
		ask("Still nothing, second time I ask"),
	)
	synced(t, tab)
	var agent string
	do(t, tab, signInAgent(base), chromedp.Navigate(base+"/agent"), chromedp.Text("main", &agent, chromedp.ByQuery))
	require.Contains(t, agent, "ESCALATED")
	require.Contains(t, agent, "escalate: true")
}

// TestBrowserPluginStartsAndLongTasksAreSeen checks what the benchmark's
// measurement in Chromium (go run ./bench -only browser) relies on: the
// plugin marks its start and its first brief, in that order, and a
// long-task observer on the page sees a task that blocks the main thread.
// How long these take is the benchmark's to report, not a test's to judge.
func TestBrowserPluginStartsAndLongTasksAreSeen(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`window.longTasks = []; new PerformanceObserver((l) => { for (const e of l.getEntries()) longTasks.push(e) }).observe({type: "longtask", buffered: true});`).Do(ctx)
		return err
	}), chromedp.Navigate(base+"/checkout"), ready())
	var marks struct {
		Start float64 `json:"start"`
		Ready float64 `json:"ready"`
	}
	eval(t, tab, `({start: performance.getEntriesByName("herken:start")[0].startTime, ready: performance.getEntriesByName("herken:ready")[0].startTime})`, &marks)
	require.Positive(t, marks.Start)
	require.GreaterOrEqual(t, marks.Ready, marks.Start, "the first brief comes after the start")

	// A task that holds the main thread for 120 ms: the long-task API
	// reports tasks of 50 ms and more.
	do(t, tab, chromedp.Evaluate(`setTimeout(() => { const t = performance.now(); while (performance.now() - t < 120) {} }, 0)`, nil),
		chromedp.Poll(`longTasks.some((e) => e.duration >= 100)`, nil,
			chromedp.WithPollingTimeout(20*time.Second)))
}

func TestBrowserContinueWhereYouLeftOff(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	widget := `document.querySelector("[data-herken-widget-host]").shadowRoot`
	do(t, tab, chromedp.Navigate(base+"/"), ready(),
		chromedp.Click(`button[data-add-to-cart]`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector("button[data-add-to-cart]").textContent === "In your cart"`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Navigate(base+"/"), ready(),
		openWidget(), // the widget's script loads after the plugin is ready: wait for it
		chromedp.Poll(widget+`.querySelector(".p").textContent.includes("Continue where you left off (cart)")`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`[...`+widget+`.querySelectorAll("button")].find(b => b.textContent.startsWith("Continue")).click()`, nil),
		chromedp.WaitVisible(`//h1[.="Checkout"]`),
		chromedp.WaitVisible(`[data-cart-item="trail-jacket"]`, chromedp.ByQuery), // the cart, from its draft
	)
}

// TestBrowserSharedComputerSignsOut is the family computer: alice signs in,
// gives her address, and signs out with the shop's own button; bob signs
// in on the same browser. Nothing of alice's stays in the browser, and bob
// sees none of it; alice keeps all of hers. Then bob signs out through the
// plugin's JavaScript API.
func TestBrowserSharedComputerSignsOut(t *testing.T) {
	var blocked atomic.Bool // the sync API's answers do not arrive
	base := front(t, startShop(t, t.TempDir()), func(w http.ResponseWriter, r *http.Request) bool {
		if !blocked.Load() || r.URL.Path != "/herken/sync" {
			return false
		}
		w.WriteHeader(http.StatusBadGateway)
		return true
	})
	tab := newVisitor(t)
	signIn := func(account string) chromedp.Action {
		return chromedp.Tasks{
			chromedp.Navigate(base + "/login"), chromedp.SetValue(`input[name=account]`, account, chromedp.ByQuery),
			chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible(`//h1[.="Checkout"]`), ready(),
		}
	}
	do(t, tab, signIn("alice"), fillCheckout("Alice Street 1", "alice@example.com"))
	synced(t, tab)
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), waitValue("street", "Alice Street 1"))

	// One more answer that cannot reach the server before she signs out
	// (its sync is blocked): pending in the browser.
	blocked.Store(true)
	var pending bool
	eval(t, tab, `herken.remember([{key: "note.alice", value: "Alice's pending note"}]).then(() => herken.sync()).then(ok => !ok)`, &pending)
	require.True(t, pending, "the note is pending")
	// The shop's sign-out button.
	do(t, tab, chromedp.Click(`//button[.="Sign out"]`), chromedp.WaitVisible(`//a[.="Sign in"]`))
	blocked.Store(false)
	do(t, tab, ready())
	var snap, stored string
	eval(t, tab, `herken.snapshot().then(s => JSON.stringify(s))`, &snap)
	require.NotContains(t, snap, "Alice Street")
	// The page reads the plugin's storage itself. Whatever keeps it from
	// reading is said, not waited on: a database that was never made
	// (its making aborted, so that the plugin can still make it), one
	// whose upgrade another connection holds, an error.
	eval(t, tab, `new Promise(ok => {
		const r = indexedDB.open("herken", 1);
		r.onupgradeneeded = () => { r.transaction.abort(); ok("[]"); };
		r.onblocked = () => ok("blocked: another connection holds the database's upgrade");
		r.onerror = () => { if (r.error && r.error.name !== "AbortError") ok("error: " + r.error); };
		r.onsuccess = () => {
			try {
				const g = r.result.transaction("state").objectStore("state").getAll();
				g.onsuccess = () => { r.result.close(); ok(JSON.stringify(g.result)); };
				g.onerror = () => ok("error: " + g.error);
			} catch (e) { ok("error: " + e); }
		};
	})`, &stored)
	require.True(t, strings.HasPrefix(stored, "["), "the page cannot read the plugin's storage: %s", stored)
	require.NotContains(t, stored, "Alice Street", "nothing of alice is stored in the browser")
	require.NotContains(t, stored, "pending note", "not even what was pending")
	do(t, tab, watchPrefill(), chromedp.Navigate(base+"/checkout"), ready(), chromedp.Poll(`window.prefilled === true`, nil))
	require.Empty(t, value(t, tab, "street"), "the form is not filled with alice's answers")

	// Bob signs in on the same browser.
	do(t, tab, signIn("bob"))
	eval(t, tab, `herken.snapshot().then(s => JSON.stringify(s))`, &snap)
	require.NotContains(t, snap, "Alice Street")
	require.NotContains(t, snap, "alice")
	require.Empty(t, value(t, tab, "street"))
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), fillCheckout("Bob Road 2", "bob@example.com"))
	synced(t, tab)

	var agent string
	do(t, tab, signInAgent(base), chromedp.Navigate(base+"/agent?q=alice"), chromedp.Text("main", &agent, chromedp.ByQuery))
	require.Contains(t, agent, "Alice Street 1", "alice keeps hers")
	require.NotContains(t, agent, "Bob Road")
	do(t, tab, chromedp.Navigate(base+"/agent?q=bob"), chromedp.Text("main", &agent, chromedp.ByQuery))
	require.Contains(t, agent, "Bob Road 2")
	require.NotContains(t, agent, "Alice Street")
	require.NotContains(t, agent, "pending note", "alice's pending change never reached bob")

	// Bob signs out through the plugin's API: the browser forgets him too.
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready())
	eval(t, tab, `herken.logout().then(() => herken.snapshot()).then(s => JSON.stringify(s))`, &snap)
	require.NotContains(t, snap, "Bob Road")
	do(t, tab, chromedp.Navigate(base+"/agent"), chromedp.Text("main", &agent, chromedp.ByQuery))
	require.Contains(t, agent, "no customer found", "the browser is nobody's now")
}
