package main

//go:generate go test -count=1 -run ^TestDeskPicture$ . -args -pictures

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/herken/herken/examples/internal/browsertest"
)

// deskPicture is the README's picture of the help desk.
const deskPicture = "pictures/desk.png"

// TestDeskPicture takes the README's picture of the help desk: an agent's
// console with a few customers in the inbox, one of them open, escalated
// after coming back by phone about what she wrote by email. With -pictures
// (go generate ./examples/helpdesk) it writes it; otherwise it checks that
// the committed one has the console's width.
func TestDeskPicture(t *testing.T) {
	base := startDesk(t)
	tab := browsertest.NewContext(t)
	pageErrors(t, tab)
	browsertest.Do(t, tab, chromedp.EmulateViewport(1280, 860), chromedp.Navigate(base+"/"), chromedp.WaitVisible("#contact-form", chromedp.ByQuery),
		receive("email", "email", "alan@example.com", false, "email", "", false, "Invoice address is wrong"),
		poll(`document.querySelector("#customer") && document.querySelector("#customer").dataset.customer`),
		receive("chat", "device", "chat-visitor-7f3a", false, "email", "", false, "Which size fits me?"),
		poll(`document.querySelectorAll("#inbox li").length >= 2`),
		receive("email", "email", "ada@example.com", false, "email", "", false, "Refund for order Z-77"),
		poll(`(document.querySelector("#name") || {}).textContent === "Ada Lovelace"`),
		receive("phone", "phone", "+31 6 12345678", false, "email", "", false, "Re: Refund for order Z-77"),
		chromedp.Poll(`document.querySelector("#escalate").classList.contains("on")`, nil, chromedp.WithPollingTimeout(pollTimeout)),
		poll(`[...document.querySelectorAll("#feed li")].some(li => li.dataset.kind === "issue.escalated")`),
		chromedp.Evaluate(`document.activeElement && document.activeElement.blur()`, nil),
	)
	browsertest.Picture(t, tab, browsertest.ElementBox(`document.body`, 0), deskPicture)
}
