package main

//go:generate go test -count=1 -run ^TestWidgetPicture$ . -args -pictures

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/herken/herken/examples/internal/browsertest"
)

// The pictures of the widget the README shows: the panel as it opens, and
// "what we remember about you".
const (
	widgetPicture = "pictures/widget.png"
	memoryPicture = "pictures/widget-memory.png"
)

// TestWidgetPicture takes the README's picture of the widget: open on the
// product page, for a customer who has asked a question and left a cart.
// With -pictures (go generate ./examples/shop) it writes them; otherwise it
// checks that they are committed, of the widget's width.
func TestWidgetPicture(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.EmulateViewport(900, 760), chromedp.Navigate(base+"/checkout"), ready(), fillCheckout("Herengracht 3", "ada@example.com"))
	var ok bool
	eval(t, tab, `herken.openIssue("My parcel did not arrive").then(() => herken.saveDraft("cart", "{}")).then(() => herken.sync())`, &ok)
	do(t, tab, chromedp.Navigate(base+"/"), ready(), openWidget(), panelHas("Continue where you left off (cart)"),
		chromedp.Evaluate(widgetRoot+`.activeElement && `+widgetRoot+`.activeElement.blur()`, nil))
	picture(t, tab, widgetPicture)
	do(t, tab, clickText("What we remember about you"), panelHas("Herengracht 3"),
		chromedp.Evaluate(widgetRoot+`.activeElement && `+widgetRoot+`.activeElement.blur()`, nil))
	picture(t, tab, memoryPicture)
}

// picture takes a picture of the open widget, panel and button, as
// browsertest.Picture does (written to path with -pictures).
func picture(t *testing.T, tab context.Context, path string) {
	t.Helper()
	browsertest.Picture(t, tab, `(() => { const r = `+widgetRoot+`, p = r.querySelector(".p").getBoundingClientRect(), b = r.querySelector("button.b").getBoundingClientRect();
		const x = Math.min(p.left, b.left) - 12, y = p.top - 12;
		return {x: x, y: y, width: Math.max(p.right, b.right) + 12 - x, height: b.bottom + 12 - y} })()`, path)
}
