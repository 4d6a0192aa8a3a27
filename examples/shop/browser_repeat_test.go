package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserSameQuestionTypedAgainEscalates is the customer who comes back
// and types her question again, instead of choosing "add to this": one open
// question, escalated, as if she had. A different question stays its own.
func TestBrowserSameQuestionTypedAgainEscalates(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	widget := widgetRoot
	questions := func(n int) chromedp.Action {
		return chromedp.Poll(widget+`.querySelectorAll("li[data-issue]").length === `+strconv.Itoa(n), nil, chromedp.WithPollingTimeout(20*time.Second))
	}
	do(t, tab, chromedp.Navigate(base+"/"), ready(), openWidget(),
		chromedp.Poll(widget+`.querySelector("textarea") !== null`, nil),
		ask("My parcel did not arrive"), questions(1))
	synced(t, tab)

	// The next visit: the same question, typed again in another case
	// and punctuation.
	do(t, tab, chromedp.Navigate(base+"/"), ready(), openWidget(), questions(1),
		ask("my parcel did NOT arrive!"), questions(1))
	synced(t, tab)
	var issues []struct {
		Subject   string `json:"subject"`
		Contacts  int    `json:"contacts"`
		Escalated bool   `json:"escalated"`
	}
	eval(t, tab, `herken.snapshot().then(s => s.open_issues)`, &issues)
	require.Len(t, issues, 1, "one question, not two")
	require.Equal(t, "My parcel did not arrive", issues[0].Subject)
	require.Equal(t, 2, issues[0].Contacts, "she asked twice")

	page := func() string {
		var text string
		do(t, tab, signInAgent(base), chromedp.Navigate(base+"/agent"), chromedp.Text("main", &text, chromedp.ByQuery))
		return text
	}
	text := page()
	require.Contains(t, text, "ESCALATED")
	require.Contains(t, text, "escalate: true")

	// Another question is another issue.
	do(t, tab, chromedp.Navigate(base+"/"), ready(), openWidget(), questions(1),
		ask("Do you ship to Belgium?"), questions(2))
}
