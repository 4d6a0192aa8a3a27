package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// axeSource returns axe-core's script: from $HERKEN_AXE (a path to
// axe.min.js), or where .ci/run installs it (npm install --prefix
// $TMPDIR/herken-axe axe-core@4). Without it the test skips, and fails
// where HERKEN_REQUIRE_EXTERNAL is set.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("HERKEN_AXE")
	if path == "" {
		path = filepath.Join(os.TempDir(), "herken-axe", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err == nil {
		return string(b)
	}
	const how = "npm install --no-save --prefix " + "$TMPDIR/herken-axe axe-core@4 (or set HERKEN_AXE to axe.min.js)"
	if os.Getenv("HERKEN_REQUIRE_EXTERNAL") != "" {
		t.Fatalf("axe-core is required (HERKEN_REQUIRE_EXTERNAL is set): %v; install it with %s", err, how)
	}
	t.Skipf("skipping the accessibility audit: no axe-core at %s; install it with %s", path, how)
	return ""
}

// TestWidgetAccessibility runs axe-core on the shop's pages with the widget
// open: the product page, the checkout, the view of what is kept, and
// Forget's confirmation and receipt. None may have a serious or critical
// finding.
func TestWidgetAccessibility(t *testing.T) {
	src := axeSource(t)
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	audit := func(what string) {
		t.Helper()
		var findings []string
		var loaded bool
		// Through the DevTools protocol, which the page's CSP does not
		// govern: the shop's pages allow no eval.
		do(t, tab, chromedp.Evaluate(src+"\n;typeof axe === \"object\"", &loaded))
		require.True(t, loaded, "axe-core loaded")
		eval(t, tab, `axe.run(document, {resultTypes: ["violations"]})
			.then(r => r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
				.map(v => v.impact + " " + v.id + ": " + v.help + " at " + v.nodes.map(n => JSON.stringify(n.target)).join(", ")))`, &findings)
		require.Empty(t, findings, "axe-core on %s:\n%s", what, strings.Join(findings, "\n"))
	}
	do(t, tab, chromedp.Navigate(base+"/"), ready(), openWidget())
	audit("the product page, the widget open")
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), openWidget())
	audit("the checkout, the widget open")
	do(t, tab, chromedp.Navigate(base+"/checkout"), ready(), fillCheckout("Herengracht 3", "ada@example.com"))
	do(t, tab, openWidget(), clickText("What we remember about you"), panelHas("Herengracht 3"))
	audit(`"what we remember about you"`)
	do(t, tab, clickText("Forget me"), panelHas("This cannot be undone"))
	audit("the confirmation of Forget")
	do(t, tab, clickText("Yes, forget me"), panelHas("We have forgotten you"))
	audit("the receipt of Forget")
}
