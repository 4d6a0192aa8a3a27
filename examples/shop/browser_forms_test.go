package main

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// checkoutWith fills the checkout's required fields, runs change (the
// control under test, as a customer sets it), asks to be remembered and
// places the order.
func checkoutWith(change chromedp.Action) chromedp.Action {
	return chromedp.Tasks{
		chromedp.SetValue(`input[name=name]`, "Ada Lovelace", chromedp.ByQuery),
		chromedp.SetValue(`input[name=email]`, "ada@example.com", chromedp.ByQuery),
		chromedp.SetValue(`input[name=street]`, "Keizersgracht 1", chromedp.ByQuery),
		chromedp.SetValue(`input[name=postcode]`, "1011 AB", chromedp.ByQuery),
		chromedp.SetValue(`input[name=city]`, "Amsterdam", chromedp.ByQuery),
		change,
		chromedp.Click(`input[name=remember]`, chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[contains(., "Thank you")]`),
		ready(),
	}
}

// pick sets the options of a select by their values, as a customer's
// clicks do: the select hears input and change.
func pick(name string, values ...string) chromedp.Action {
	return chromedp.Evaluate(`(() => { const s = document.querySelector("select[name=`+name+`]"), want = `+jsList(values)+`;
		for (const o of s.options) o.selected = want.includes(o.value);
		s.dispatchEvent(new Event("input", {bubbles: true})); s.dispatchEvent(new Event("change", {bubbles: true})); })()`, nil)
}

// typeInto sets the value of the control sel, as typing does: it hears
// input and change.
func typeInto(sel, v string) chromedp.Action {
	return chromedp.Evaluate(`(() => { const e = document.querySelector(`+jsString(sel)+`); e.value = `+jsString(v)+`;
		e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); })()`, nil)
}

func jsList(vs []string) string {
	out := "["
	for i, v := range vs {
		if i > 0 {
			out += ","
		}
		out += jsString(v)
	}
	return out + "]"
}

// TestBrowserFormControlsComeBackExactly: each kind of form control is
// remembered as the customer left it and restored so on the next visit,
// both states of every boolean included; the fact value is the documented
// encoding (herken.js, "How a control's state becomes a fact value").
func TestBrowserFormControlsComeBackExactly(t *testing.T) {
	base := startShop(t, t.TempDir())
	radio := func(v string) chromedp.Action {
		return chromedp.Click(`input[name=delivery][value=`+v+`]`, chromedp.ByQuery)
	}
	box := func(sel string) chromedp.Action { return chromedp.Click(sel, chromedp.ByQuery) }
	const (
		giftwrap = `input[name=giftwrap]`
		cover    = `input[name=extras][value=rain-cover]`
		sack     = `input[name=extras][value=stuff-sack]`
	)
	cases := []struct {
		name   string
		visits []chromedp.Action // each a checkout placed, the later ones on a prefilled form
		key    string            // the fact
		fact   string            // its value after the last visit
		state  string            // a JS expression: the control's state on the next visit
		want   string
	}{
		{name: "text", key: "contact.name", fact: "Grace Hopper",
			visits: []chromedp.Action{chromedp.SetValue(`input[name=name]`, "  Grace Hopper ", chromedp.ByQuery)},
			state:  `document.querySelector("input[name=name]").value`, want: "Grace Hopper"},
		{name: "email", key: "contact.email", fact: "grace@example.com",
			visits: []chromedp.Action{chromedp.SetValue(`input[name=email]`, "grace@example.com", chromedp.ByQuery)},
			state:  `document.querySelector("input[name=email]").value`, want: "grace@example.com"},
		{name: "tel", key: "contact.phone", fact: "+31 20 123 4567",
			visits: []chromedp.Action{chromedp.SetValue(`input[name=phone]`, "+31 20 123 4567", chromedp.ByQuery)},
			state:  `document.querySelector("input[name=phone]").value`, want: "+31 20 123 4567"},
		{name: "number", key: "order.quantity", fact: "3",
			visits: []chromedp.Action{chromedp.SetValue(`input[name=quantity]`, "3", chromedp.ByQuery)},
			state:  `document.querySelector("input[name=quantity]").value`, want: "3"},
		{name: "date", key: "delivery.after", fact: "2026-12-24",
			visits: []chromedp.Action{chromedp.SetValue(`input[name=deliver_after]`, "2026-12-24", chromedp.ByQuery)},
			state:  `document.querySelector("input[name=deliver_after]").value`, want: "2026-12-24"},
		{name: "textarea", key: "delivery.note", fact: "Ring twice,\nthen wait",
			visits: []chromedp.Action{chromedp.SetValue(`textarea[name=note]`, "Ring twice,\nthen wait\n", chromedp.ByQuery)},
			state:  `document.querySelector("textarea[name=note]").value`, want: "Ring twice,\nthen wait"},
		{name: "select with a preselected option", key: "order.size", fact: "L",
			visits: []chromedp.Action{pick("size", "L")},
			state:  `document.querySelector("select[name=size]").value`, want: "L"},
		{name: "select multiple", key: "delivery.days", fact: `["tue","sat"]`,
			visits: []chromedp.Action{pick("days", "sat", "tue")},
			state:  `JSON.stringify([...document.querySelector("select[name=days]").selectedOptions].map(o => o.value))`, want: `["tue","sat"]`},
		{name: "select multiple, none left", key: "delivery.days", fact: `[]`,
			visits: []chromedp.Action{pick("days", "mon"), pick("days")},
			state:  `JSON.stringify([...document.querySelector("select[name=days]").selectedOptions].map(o => o.value))`, want: `[]`},
		{name: "checkbox checked", key: "order.giftwrap", fact: "yes",
			visits: []chromedp.Action{box(giftwrap)},
			state:  `String(document.querySelector("input[name=giftwrap]").checked)`, want: "true"},
		{name: "checkbox unchecked", key: "order.giftwrap", fact: "no",
			// Checked on the first visit, so that the second starts checked
			// from memory; unchecked there.
			visits: []chromedp.Action{box(giftwrap), box(giftwrap)},
			state:  `String(document.querySelector("input[name=giftwrap]").checked)`, want: "false"},
		{name: "radio group", key: "delivery.speed", fact: "express",
			visits: []chromedp.Action{radio("express")},
			state:  `[...document.querySelectorAll("input[name=delivery]")].filter(r => r.checked).map(r => r.value).join()`, want: "express"},
		{name: "radio group back to the default", key: "delivery.speed", fact: "standard",
			visits: []chromedp.Action{radio("pickup"), radio("standard")},
			state:  `[...document.querySelectorAll("input[name=delivery]")].filter(r => r.checked).map(r => r.value).join()`, want: "standard"},
		{name: "checkbox set", key: "order.extras", fact: `["rain-cover","stuff-sack"]`,
			visits: []chromedp.Action{chromedp.Tasks{box(sack), box(cover)}},
			state:  `JSON.stringify([...document.querySelectorAll("input[name=extras]")].filter(b => b.checked).map(b => b.value))`, want: `["rain-cover","stuff-sack"]`},
		{name: "checkbox set, none left", key: "order.extras", fact: `[]`,
			visits: []chromedp.Action{box(sack), box(sack)},
			state:  `JSON.stringify([...document.querySelectorAll("input[name=extras]")].filter(b => b.checked).map(b => b.value))`, want: `[]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab := newVisitor(t)
			for _, v := range c.visits {
				do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), checkoutWith(v))
			}
			var got map[string]string
			eval(t, tab, `herken.snapshot().then(s => Object.fromEntries(s.facts.map(f => [f.key, f.value])))`, &got)
			require.Equal(t, c.fact, got[c.key], "the fact %s", c.key)

			do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), waitValue("street", "Keizersgracht 1"))
			var state string
			eval(t, tab, c.state, &state)
			require.Equal(t, c.want, state, "restored")
		})
	}
}

// TestBrowserLatePrefillKeepsWhatTheCustomerChanged: the plugin fills the
// form late (its worker is slow to arrive); what the customer changed
// before that (even back to the page's default, or emptied) and what the
// browser put in the form stays; the fields nobody touched are filled.
func TestBrowserLatePrefillKeepsWhatTheCustomerChanged(t *testing.T) {
	worker := newGate()
	base := front(t, startShop(t, t.TempDir()), func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/herken/herken-worker.js" {
			worker.pass(r.Context())
		}
		return false
	})
	tab := newVisitor(t)
	do(t, tab, noCache())
	worker.open()
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), checkoutWith(chromedp.Tasks{pick("size", "L"), chromedp.Click(`input[name=giftwrap]`, chromedp.ByQuery)}))
	synced(t, tab)

	worker.close()
	do(t, tab, chromedp.Navigate(base+"/checkout"))
	worker.waitAsked(t)
	// herken.js runs (it asked for its worker); nothing is filled yet.
	do(t, tab,
		typeInto(`input[name=street]`, "Typed street 2"),
		pick("size", "M"),                // the default, chosen
		typeInto(`input[name=city]`, ""), // emptied
		chromedp.Evaluate(`document.querySelector("input[name=postcode]").value = "9999 ZZ"`, nil), // as the browser's restore: no event
	)
	worker.open()
	do(t, tab, ready(), chromedp.Poll(`document.querySelector("input[name=name]").value === "Ada Lovelace"`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	got := map[string]string{}
	eval(t, tab, `({street: document.querySelector("input[name=street]").value, size: document.querySelector("select[name=size]").value,
		city: document.querySelector("input[name=city]").value, postcode: document.querySelector("input[name=postcode]").value,
		email: document.querySelector("input[name=email]").value, giftwrap: String(document.querySelector("input[name=giftwrap]").checked)})`, &got)
	require.Equal(t, map[string]string{
		"street": "Typed street 2", "size": "M", "city": "", "postcode": "9999 ZZ", // the customer's
		"email": "ada@example.com", "giftwrap": "true", // filled
	}, got)
}

// gate holds the requests that pass it while it is closed, and says when
// one waits.
type gate struct {
	mu    sync.Mutex
	ch    chan struct{} // closed while the gate is open
	asked chan struct{}
}

func newGate() *gate {
	g := &gate{ch: make(chan struct{}), asked: make(chan struct{}, 1)}
	close(g.ch)
	return g
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.ch:
	default:
		close(g.ch)
	}
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.ch:
		g.ch = make(chan struct{})
	default:
	}
}

// pass waits while the gate is closed (at most a minute, or until the
// request ends).
func (g *gate) pass(ctx context.Context) {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	select {
	case <-ch:
		return
	default:
	}
	select {
	case g.asked <- struct{}{}:
	default:
	}
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	select {
	case <-ch:
	case <-ctx.Done():
	case <-timer.C:
	}
}

func (g *gate) waitAsked(t *testing.T) {
	t.Helper()
	select {
	case <-g.asked:
	case <-time.After(20 * time.Second):
		t.Fatal("nothing reached the gate")
	}
}

// noCache makes the tab fetch every script again, as a first visit does.
func noCache() chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error { return network.SetCacheDisabled(true).Do(ctx) })
}
