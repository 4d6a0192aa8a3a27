package main

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserLabelsOfRememberedFields: the page's labels of the fields it
// remembers are kept in the browser with their fact keys, from each place a
// label can be (data-herken-label, <label for>, a wrapping <label>, a
// <legend>, aria-label, aria-labelledby), and never reach the server.
func TestBrowserLabelsOfRememberedFields(t *testing.T) {
	var mu sync.Mutex
	var sent strings.Builder // every body the browser sent the plugin
	base := front(t, startShop(t, t.TempDir()), func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/herken/") && r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(b)))
			mu.Lock()
			sent.Write(b)
			mu.Unlock()
		}
		return false
	})
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), checkoutWith(chromedp.Tasks{
		chromedp.SetValue(`input[name=phone]`, "+31 20 123 4567", chromedp.ByQuery),
		chromedp.Click(`input[name=extras][value=rain-cover]`, chromedp.ByQuery),
		// Fields labelled by ARIA only.
		chromedp.Evaluate(`document.querySelector("#checkout").insertAdjacentHTML("beforeend",
			'<span id="door-label">Door code</span> <input data-herken-fact="delivery.door" aria-labelledby="door-label" value="4711">' +
			'<input data-herken-fact="delivery.floor" aria-label="Floor" value="3">')`, nil),
	}))
	synced(t, tab)
	var labels map[string]string
	eval(t, tab, `herken.snapshot().then(s => s.labels)`, &labels)
	require.Equal(t, map[string]string{
		"contact.name":      "Name",
		"contact.email":     "Email",
		"contact.phone":     "Phone (for the courier)", // <label for>
		"shipping.street":   "Street",
		"shipping.postcode": "Postcode",
		"shipping.city":     "City",
		"order.size":        "Size", // the wrapping label, without the options' text
		"order.quantity":    "Quantity",
		"delivery.speed":    "Delivery", // the radio group's legend
		"delivery.days":     "Days we may deliver",
		"order.extras":      "Extras",
		"order.giftwrap":    "Gift wrap", // data-herken-label
		"delivery.door":     "Door code", // aria-labelledby
		"delivery.floor":    "Floor",     // aria-label
	}, labels)

	// Kept over a reload, in the browser only.
	do(t, tab, chromedp.Reload(), ready())
	eval(t, tab, `herken.snapshot().then(s => s.labels)`, &labels)
	require.Equal(t, "Door code", labels["delivery.door"])
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, sent.String(), "4711", "the fact went to the server")
	for _, l := range []string{"Door code", "Phone (for the courier)", "Gift wrap", "Days we may deliver"} {
		require.NotContains(t, sent.String(), l, "a label reached the server")
	}
}

// TestBrowserHostilePageCannotGrowTheLabels: a page that remembers facts
// with labels of every size, shape and number keeps at most 256 labels of
// at most 120 characters, for fact keys only, and nothing it sends as a
// label breaks the worker.
func TestBrowserHostilePageCannotGrowTheLabels(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.Navigate(base+"/"), ready())
	var refused []string
	eval(t, tab, `(async () => {
		const out = [];
		const long = "x".repeat(100000);
		for (let i = 0; i < 400; i++) {
			await herken.remember([{key: "hostile.k" + i, value: "v", label: long + i}]).catch(e => out.push(e.message));
		}
		for (const label of [{toString() { return "object" }}, 42, null, ["a"], "   "]) {
			await herken.remember([{key: "hostile.shape", value: "v", label}]).catch(e => out.push(e.message));
		}
		await herken.remember([{key: "Not A Key", value: "v", label: "bad key"}]).catch(e => out.push("bad key: " + e.message));
		return out;
	})()`, &refused)
	require.NotEmpty(t, refused, "the facts past the limit are refused")
	require.Contains(t, strings.Join(refused, "\n"), "bad key: ", "an invalid key is refused")

	var stored struct {
		Count, Longest int
		BadKey, Shape  bool
	}
	eval(t, tab, `new Promise(ok => { const r = indexedDB.open("herken", 1); r.onsuccess = () => {
		const g = r.result.transaction("state").objectStore("state").get("notes"); g.onsuccess = () => {
			const l = g.result.labels;
			ok({count: l.size, longest: Math.max(...[...l.values()].map(v => v.length)), badKey: l.has("Not A Key"), shape: l.has("hostile.shape")});
		}; }; })`, &stored)
	require.LessOrEqual(t, stored.Count, 256)
	require.Positive(t, stored.Count)
	require.LessOrEqual(t, stored.Longest, 120)
	require.False(t, stored.BadKey)
	require.False(t, stored.Shape, "labels that are not text, or blank, are not kept")

	var snap struct {
		Labels map[string]string `json:"labels"`
	}
	eval(t, tab, `herken.snapshot()`, &snap)
	require.LessOrEqual(t, len(snap.Labels), 256)
	for k, l := range snap.Labels {
		require.True(t, strings.HasPrefix(k, "hostile.k"), k)
		require.LessOrEqual(t, len(l), 120)
	}
	// The worker still serves: a label changes with its field's.
	var ok bool
	eval(t, tab, `herken.remember([{key: "hostile.k1", value: "w", label: "Friendly"}]).then(() => herken.snapshot()).then(s => s.labels["hostile.k1"] === "Friendly")`, &ok)
	require.True(t, ok)
	// A change refused changes no label, though the labels are stored
	// while the change is made.
	var after struct {
		Refused      bool
		Label, Fresh string
	}
	eval(t, tab, `herken.remember([{key: "hostile.k1", value: "x", label: "Changed"}, {key: "hostile.fresh", value: "y", label: "New"}, {key: "Not A Key", value: "v"}])
		.then(() => false, () => true).then(refused => new Promise(ok => { const r = indexedDB.open("herken", 1); r.onsuccess = () => {
			const g = r.result.transaction("state").objectStore("state").get("notes"); g.onsuccess = () => {
				const l = g.result.labels;
				ok({refused, label: l.get("hostile.k1") || "", fresh: l.get("hostile.fresh") || ""});
			}; }; }))`, &after)
	require.True(t, after.Refused, "a change with an invalid key is refused")
	require.Equal(t, "Friendly", after.Label, "a refused change put a label back as it was")
	require.Empty(t, after.Fresh, "a refused change left a label of a field it did not keep")
}
