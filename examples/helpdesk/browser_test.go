package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/examples/internal/browsertest"
)

// TestMain runs the tests, or, for the tests that run the command itself
// (TestHelpExitsZero), the command.
func TestMain(m *testing.M) {
	if os.Getenv("HERKEN_HELPDESK_MAIN") == "1" {
		os.Args = append([]string{"helpdesk"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	browsertest.Main(m)
}

func receive(channel, kind, value string, verified bool, kind2, value2 string, verified2 bool, subject string) chromedp.Action {
	set := func(sel, v string) chromedp.Action {
		return chromedp.Evaluate(`document.querySelector("`+sel+`").value = `+strconv.Quote(v), nil)
	}
	check := func(sel string, on bool) chromedp.Action {
		return chromedp.Evaluate(`document.querySelector("`+sel+`").checked = `+map[bool]string{true: "true", false: "false"}[on], nil)
	}
	return chromedp.Tasks{
		set("#channel", channel), set("#kind", kind), set("#value", value), check("#verified", verified),
		set("#kind2", kind2), set("#value2", value2), check("#verified2", verified2),
		set("#subject", subject),
		chromedp.Evaluate(`document.querySelector("#receive").click()`, nil),
	}
}

func TestBrowserHelpDesk(t *testing.T) {
	base := startDesk(t) // stopped after the tab closes
	tab := browsertest.NewContext(t)
	pageErrors(t, tab)
	var first, second, text string

	// A contact by email, then by phone from the same customer.
	browsertest.Do(t, tab, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#contact-form", chromedp.ByQuery),
		receive("email", "email", "ada@example.com", false, "email", "", false, "Broken zipper"),
		chromedp.Poll(`(document.querySelector("#name") || {}).textContent === "Ada Lovelace"`, nil, chromedp.WithPollingTimeout(pollTimeout)),
		chromedp.Evaluate(`document.querySelector("#customer").dataset.customer`, &first),
		receive("phone", "phone", "+31 6 12345678", false, "email", "", false, "Broken zipper"),
		chromedp.Poll(`document.querySelector("#escalate").classList.contains("on")`, nil, chromedp.WithPollingTimeout(pollTimeout)),
		chromedp.Evaluate(`document.querySelector("#customer").dataset.customer`, &second),
		chromedp.Evaluate(`document.querySelector("#issues").textContent`, &text),
	)
	require.Equal(t, first, second, "one customer across email and phone")
	require.Contains(t, text, "ESCALATED")
	require.Contains(t, text, "2 contacts")
	// The live feed got the escalation.
	browsertest.Do(t, tab, chromedp.Poll(`[...document.querySelectorAll("#feed li")].some(li => li.dataset.kind === "issue.escalated")`, nil,
		chromedp.WithPollingTimeout(pollTimeout)))

	// A chat device, then a verified login that proves it is Ada: merged.
	var device string
	browsertest.Do(t, tab,
		receive("chat", "device", "chat-device-0001", true, "email", "", false, "Size question"),
		chromedp.Poll(`(document.querySelector("#name") || {}).textContent === "(no name yet)"`, nil, chromedp.WithPollingTimeout(pollTimeout)),
		chromedp.Evaluate(`document.querySelector("#customer").dataset.customer`, &device),
		receive("chat", "device", "chat-device-0001", true, "email", "ada@example.com", true, "Size question"),
		chromedp.Poll(`document.querySelectorAll("#merges button").length === 1`, nil, chromedp.WithPollingTimeout(pollTimeout)),
		chromedp.Poll(`[...document.querySelectorAll("#feed li")].some(li => li.dataset.kind === "customer.merged")`, nil, chromedp.WithPollingTimeout(pollTimeout)),
	)
	require.NotEqual(t, first, device)
	var shown string
	browsertest.Do(t, tab, chromedp.Evaluate(`document.querySelector("#customer").dataset.customer`, &shown), chromedp.Evaluate(`document.querySelector("#identifiers").textContent`, &text))
	require.Equal(t, first, shown, "the older customer survives")
	require.Contains(t, text, "device: chat-device-0001")

	// Undo: two customers again.
	browsertest.Do(t, tab,
		chromedp.Evaluate(`document.querySelector("#merges button").click()`, nil),
		chromedp.Poll(`document.querySelector("#merges").textContent.includes("none")`, nil, chromedp.WithPollingTimeout(pollTimeout)),
		chromedp.Evaluate(`document.querySelector("#identifiers").textContent`, &text),
	)
	require.NotContains(t, text, "chat-device-0001", "the device went back to its own customer")
	browsertest.Do(t, tab,
		receive("chat", "device", "chat-device-0001", false, "email", "", false, "Size question"),
		chromedp.Poll(`document.querySelector("#customer").dataset.customer === "`+device+`"`, nil, chromedp.WithPollingTimeout(pollTimeout)),
	)
	require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"))
}

// pageErrors fails the test, when it ends, for any console error, failed
// load or uncaught exception in tab; call check to fail at once instead.
func pageErrors(t *testing.T, tab context.Context) (check func()) {
	t.Helper()
	var mu sync.Mutex
	var errs []string
	add := func(s string) { mu.Lock(); errs = append(errs, s); mu.Unlock() }
	chromedp.ListenTarget(tab, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			add("uncaught: " + msg)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError || e.Type == runtime.APITypeAssert || e.Type == runtime.APITypeWarning {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				add("console." + string(e.Type) + ": " + strings.Join(parts, " "))
			}
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.LevelError {
				add("log: " + e.Entry.Text + " " + e.Entry.URL)
			}
		}
	})
	browsertest.Do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error { return cdplog.Enable().Do(ctx) }))
	check = func() {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		require.Empty(t, errs, "the page reported errors")
	}
	t.Cleanup(check)
	return check
}

// poll waits for a JavaScript condition, bounded.
// pollTimeout bounds a wait for the page; generous, for a loaded machine:
// it bounds a hang, it is not a speed goal.
const pollTimeout = 25 * time.Second

func poll(cond string) chromedp.Action {
	return chromedp.Poll(cond, nil, chromedp.WithPollingTimeout(pollTimeout))
}

// leave navigates the tab away, so that its live feed does not see the
// desk stop (the page would log the lost connection).
func leave(t *testing.T, tab context.Context) {
	browsertest.Do(t, tab, chromedp.Navigate("about:blank"))
}

func inboxCustomers(t *testing.T, tab context.Context) []string {
	var ids []string
	browsertest.Do(t, tab, chromedp.Evaluate(`[...document.querySelectorAll("#inbox li")].map(li => li.dataset.customer)`, &ids))
	return ids
}

// TestBrowserEmptyInbox: a desk with nobody waiting loads without a console
// error or an uncaught exception (it threw "Cannot read properties of null
// (reading 'map')") and says the inbox is empty.
func TestBrowserEmptyInbox(t *testing.T) {
	base := startDesk(t) // stopped after the tab closes
	tab := browsertest.NewContext(t)
	check := pageErrors(t, tab)
	var text string
	browsertest.Do(t, tab, chromedp.Navigate(base+"/"),
		poll(`!document.querySelector("#inbox-empty").hidden`),
		poll(`!document.querySelector("#feed-empty").hidden`),
		chromedp.Text("#inbox-empty", &text, chromedp.ByQuery))
	require.Contains(t, text, "Nothing waiting")
	require.Empty(t, inboxCustomers(t, tab))
	// The filters too.
	for _, f := range []string{"escalated", "at-risk", "waiting", "all"} {
		browsertest.Do(t, tab, chromedp.Evaluate(`document.querySelector('[data-show="`+f+`"]').click()`, nil),
			poll(`document.querySelector("#inbox").dataset.show === "`+f+`" && !document.querySelector("#inbox-empty").hidden`))
	}
	check()
}

// TestBrowserRestartKeepsInbox: the inbox and the feed's recent lines come
// from the store: after the desk restarts on the same data folder, a new
// page shows the same inbox, in the same order, and the feed shows what
// happened before, by name.
func TestBrowserRestartKeepsInbox(t *testing.T) {
	dir := t.TempDir()
	base, stop := startDeskIn(t, dir)
	var item inboxItem
	require.Equal(t, 200, post(t, base+"/api/contacts", `{"channel":"email","from":[{"kind":"email","value":"ada@example.com"}],"subject":"Broken zipper"}`, &item))
	require.Equal(t, 200, post(t, base+"/api/contacts", `{"channel":"phone","from":[{"kind":"phone","value":"+31687654321"}],"subject":"Invoice address"}`, nil))
	require.Equal(t, 200, post(t, base+"/api/contacts", `{"channel":"phone","from":[{"kind":"phone","value":"06 12345678"}],"subject":"Broken zipper"}`, nil))

	tab := browsertest.NewContext(t)
	check := pageErrors(t, tab)
	browsertest.Do(t, tab, chromedp.Navigate(base+"/"), poll(`document.querySelectorAll("#inbox li").length === 2`))
	before := inboxCustomers(t, tab)
	require.Equal(t, string(item.Customer), before[0], "the newest contact first")
	leave(t, tab)
	check()
	stop()

	base, _ = startDeskIn(t, dir)
	tab = browsertest.NewContext(t)
	check = pageErrors(t, tab)
	var feed string
	browsertest.Do(t, tab, chromedp.Navigate(base+"/"),
		poll(`document.querySelectorAll("#inbox li").length === 2`),
		poll(`[...document.querySelectorAll("#feed li")].some(li => li.dataset.kind === "issue.escalated")`),
		chromedp.Text("#feed", &feed, chromedp.ByQuery))
	require.Equal(t, before, inboxCustomers(t, tab), "the same inbox after the restart")
	require.Contains(t, feed, "Ada Lovelace")
	require.Contains(t, feed, "Grace Hopper")
	require.Contains(t, feed, "escalated: Broken zipper")
	var escalated bool
	browsertest.Do(t, tab, chromedp.Evaluate(`document.querySelector('#inbox li[data-customer="`+before[0]+`"] .pill.esc') !== null`, &escalated))
	require.True(t, escalated, "the escalation is in the inbox")
	check()
}

// TestBrowserForgetLeavesEveryList: after Forget the customer is gone from
// the inbox and the feed of the page that forgot, and of another agent's
// page, at once; a click on what is left says the customer is gone, not
// "memory: not found"; the receipt says readably what was erased and when.
func TestBrowserForgetLeavesEveryList(t *testing.T) {
	base := startDesk(t)
	var ada, grace inboxItem
	require.Equal(t, 200, post(t, base+"/api/contacts", `{"channel":"email","from":[{"kind":"email","value":"ada@example.com"}],"subject":"Broken zipper"}`, &ada))
	require.Equal(t, 200, post(t, base+"/api/contacts", `{"channel":"phone","from":[{"kind":"phone","value":"+31687654321"}],"subject":"Invoice address"}`, &grace))
	id := string(ada.Customer)
	hasAda := `[...document.querySelectorAll("#inbox li, #feed li")].some(li => li.dataset.customer === "` + id + `" && li.dataset.kind !== "customer.forgotten")`

	other := browsertest.NewContext(t)
	checkOther := pageErrors(t, other)
	browsertest.Do(t, other, chromedp.Navigate(base+"/"), poll(hasAda), poll(`document.querySelectorAll("#feed li").length >= 2`))

	tab := browsertest.NewContext(t)
	check := pageErrors(t, tab)
	var receipt, at string
	var clipped bool
	browsertest.Do(t, tab, chromedp.Navigate(base+"/"), poll(hasAda))
	browsertest.Do(t, tab, chromedp.Evaluate(`void showCustomer("`+id+`")`, nil),
		poll(`document.querySelector("#customer").dataset.customer === "`+id+`" && document.querySelector("#forget") !== null`))
	browsertest.Do(t, tab, chromedp.Evaluate(`document.querySelector("#forget").click()`, nil),
		poll(`document.querySelector("#forget-confirm") !== null`))
	browsertest.Do(t, tab, chromedp.Evaluate(`document.querySelector("#forget-confirm").click()`, nil),
		poll(`document.querySelector("#receipt") !== null`))
	browsertest.Do(t, tab, poll("!("+hasAda+")"),
		chromedp.Text("#receipt", &receipt, chromedp.ByQuery),
		chromedp.Text("#receipt-at", &at, chromedp.ByQuery),
		chromedp.Evaluate(`(() => { const s = document.querySelector("#customer"), r = document.querySelector("#receipt"); return s.scrollWidth > s.clientWidth || r.getBoundingClientRect().right > s.getBoundingClientRect().right })()`, &clipped),
	)
	require.NotContains(t, receipt, "{", "the receipt is not raw JSON")
	require.Contains(t, strings.ToLower(receipt), "what was erased")
	require.Contains(t, receipt, "1 issue")
	require.Contains(t, receipt, "identifiers")
	require.Regexp(t, `20\d\d`, at, "when it was erased, as a date")
	require.False(t, clipped, "the receipt fits its panel")
	require.Equal(t, []string{string(grace.Customer)}, inboxCustomers(t, tab))

	// The other agent's page drops Ada with the feed's forget line.
	browsertest.Do(t, other, poll("!("+hasAda+")"),
		poll(`[...document.querySelectorAll("#feed li")].some(li => li.dataset.kind === "customer.forgotten")`))
	require.Equal(t, []string{string(grace.Customer)}, inboxCustomers(t, other))
	// A link to her kept somewhere (a bookmark, a stale line) says she is gone.
	var gone string
	browsertest.Do(t, other, chromedp.Evaluate(`void showCustomer("`+id+`")`, nil), poll(`document.querySelector("#gone") !== null`),
		chromedp.Text("#customer", &gone, chromedp.ByQuery))
	require.Contains(t, gone, "no longer in memory")
	require.NotContains(t, gone, "not found")
	check()
	checkOther()
}

// TestBrowserFeedShowsNames: feed lines name the customer, never by the
// store's customer ID.
func TestBrowserFeedShowsNames(t *testing.T) {
	base := startDesk(t) // stopped after the tab closes
	tab := browsertest.NewContext(t)
	check := pageErrors(t, tab)
	var feed string
	var ids []string
	browsertest.Do(t, tab, chromedp.Navigate(base+"/"), poll(`!document.querySelector("#feed-empty").hidden`),
		receive("email", "email", "ada@example.com", false, "email", "", false, "Broken zipper"),
		poll(`document.querySelector("#subject").value === "" && !document.querySelector("#receive").disabled`),
		receive("email", "email", "newcomer@example.com", false, "email", "", false, "Do you ship to Belgium?"),
		poll(`document.querySelectorAll("#feed li").length >= 2`),
		chromedp.Text("#feed", &feed, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll("#feed li")].map(li => li.dataset.customer)`, &ids))
	require.Contains(t, feed, "Ada Lovelace — new issue on email: Broken zipper")
	require.Contains(t, feed, "newcomer@example.com — new issue on email: Do you ship to Belgium?", "no name: the address they wrote from")
	for _, id := range ids {
		require.NotContains(t, feed, id)
	}
	check()
}

// TestBrowserFormCleared: after Receive the form is empty again, ready for
// the next contact, with the focus in its first field.
func TestBrowserFormCleared(t *testing.T) {
	base := startDesk(t) // stopped after the tab closes
	tab := browsertest.NewContext(t)
	check := pageErrors(t, tab)
	var values []string
	var focused string
	browsertest.Do(t, tab, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#contact-form", chromedp.ByQuery),
		receive("phone", "email", "ada@example.com", true, "phone", "+31612345678", true, "Broken zipper"),
		poll(`(document.querySelector("#name") || {}).textContent === "Ada Lovelace"`),
		chromedp.Evaluate(`["#value", "#value2", "#subject"].map(s => document.querySelector(s).value).concat([String(document.querySelector("#verified").checked), document.querySelector("#channel").value])`, &values),
		chromedp.Evaluate(`document.activeElement.id`, &focused))
	require.Equal(t, []string{"", "", "", "false", "email"}, values)
	require.Equal(t, "value", focused)
	check()
}
