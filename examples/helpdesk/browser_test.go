package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

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
	tab := browsertest.NewContext(t)
	base := startDesk(t)
	var first, second, text string

	// A contact by email, then by phone from the same customer.
	browsertest.Do(t, tab, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#contact-form", chromedp.ByQuery),
		receive("email", "email", "ada@example.com", false, "email", "", false, "Broken zipper"),
		chromedp.Poll(`(document.querySelector("#name") || {}).textContent === "Ada Lovelace"`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`document.querySelector("#customer").dataset.customer`, &first),
		receive("phone", "phone", "+31 6 12345678", false, "email", "", false, "Broken zipper"),
		chromedp.Poll(`document.querySelector("#escalate").classList.contains("on")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`document.querySelector("#customer").dataset.customer`, &second),
		chromedp.Evaluate(`document.querySelector("#issues").textContent`, &text),
	)
	require.Equal(t, first, second, "one customer across email and phone")
	require.Contains(t, text, "ESCALATED")
	require.Contains(t, text, "2 contacts")
	// The live feed got the escalation.
	browsertest.Do(t, tab, chromedp.Poll(`[...document.querySelectorAll("#feed li")].some(li => li.dataset.kind === "issue.escalated")`, nil,
		chromedp.WithPollingTimeout(10*time.Second)))

	// A chat device, then a verified login that proves it is Ada: merged.
	var device string
	browsertest.Do(t, tab,
		receive("chat", "device", "chat-device-0001", true, "email", "", false, "Size question"),
		chromedp.Poll(`(document.querySelector("#name") || {}).textContent === "(no name yet)"`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`document.querySelector("#customer").dataset.customer`, &device),
		receive("chat", "device", "chat-device-0001", true, "email", "ada@example.com", true, "Size question"),
		chromedp.Poll(`document.querySelectorAll("#merges button").length === 1`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Poll(`[...document.querySelectorAll("#feed li")].some(li => li.dataset.kind === "customer.merged")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
	)
	require.NotEqual(t, first, device)
	var shown string
	browsertest.Do(t, tab, chromedp.Evaluate(`document.querySelector("#customer").dataset.customer`, &shown), chromedp.Evaluate(`document.querySelector("#identifiers").textContent`, &text))
	require.Equal(t, first, shown, "the older customer survives")
	require.Contains(t, text, "device: chat-device-0001")

	// Undo: two customers again.
	browsertest.Do(t, tab,
		chromedp.Evaluate(`document.querySelector("#merges button").click()`, nil),
		chromedp.Poll(`document.querySelector("#merges").textContent.includes("none")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`document.querySelector("#identifiers").textContent`, &text),
	)
	require.NotContains(t, text, "chat-device-0001", "the device went back to its own customer")
	browsertest.Do(t, tab,
		receive("chat", "device", "chat-device-0001", false, "email", "", false, "Size question"),
		chromedp.Poll(`document.querySelector("#customer").dataset.customer === "`+device+`"`, nil, chromedp.WithPollingTimeout(10*time.Second)),
	)
	require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"))
}
