package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

// The widget's shadow root, and what the tests read and click in it.
const widgetRoot = `document.querySelector("[data-herken-widget-host]").shadowRoot`

func until(js string) chromedp.Action {
	return chromedp.Poll(js, nil, chromedp.WithPollingTimeout(20*time.Second))
}

// clickText clicks the widget's button whose text is text.
func clickText(text string) chromedp.Action {
	return chromedp.Evaluate(`[...`+widgetRoot+`.querySelectorAll("button")].find(b => b.textContent === `+jsString(text)+`).click()`, nil)
}

// panelHas waits until the widget's panel shows text.
func panelHas(text string) chromedp.Action {
	return until(widgetRoot + `.querySelector(".p") && ` + widgetRoot + `.querySelector(".p").textContent.includes(` + jsString(text) + `)`)
}

func panelText(t *testing.T, tab context.Context) string {
	var s string
	do(t, tab, chromedp.Evaluate(widgetRoot+`.querySelector(".p").textContent`, &s))
	return s
}

// openWidget opens the floating widget.
func openWidget() chromedp.Action {
	return chromedp.Tasks{
		until(`document.querySelector("[data-herken-widget-host]") !== null && ` + widgetRoot + `.querySelector("button.b") !== null`),
		chromedp.Evaluate(widgetRoot+`.querySelector("button.b").click()`, nil),
		until(`!` + widgetRoot + `.querySelector(".p").hidden && ` + widgetRoot + `.querySelector("textarea") !== null`),
	}
}

// pageServer serves pages of a test's own, each with the plugin, and the
// plugin's handler on a store of its own.
func pageServer(t *testing.T, pages map[string]string) string {
	t.Helper()
	s, err := memory.Open(context.Background(), memory.InMemoryOptions())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	h, err := plugin.New(s, plugin.Options{Secret: []byte("a test secret of at least 32 bytes, kept here"), Rate: rate.Inf, ClaimFloor: -1})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/herken/", http.StripPrefix("/herken", h))
	for path, html := range pages {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", csp)
			fmt.Fprint(w, html)
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestWidgetShowsWhatWeRemember: the customer's view lists every kind of
// thing kept (answers, open questions, the cart, the last contact), each
// with a label rather than its key, why it is kept and until when.
func TestWidgetShowsWhatWeRemember(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	// Signed in, so that the account is a verified identifier of hers.
	do(t, tab, chromedp.Navigate(base+"/login"), chromedp.SetValue(`input[name=account]`, "ada-1", chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible(`//h1[.="Checkout"]`), ready(),
		fillCheckout("Herengracht 3", "ada@example.com"))
	expires := time.Now().Add(40 * 24 * time.Hour).UTC().Format(time.RFC3339)
	var ok bool
	eval(t, tab, `herken.remember([{key: "delivery.note", value: "Ring twice", purpose: "personalization", expires: `+jsString(expires)+`},
			{key: "gift.message", value: "<img src=x onerror=\"window.injected = true\">"}, {key: "order.number", value: "Z-77"}])
		.then(() => herken.openIssue("Where is my parcel?"))
		.then(() => herken.saveDraft("cart", JSON.stringify({item: "trail-jacket"})))
		.then(() => herken.consent({purpose: "marketing", channel: "email", granted: false}))
		.then(() => herken.sync())`, &ok)
	require.True(t, ok)

	// On the checkout, the page's own labels name its fields.
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), openWidget(), clickText("What we remember about you"), panelHas("Herengracht 3"))
	text := panelText(t, tab)
	for _, want := range []string{
		"Answers you gave", "Street: Herengracht 3", "Postcode: 1011 AB", "Name: Ada Lovelace", "City: Amsterdam",
		"Why: to serve you: orders, delivery and help", "Kept until you ask us to forget it",
		"Why: to suit this shop to you", "Kept until " + time.Now().Add(40*24*time.Hour).Format("January 2, 2006"),
		"Your open questions", "Where is my parcel?", "Kept while the question is open",
		"Work in progress", "cart", "so that you can continue where you left off",
		"Your last contact with us", "chat",
		"How we recognize you", "Your account: ada-1 (verified)", "Why: to recognize you when you come back",
		"Your choices about contact", "to send you offers (by e-mail): no", "Why: to respect what you chose",
	} {
		require.Contains(t, text, want)
	}
	for _, key := range []string{"shipping.street", "shipping.postcode", "contact.name", "contact.email"} {
		require.NotContains(t, text, key, "a label, not the key")
	}
	require.Contains(t, text, "Note for the courier: Ring twice", "the label the checkout's field has")
	require.Contains(t, text, "gift.message: <img", "a key nobody labelled is shown as it is, the last resort")
	require.Contains(t, text, "Extras: none chosen", "a choice of several, none chosen, in words")
	require.NotContains(t, text, "[]", "a list is shown as a list, not as its encoding")
	var injected bool
	do(t, tab, chromedp.Evaluate(`window.injected === true || `+widgetRoot+`.querySelector("img") !== null`, &injected))
	require.False(t, injected, "what the memory holds is shown as text, never as markup")
	require.Contains(t, text, `<img src=x onerror="window.injected = true">`)

	// On a page without the form, the labels the checkout's fields had
	// when they were remembered, kept in the browser; for a common key
	// remembered with none, the built-in label.
	do(t, tab, chromedp.Navigate(base+"/"), ready(), openWidget(), clickText("What we remember about you"), panelHas("Herengracht 3"))
	text = panelText(t, tab)
	require.Contains(t, text, "Street: Herengracht 3")
	require.Contains(t, text, "Email: ada@example.com")
	require.Contains(t, text, "Order number: Z-77")
	require.NotContains(t, text, "shipping.street")
}

// downloads makes the tab's browser context save downloads in a folder,
// and returns it with a channel that gets the folder's path of each
// download once Chromium says it is complete.
func downloads(t *testing.T, tab context.Context) (string, <-chan string) {
	dir := t.TempDir()
	done := make(chan string, 4)
	chromedp.ListenBrowser(tab, func(ev any) {
		if p, ok := ev.(*browser.EventDownloadProgress); ok && p.State == browser.DownloadProgressStateCompleted {
			select {
			case done <- p.FilePath:
			default:
			}
		}
	})
	do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		c := chromedp.FromContext(ctx)
		info, err := target.GetTargetInfo().WithTargetID(c.Target.TargetID).Do(cdp.WithExecutor(ctx, c.Browser))
		if err != nil {
			return err
		}
		return browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(dir).
			WithBrowserContextID(info.BrowserContextID).WithEventsEnabled(true).Do(cdp.WithExecutor(ctx, c.Browser))
	}))
	return dir, done
}

// waitFile waits until Chromium says a download is complete, and returns
// the file in dir whose name starts with prefix.
func waitFile(t *testing.T, dir string, done <-chan string, prefix string) []byte {
	t.Helper()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("no download completed in %s", dir)
	}
	names, err := filepath.Glob(filepath.Join(dir, prefix+"*.json"))
	require.NoError(t, err)
	require.Len(t, names, 1, "one download %s* in %s", prefix, dir)
	b, err := os.ReadFile(names[0])
	require.NoError(t, err)
	return b
}

// TestWidgetExportIsADownload: "Download all my data" saves the access
// request's file, what the server holds (the history too), not the
// browser's snapshot.
func TestWidgetExportIsADownload(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	dir, done := downloads(t, tab)
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), fillCheckout("Herengracht 3", "ada@example.com"))
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), fillCheckout("Singel 5", "ada@example.com"))
	synced(t, tab)
	do(t, tab, openWidget(), clickText("What we remember about you"), panelHas("Singel 5"), clickText("Download all my data"),
		panelHas("Your data is downloaded as herken-export-"))
	var x memory.Export
	require.NoError(t, json.Unmarshal(waitFile(t, dir, done, "herken-export-"), &x))
	require.Equal(t, memory.ExportFormat, x.Format)
	require.NotNil(t, x.Customer)
	require.NotEmpty(t, x.History)
	raw, _ := json.Marshal(x.History)
	require.Contains(t, string(raw), "Herengracht 3", "the history holds the earlier street")
	for _, id := range x.Customer.Identifiers {
		if id.Kind == memory.KindDevice {
			require.True(t, strings.HasPrefix(id.Value, "device-"), "the cookie's hash is withheld")
		}
	}
}

// TestWidgetKeyboardAndFocus: the button says whether the panel is open and
// which it is; opening moves the focus into the panel, Tab reaches the
// close button with a visible focus ring, Esc closes and gives the focus
// back to the button, and so does the close button.
func TestWidgetKeyboardAndFocus(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	var s string
	var b bool
	do(t, tab, chromedp.Navigate(base+"/"), ready(), until(`document.querySelector("[data-herken-widget-host]") !== null`))
	do(t, tab, chromedp.Evaluate(widgetRoot+`.querySelector("button.b").getAttribute("aria-expanded")`, &s))
	require.Equal(t, "false", s)
	do(t, tab, chromedp.Evaluate(`(() => { const r = `+widgetRoot+`, b = r.querySelector("button.b"), p = r.getElementById(b.getAttribute("aria-controls"));
		return p !== null && p.getAttribute("role") === "dialog" && r.getElementById(p.getAttribute("aria-labelledby")) !== null
			&& r.querySelector("[role=status][aria-live=polite]") !== null })()`, &b))
	require.True(t, b, "aria-controls names the dialog, which its title labels; a live region for status")

	// Enter on the focused button opens the panel, and the focus moves in.
	do(t, tab, chromedp.Evaluate(widgetRoot+`.querySelector("button.b").focus()`, nil), chromedp.KeyEvent(kb.Enter),
		until(`!`+widgetRoot+`.querySelector(".p").hidden && `+widgetRoot+`.querySelector(".p").contains(`+widgetRoot+`.activeElement)`))
	do(t, tab, chromedp.Evaluate(widgetRoot+`.querySelector("button.b").getAttribute("aria-expanded")`, &s))
	require.Equal(t, "true", s)
	do(t, tab, chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(widgetRoot+`.activeElement.getAttribute("aria-label")`, &s))
	require.Equal(t, "Close help", s, "Tab goes from the title to the close button")
	do(t, tab, chromedp.Evaluate(`getComputedStyle(`+widgetRoot+`.activeElement).outlineStyle + " " + getComputedStyle(`+widgetRoot+`.activeElement).outlineWidth`, &s))
	require.Equal(t, "solid 3px", s, "the focus is visible")
	do(t, tab, chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(widgetRoot+`.activeElement.tagName`, &s))
	require.Contains(t, []string{"TEXTAREA", "BUTTON"}, s, "then into the panel's content")

	// Esc closes and the focus returns to the button.
	do(t, tab, chromedp.KeyEvent(kb.Escape), until(widgetRoot+`.querySelector(".p").hidden && `+widgetRoot+`.activeElement === `+widgetRoot+`.querySelector("button.b")`))
	do(t, tab, chromedp.Evaluate(widgetRoot+`.querySelector("button.b").getAttribute("aria-expanded")`, &s))
	require.Equal(t, "false", s)

	// The close button does the same.
	do(t, tab, openWidget(), chromedp.Evaluate(widgetRoot+`.querySelector("button.x").click()`, nil),
		until(widgetRoot+`.querySelector(".p").hidden && `+widgetRoot+`.activeElement === `+widgetRoot+`.querySelector("button.b")`))
}

// TestWidgetTheming: the shop's custom properties reach the widget.
func TestWidgetTheming(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(base+"/"), ready(), until(`document.querySelector("[data-herken-widget-host]") !== null`),
		chromedp.Evaluate(`const st = document.documentElement.style; st.setProperty("--herken-accent", "rgb(10, 20, 30)");
			st.setProperty("--herken-font", "monospace"); st.setProperty("--herken-radius", "0px"); st.setProperty("--herken-left", "16px");
			st.setProperty("--herken-right", "auto")`, nil), openWidget())
	var got map[string]string
	eval(t, tab, `(() => { const b = getComputedStyle(`+widgetRoot+`.querySelector("button.b")), p = getComputedStyle(`+widgetRoot+`.querySelector(".p"));
		return {bg: b.backgroundColor, font: b.fontFamily, radius: p.borderTopLeftRadius, left: p.left} })()`, &got)
	require.Equal(t, map[string]string{"bg": "rgb(10, 20, 30)", "font": "monospace", "radius": "0px", "left": "16px"}, got)
}

// TestWidgetOfflineNotice: the widget says when the browser is offline,
// and that what the customer does is kept; the notice goes when it is
// back.
func TestWidgetOfflineNotice(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(base+"/"), ready(), openWidget())
	require.NotContains(t, panelText(t, tab), "You are offline")
	do(t, tab, network.Enable(), network.EmulateNetworkConditions(true, 0, -1, -1), panelHas("You are offline"))
	do(t, tab, chromedp.Evaluate(widgetRoot+`.querySelector("textarea").value = "Asked offline"`, nil), clickText("Send"),
		panelHas("Your question is kept in this browser"))
	do(t, tab, network.EmulateNetworkConditions(false, 0, -1, -1),
		until(`!`+widgetRoot+`.querySelector(".p").textContent.includes("You are offline")`))
}

// widgetPage is a page of the shop's making with the plugin on it.
func widgetPage(htmlLang, scriptAttrs, body string) string {
	return `<!doctype html><html lang="` + htmlLang + `"><head><meta charset="utf-8"><title>A page</title></head><body><main><h1>A page</h1>` + body +
		`</main><script src="/herken/herken.js" defer ` + scriptAttrs + `></script></body></html>`
}

// TestWidgetLanguages: Dutch and English from the page's lang or the
// script tag's, and a shop's own strings and labels over either.
func TestWidgetLanguages(t *testing.T) {
	const strings = `<script type="application/json" id="help-strings">{"help": "Questions?", "labels": {"delivery.note": "Note for the courier"}}</script>`
	const perLanguage = `<script type="application/json" id="help-strings">{"nl": {"help": "Hulp nodig?"}, "en": {"help": "Need help?"}}</script>`
	base := pageServer(t, map[string]string{
		"/nl":           widgetPage("nl", "", `<label>Cadeaubericht <input data-herken-fact="gift.message"></label>`),
		"/en":           widgetPage("en-GB", "", ""),
		"/nl-tag":       widgetPage("en", `lang="nl"`, ""),
		"/own":          widgetPage("en", `data-strings="help-strings"`, strings),
		"/per-language": widgetPage("nl-NL", `data-strings="help-strings"`, perLanguage),
		"/labelled":     widgetPage("en", "", `<input aria-label="x" data-herken-fact="gift.message" data-herken-label="Gift message">`),
	})
	tab := newVisitor(t)
	buttonText := func(path string) string {
		var s string
		do(t, tab, chromedp.Navigate(base+path), ready(), until(`document.querySelector("[data-herken-widget-host]") !== null`),
			chromedp.Evaluate(widgetRoot+`.querySelector("button.b").textContent`, &s))
		return s
	}
	require.Equal(t, "Hulp", buttonText("/nl"))
	require.Equal(t, "Help", buttonText("/en"))
	require.Equal(t, "Hulp", buttonText("/nl-tag"), "the script tag's lang wins")
	require.Equal(t, "Questions?", buttonText("/own"))
	require.Equal(t, "Hulp nodig?", buttonText("/per-language"))

	var ok bool
	eval(t, tab, `herken.remember([{key: "delivery.note", value: "Ring twice"}, {key: "gift.message", value: "Happy birthday"},
		{key: "shipping.postcode", value: "1011 AB"}]).then(() => true)`, &ok)
	do(t, tab, chromedp.Navigate(base+"/nl"), ready(), openWidget(), panelHas("Waarmee kunnen we helpen?"),
		clickText("Wat we over u onthouden"), panelHas("Happy birthday"))
	text := panelText(t, tab)
	for _, want := range []string{"Antwoorden die u gaf", "Cadeaubericht: Happy birthday", "Postcode: 1011 AB",
		"Waarom: om u te bedienen", "Bewaard tot u ons vraagt het te vergeten", "Al mijn gegevens downloaden", "Vergeet mij"} {
		require.Contains(t, text, want)
	}
	do(t, tab, clickText("Vergeet mij"), panelHas("Dit kan niet ongedaan worden gemaakt"), clickText("Annuleren"), panelHas("Happy birthday"))

	do(t, tab, chromedp.Navigate(base+"/own"), ready(), openWidget(), clickText("What we remember about you"), panelHas("Ring twice"))
	require.Contains(t, panelText(t, tab), "Note for the courier: Ring twice", "the shop's own label")
	do(t, tab, chromedp.Navigate(base+"/labelled"), ready(), openWidget(), clickText("What we remember about you"), panelHas("Happy birthday"))
	require.Contains(t, panelText(t, tab), "Gift message: Happy birthday", "data-herken-label")
}

// TestWidgetInline: an element marked data-herken-widget hosts the panel in
// the page, open, with no floating button.
func TestWidgetInline(t *testing.T) {
	base := pageServer(t, map[string]string{
		"/help": widgetPage("en", "", `<p>Ask us anything.</p><section id="help" data-herken-widget></section>`),
	})
	tab := newVisitor(t)
	var got map[string]any
	do(t, tab, chromedp.Navigate(base+"/help"), ready(), until(`document.getElementById("help").shadowRoot !== null &&
		document.getElementById("help").shadowRoot.querySelector("textarea") !== null`))
	eval(t, tab, `(() => { const r = document.getElementById("help").shadowRoot, p = r.querySelector(".p");
		return {hosts: document.querySelectorAll("[data-herken-widget-host]").length, button: r.querySelector("button.b") !== null,
			role: p.getAttribute("role"), hidden: p.hidden, position: getComputedStyle(p).position, title: r.querySelector("h2").textContent} })()`, &got)
	require.Equal(t, map[string]any{"hosts": 1.0, "button": false, "role": "region", "hidden": false, "position": "static", "title": "How can we help?"}, got)
	do(t, tab, chromedp.Evaluate(`document.getElementById("help").shadowRoot.querySelector("textarea").value = "Inline question"`, nil),
		chromedp.Evaluate(`[...document.getElementById("help").shadowRoot.querySelectorAll("button")].find(b => b.textContent === "Send").click()`, nil),
		until(`document.getElementById("help").shadowRoot.querySelector("li[data-issue]") !== null`))
}

// TestWidgetContinueCallsResume: "continue where you left off" hands the
// draft's name to herken.resume, which restores the page it came from.
func TestWidgetContinueCallsResume(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	var ok bool
	do(t, tab, chromedp.Navigate(base+"/"), ready())
	eval(t, tab, `herken.saveDraft("cart", "{}").then(() => true)`, &ok)
	// The next page's session brings the draft into the browser's memory.
	do(t, tab, chromedp.Navigate(base+"/?again"), ready(), chromedp.Evaluate(`herken.resume = (name) => { window.resumed = name; return Promise.resolve(true) }`, nil),
		openWidget(), panelHas("Continue where you left off (cart)"), clickText("Continue where you left off (cart)"),
		until(`window.resumed === "cart"`))
	var path string
	do(t, tab, chromedp.Evaluate(`location.pathname`, &path))
	require.Equal(t, "/", path, "herken.resume, not the shop's herken:continue, decides where to go")
}
