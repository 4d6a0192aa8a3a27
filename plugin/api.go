package plugin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin/wire"
)

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// answer writes {"snapshot":…,"applied":N} and, with session, the CSRF
// token and the sync API's limits. The head of the device's chain is not
// in it: the worker follows the chain from what it sent, and an answer
// holds nothing but what the device sent and had (see Store.Sync).
func (h *Handler) answer(c *call, res memory.SyncResult, session bool) {
	out := &wire.Writer{}
	out.BeginObject()
	if session {
		out.Str("csrf", h.csrfToken(c.device))
		out.Key("limits")
		out.BeginObject()
		out.IntMember("changes", maxChanges)
		out.IntMember("body", h.opts.MaxBody)
		out.EndObject()
	}
	out.Key("snapshot")
	out.Raw(wire.AppendSnapshot(nil, &res.Snapshot))
	out.UintMember("applied", res.Applied)
	out.EndObject()
	writeJSON(c.w, out.B)
}

// current returns what the store holds for the device, which may be nothing.
func (h *Handler) current(ctx context.Context, device string) (memory.SyncResult, error) {
	res, err := h.store.Sync(ctx, h.deviceID(device), memory.SyncBase{}, nil)
	if errors.Is(err, memory.ErrNotFound) {
		return memory.SyncResult{}, nil
	}
	return res, err
}

// session gives the device its cookie (on its first visit), its CSRF token
// and its memory. Devices become customers when they first have something
// to keep.
func (h *Handler) session(c *call) error {
	if c.device == "" {
		h.newDevice(c)
	}
	res, err := h.current(c.r.Context(), c.device)
	if err != nil {
		return err
	}
	h.answer(c, res, true)
	return nil
}

// sync applies the device's changes, numbered after the base of the last
// answer: {"base":{"applied":N,"head":"…"},"changes":[…]}.
func (h *Handler) sync(c *call) error {
	v, err := wire.Parse(c.body)
	if err != nil {
		return err
	}
	base, err := wire.DecodeSyncBase(v.Get("base"))
	if err != nil {
		return err
	}
	changes, err := wire.DecodeChanges(v.Get("changes"))
	if err != nil {
		return err
	}
	if len(changes) > maxChanges {
		return &problem{status: http.StatusUnprocessableEntity, code: "too_many", detail: "at most " + itoa(maxChanges) + " changes in one sync"}
	}
	if err := browserPolicy(changes); err != nil {
		return err
	}
	ctx := c.r.Context()
	if h.opts.ClaimFloor > 0 && claims(changes) {
		defer waitUntil(ctx, time.Now().Add(h.opts.ClaimFloor))
	}
	dev := h.deviceID(c.device)
	res, err := h.store.Sync(ctx, dev, base, changes)
	if errors.Is(err, memory.ErrNotFound) && len(changes) > 0 {
		if _, err := h.store.Recognize(ctx, dev); err != nil {
			return err
		}
		res, err = h.store.Sync(ctx, dev, base, changes)
	} else if errors.Is(err, memory.ErrNotFound) {
		res, err = memory.SyncResult{}, nil
	}
	if err != nil {
		return err
	}
	h.answer(c, res, false)
	return nil
}

// claims reports whether changes claim an identifier.
func claims(changes []memory.Event) bool {
	for _, e := range changes {
		if e.Kind == memory.EventIdentifierLinked {
			return true
		}
	}
	return false
}

// waitUntil returns at deadline, or sooner when ctx is done.
func waitUntil(ctx context.Context, deadline time.Time) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// browserPolicy narrows what the store accepts from customers to what a web
// page may send: contacts and issues on the web or in chat, identifiers of
// the kinds people type.
func browserPolicy(changes []memory.Event) error {
	refuse := func(e memory.Event, why string) error {
		return &problem{status: http.StatusUnprocessableEntity, code: "invalid", detail: why, change: e.Seq}
	}
	for _, e := range changes {
		switch {
		case e.Contact != nil && e.Contact.Channel != memory.ChannelWeb && e.Contact.Channel != memory.ChannelChat:
			return refuse(e, "a page records contacts on web or chat only")
		case e.Issue != nil && e.Kind == memory.EventIssueOpened && e.Issue.Channel != memory.ChannelWeb && e.Issue.Channel != memory.ChannelChat:
			return refuse(e, "a page opens issues on web or chat only")
		case e.Identifier != nil && e.Identifier.Kind != memory.KindEmail && e.Identifier.Kind != memory.KindPhone:
			return refuse(e, "a page may claim email addresses and phone numbers only")
		}
	}
	return nil
}

// identify links the device to the customer an identity token proves:
// {"token":"…"}.
func (h *Handler) identify(c *call) error {
	v, err := wire.Parse(c.body)
	if err != nil {
		return err
	}
	token, err := wire.Str(v, "token")
	if err != nil {
		return err
	}
	now := h.opts.Now()
	id, err := verifyIdentity(h.opts.Secret, token, c.device, now)
	if err == nil && h.tokenUsed(id, now) {
		err = ErrTokenUsed
	}
	if err != nil {
		detail := "the identity token is not valid for this device"
		switch {
		case errors.Is(err, ErrTokenExpired):
			detail = "the identity token has expired"
		case errors.Is(err, ErrTokenUsed):
			detail = "the identity token was used already"
		}
		return &problem{status: http.StatusForbidden, code: "identity", detail: detail}
	}
	ctx := c.r.Context()
	if _, err := h.store.Recognize(ctx, h.deviceID(c.device), id.id); err != nil {
		return err
	}
	res, err := h.current(ctx, c.device)
	if err != nil {
		return err
	}
	h.answer(c, res, false)
	return nil
}

// tokenUsed records a token's use and reports whether it was used before.
func (h *Handler) tokenUsed(id identity, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if exp, ok := h.used.Get(id.nonce); ok && exp.After(now) {
		return true
	}
	h.used.Add(id.nonce, id.expiry)
	return false
}

// export answers the device's memory, customer-facing, as a file.
func (h *Handler) export(c *call) error {
	res, err := h.current(c.r.Context(), c.device)
	if err != nil {
		return err
	}
	c.w.Header().Set("Content-Disposition", `attachment; filename="herken-memory.json"`)
	writeJSON(c.w, wire.AppendSnapshot(nil, &res.Snapshot))
	return nil
}

// forget erases the customer the device belongs to, and gives the device a
// new token: it is a stranger from now on.
func (h *Handler) forget(c *call) error {
	ctx := c.r.Context()
	id, err := h.store.Lookup(ctx, h.deviceID(c.device))
	switch {
	case err == nil:
		if _, err := h.store.Forget(ctx, id); err != nil && !errors.Is(err, memory.ErrNotFound) {
			return err
		}
	case !errors.Is(err, memory.ErrNotFound):
		return err
	}
	h.newDevice(c)
	out := &wire.Writer{}
	out.BeginObject()
	out.BoolMember("forgotten", true)
	out.Str("csrf", h.csrfToken(c.device))
	out.EndObject()
	writeJSON(c.w, out.B)
	return nil
}

// saveDraft keeps work in progress: {"data":"…"}.
func (h *Handler) saveDraft(c *call) error {
	v, err := wire.Parse(c.body)
	if err != nil {
		return err
	}
	data, err := wire.Str(v, "data")
	if err != nil {
		return err
	}
	if len(data) > maxDraft {
		return &problem{status: http.StatusRequestEntityTooLarge, code: "too_large", detail: "a draft holds at most " + itoa(maxDraft) + " bytes here"}
	}
	ctx := c.r.Context()
	r, err := h.store.Recognize(ctx, h.deviceID(c.device))
	if err != nil {
		return err
	}
	if err := h.store.SaveDraft(ctx, r.Customer, c.r.PathValue("name"), []byte(data)); err != nil {
		return err
	}
	writeJSON(c.w, []byte(`{"saved":true}`))
	return nil
}

// loadDraft answers {"name":…,"data":…,"saved":…}.
func (h *Handler) loadDraft(c *call) error {
	ctx := c.r.Context()
	id, err := h.store.Lookup(ctx, h.deviceID(c.device))
	if err != nil {
		return err
	}
	d, err := h.store.LoadDraft(ctx, id, c.r.PathValue("name"))
	if err != nil {
		return err
	}
	out := &wire.Writer{}
	out.BeginObject()
	out.Str("name", d.Name)
	out.Str("data", string(d.Data))
	out.TimeMember("saved", d.Saved)
	out.EndObject()
	writeJSON(c.w, out.B)
	return nil
}

// IdentityToken makes an identity token for the browser that sent r (the
// shop's request, carrying the plugin's device cookie): proof that it is the
// customer with identifier id, for MaxIdentityLifetime. Hand it to the page,
// which passes it to herken.identify. It fails when r has no device cookie
// yet (the plugin sets it on its first call).
func (h *Handler) IdentityToken(r *http.Request, id memory.Identifier) (string, error) {
	device := h.deviceToken(r)
	if device == "" {
		return "", errors.New("plugin: the request has no device cookie yet")
	}
	return SignIdentity(h.opts.Secret, id, device, h.opts.Now().Add(MaxIdentityLifetime)), nil
}

// Customer returns the customer the browser that sent r belongs to, for the
// shop's server side (an agent page, a checkout); ErrNotFound for a device
// the store does not know.
func (h *Handler) Customer(r *http.Request) (memory.CustomerID, error) {
	device := h.deviceToken(r)
	if device == "" {
		return "", memory.ErrNotFound
	}
	return h.store.Lookup(r.Context(), h.deviceID(device))
}
