package plugin

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/herken/herken/memory"
)

// An access request is the customer's right to a copy of the personal data
// held about them (GDPR article 15): POST /export answers what
// memory.Store.Export gives for the customer the device belongs to, as a
// file download, history included: the record, every draft's data, the
// contact timeline with its summaries and resolutions, merges, and the
// history of every change. It holds more than the customer-facing
// memory.Snapshot, and the page never keeps it (the worker hands it to the
// page as a download, not to its memory).
//
// Withheld, and said so in the file's "withheld" member: what herken's
// design keeps on the server, the internal fields an agent's work uses and
// a customer's page never shows (memory.Snapshot leaves them out alike):
// the influence score and the signals behind it, the at-risk marks, the
// outcome and summary of each contact (an agent's judgment and notes), the
// resolution written on an issue and the reason given for a merge.
// A device proves a browser, not a person (a shared computer, a kiosk), so
// the self-service download gives what the browser's customer gave and was
// told; a customer whose request covers the internal fields makes it to
// the shop, which answers with Store.Export once it has checked who asks
// (article 12(6) lets it ask), and which the file's note points to.
//
// The values of device identifiers are withheld too: they are keyed
// hashes of the browsers' cookie tokens, the server's means of telling a
// browser apart, which say nothing about the customer that the rest of the
// file does not, and whose disclosure would serve only someone who took
// the file. Each device stays in the file, as "device-1", "device-2" and
// so on, the same name wherever it appears (identifiers, history), so that
// the customer sees how many browsers are linked and what each did. The
// store's keys never appear in an Export at all.

// withheldNote is the file's "withheld" member: what the download leaves
// out, and where the rest may be asked for.
var withheldNote = map[string]any{
	"internal": []string{"influence", "signals", "at_risk", "contact outcomes", "contact summaries", "resolutions", "merge reasons"},
	"devices":  "device identifiers are named device-1, device-2, … instead of their values",
	"note":     "These stay with the shop's staff. To receive them too, ask the shop: it answers a full access request once it has checked that it is you.",
}

// exportsBurst and exportEvery bound how often one device may download its
// export, on top of the API's rate limits: the file is large for a
// customer with a long history, and a page has no reason to ask again soon.
const (
	exportsBurst = 2
	exportEvery  = 30 // seconds between exports once the burst is used
)

// export answers the device's customer's Export as a file: an empty one
// (no customer, no history) for a device nobody is known by. It is written
// as it is encoded, a piece at a time, so that the handler never holds the
// encoded file whole.
func (h *Handler) export(c *call) error {
	if ok, wait := h.limits.allowExport(c.r.Context(), c.device); !ok {
		c.w.Header().Set("Retry-After", strconv.FormatInt(int64(wait.Seconds())+1, 10))
		return &problem{status: http.StatusTooManyRequests, code: "rate_limited",
			detail: "this browser downloaded its data a moment ago; try again in a minute"}
	}
	ctx := c.r.Context()
	x := &memory.Export{Format: memory.ExportFormat, Exported: h.opts.Now().UTC()}
	id, err := h.store.Lookup(ctx, h.deviceID(c.device, c.issued, c.key))
	switch {
	case err == nil:
		if x, err = h.store.Export(ctx, id); err != nil {
			return err
		}
		withholdInternal(x)
		withholdDevices(x)
	case !errors.Is(err, memory.ErrNotFound):
		return err
	}
	hd := c.w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Disposition", `attachment; filename="herken-export-`+x.Exported.UTC().Format("2006-01-02")+`.json"`)
	hd.Set("X-Content-Type-Options", "nosniff")
	if err := writeExport(c.w, x); err != nil && h.opts.Logger != nil {
		// Part of the file may be out: no problem answer can follow it.
		h.opts.Logger.Warn("herken plugin: export cut short", "err", err)
	}
	return nil
}

// withholdInternal takes out of x what stays on the server, as the
// browser's memory.Snapshot leaves it out: the influence score and its
// signals, at-risk events, contacts' outcomes and summaries (an agent's
// notes), issues' resolutions and merges' reasons (written by agents).
// Events and records are changed as copies: the store's may be shared.
func withholdInternal(x *memory.Export) {
	x.Influence = nil
	contact := func(c *memory.Contact) *memory.Contact {
		cc := *c
		cc.Outcome, cc.Summary = "", ""
		return &cc
	}
	issue := func(is *memory.Issue) *memory.Issue {
		ic := *is
		ic.Resolution = ""
		return &ic
	}
	merge := func(m *memory.Merge) *memory.Merge {
		mc := *m
		mc.Reason = ""
		return &mc
	}
	if c := x.Customer; c != nil {
		c.Signals = nil
		c.Contacts = copied(c.Contacts, contact)
		c.Issues = copied(c.Issues, issue)
		c.Merges = copied(c.Merges, merge)
	}
	history := x.History[:0:0]
	for _, e := range x.History {
		switch e.Kind {
		case memory.EventSignalRecorded, memory.EventAtRisk:
			continue
		}
		if e.Contact != nil {
			e.Contact = contact(e.Contact)
		}
		if e.Issue != nil {
			e.Issue = issue(e.Issue)
		}
		if e.Merge != nil {
			e.Merge = merge(e.Merge)
		}
		history = append(history, e)
	}
	x.History = history
}

// copied returns the changed copies of s's elements, nil for nil.
func copied[T any](s []T, change func(*T) *T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i := range s {
		out[i] = *change(&s[i])
	}
	return out
}

// withholdDevices replaces the value of every device identifier in x by a
// name of its own, "device-N", numbered in the order they first appear.
func withholdDevices(x *memory.Export) {
	names := map[string]string{}
	name := func(id *memory.Identifier) {
		if id == nil || id.Kind != memory.KindDevice {
			return
		}
		n, ok := names[id.Value]
		if !ok {
			n = "device-" + strconv.Itoa(len(names)+1)
			names[id.Value] = n
		}
		id.Value = n
	}
	if x.Customer != nil {
		for i := range x.Customer.Identifiers {
			name(&x.Customer.Identifiers[i])
		}
	}
	for i := range x.History {
		e := &x.History[i]
		if e.Identifier != nil {
			id := *e.Identifier // the event's own copy: the store's may be shared
			name(&id)
			e.Identifier = &id
		}
	}
}

// writeExport writes x as the JSON encoding/json gives it, one member and
// one draft or event at a time.
func writeExport(w http.ResponseWriter, x *memory.Export) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	piece := func(prefix string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := bw.WriteString(prefix); err != nil {
			return err
		}
		_, err = bw.Write(b)
		return err
	}
	list := func(key string, n int, at func(int) any) error {
		if _, err := bw.WriteString(`,"` + key + `":[`); err != nil {
			return err
		}
		for i := range n {
			sep := ","
			if i == 0 {
				sep = ""
			}
			if err := piece(sep, at(i)); err != nil {
				return err
			}
		}
		_, err := bw.WriteString("]")
		return err
	}
	if err := piece(`{"format":`, x.Format); err != nil {
		return err
	}
	if err := piece(`,"exported":`, x.Exported); err != nil {
		return err
	}
	if err := piece(`,"customer":`, x.Customer); err != nil {
		return err
	}
	if x.Influence != nil {
		if err := piece(`,"influence":`, x.Influence); err != nil {
			return err
		}
	}
	if err := piece(`,"withheld":`, withheldNote); err != nil {
		return err
	}
	if err := list("drafts", len(x.Drafts), func(i int) any { return &x.Drafts[i] }); err != nil {
		return err
	}
	if err := list("history", len(x.History), func(i int) any { return &x.History[i] }); err != nil {
		return err
	}
	if _, err := bw.WriteString("}\n"); err != nil {
		return err
	}
	return bw.Flush()
}
