package plugin

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
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
// token, the sync API's limits and the device's tag: a name for the device
// that changes when the device does (a logout, a forget), so that the
// worker knows to drop what it holds of the one before. The head of the
// device's chain is not in it: the worker follows the chain from what it
// sent, and an answer holds nothing but what the device sent and had (see
// Store.Sync). It refuses to send a snapshot the browser's module cannot
// take, which only a customer who passed the store's limits before they
// were lowered can have (New refuses limits that allow one).
func (h *Handler) answer(c *call, res memory.SyncResult, session bool) error {
	snap := wire.AppendSnapshot(nil, &res.Snapshot)
	if !wire.SnapshotFits(&res.Snapshot, len(snap)) {
		return &problem{status: http.StatusInternalServerError, code: "too_large",
			detail: "this customer's memory (" + itoa(int64(len(snap))) + " bytes) is more than a browser holds"}
	}
	out := &wire.Writer{B: make([]byte, 0, len(snap)+128)}
	out.BeginObject()
	if session {
		out.Str("csrf", h.csrfToken(c.device, c.key))
		out.Str("device", h.deviceTag(c.device, c.key))
		out.Key("limits")
		out.BeginObject()
		out.IntMember("changes", maxChanges)
		out.IntMember("body", h.opts.MaxBody)
		out.EndObject()
	}
	out.Key("snapshot")
	out.Raw(snap)
	out.UintMember("applied", res.Applied)
	out.EndObject()
	writeJSON(c.w, out.B)
	return nil
}

// deviceTag names a device to its worker without giving its token away.
func (h *Handler) deviceTag(device string, key int) string {
	return b64.EncodeToString(h.mac(key, "device tag", device)[:12])
}

// current returns what the store holds for the device, which may be nothing.
func (h *Handler) current(ctx context.Context, c *call) (memory.SyncResult, error) {
	res, err := h.store.Sync(ctx, h.deviceID(c.device, c.issued, c.key), memory.SyncBase{}, nil)
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
	res, err := h.current(c.r.Context(), c)
	if err != nil {
		return err
	}
	return h.answer(c, res, true)
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
	var born time.Time
	if c.issued > 0 {
		born = time.Unix(c.issued, 0)
	}
	if err := browserPolicy(changes, born); err != nil {
		return err
	}
	ctx := c.r.Context()
	var floor time.Time
	if h.opts.ClaimFloor > 0 && claims(changes) {
		// Nothing of the answer leaves before the floor, not its first
		// byte, whatever its size, and no error either (the caller writes
		// those once this returns).
		floor = time.Now().Add(h.opts.ClaimFloor)
		defer waitUntil(ctx, floor)
	}
	dev := h.deviceID(c.device, c.issued, c.key)
	res, err := h.store.Sync(ctx, dev, base, changes)
	if errors.Is(err, memory.ErrNotFound) && len(changes) > 0 {
		if err := h.newCustomer(c); err != nil {
			return err
		}
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
	if !floor.IsZero() {
		waitUntil(ctx, floor)
	}
	return h.answer(c, res, false)
}

// newCustomer takes a new customer from the client address's bucket, and
// refuses the request when it is empty.
func (h *Handler) newCustomer(c *call) error {
	ok, wait := h.limits.newCustomer(c.r.Context(), c.client)
	if ok {
		return nil
	}
	c.w.Header().Set("Retry-After", strconv.FormatInt(int64(wait/time.Second)+1, 10))
	return &problem{status: http.StatusTooManyRequests, code: "new_customers",
		detail: "too many new visitors from this address; the changes are kept in the browser, try again later"}
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
// the kinds people type, and nothing said to have happened before the
// device existed (born; zero when unknown). The store refuses times in the
// future.
func browserPolicy(changes []memory.Event, born time.Time) error {
	refuse := func(e memory.Event, why string) error {
		return &problem{status: http.StatusUnprocessableEntity, code: "invalid", detail: why, change: e.Seq}
	}
	for _, e := range changes {
		if !born.IsZero() && before(&e, born.Add(-clockSkew)) {
			return refuse(e, "a change dated before this device existed")
		}
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

// clockSkew is how far a browser's clock may be behind the server's.
const clockSkew = 5 * time.Minute

// before reports whether a change says something happened before t.
func before(e *memory.Event, t time.Time) bool {
	for _, x := range e.Times() {
		if !x.IsZero() && x.Before(t) {
			return true
		}
	}
	return false
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
	ctx := c.r.Context()
	id, err := h.verifyIdentity(token, c.device, now)
	if err == nil {
		// The store keeps the nonce, so that no other handler on it, in
		// this process or another, accepts the token again.
		err = h.store.UseOnce(ctx, "herken identity "+id.nonce, id.expiry.Sub(now))
		switch {
		case errors.Is(err, memory.ErrUsed):
			err = ErrTokenUsed
		case err != nil:
			return err
		}
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
	if _, err := h.store.Recognize(ctx, h.deviceID(c.device, c.issued, c.key), id.id); err != nil {
		return err
	}
	res, err := h.current(ctx, c)
	if err != nil {
		return err
	}
	return h.answer(c, res, false)
}

// forget erases the customer the device belongs to, and gives the device a
// new token: it is a stranger from now on. The answer holds the receipt,
// {"id","customer","at","erased":{kind: items}}, for the customer to keep;
// none when the device's customer was unknown (nothing was held).
func (h *Handler) forget(c *call) error {
	ctx := c.r.Context()
	var receipt *memory.Receipt
	id, err := h.store.Lookup(ctx, h.deviceID(c.device, c.issued, c.key))
	switch {
	case err == nil:
		r, err := h.store.Forget(ctx, id)
		if err != nil && !errors.Is(err, memory.ErrNotFound) {
			return err
		}
		if err == nil {
			receipt = &r
		}
	case !errors.Is(err, memory.ErrNotFound):
		return err
	}
	h.newDevice(c)
	out := &wire.Writer{}
	out.BeginObject()
	out.BoolMember("forgotten", true)
	out.Str("csrf", h.csrfToken(c.device, c.key))
	out.Str("device", h.deviceTag(c.device, c.key))
	if receipt != nil {
		out.Key("receipt")
		appendReceipt(out, receipt)
	}
	out.EndObject()
	writeJSON(c.w, out.B)
	return nil
}

// logout detaches the device from its customer and gives it a new token:
// whoever uses the browser next is a stranger, and the customer's memory
// stays the customer's. The memory of a browser nobody signed in on, that
// no other device shares, is erased: nothing could reach it after. The
// worker drops what it holds.
func (h *Handler) logout(c *call) error {
	if err := h.detach(c.r.Context(), c.device, c.issued, c.key); err != nil {
		return err
	}
	h.newDevice(c)
	return h.answer(c, memory.SyncResult{}, true)
}

// detach unlinks device from the customer it belongs to, if any.
func (h *Handler) detach(ctx context.Context, device string, issued int64, key int) error {
	if device == "" {
		return nil
	}
	dev := h.deviceID(device, issued, key)
	for range 3 { // the device may move between the lookup and the unlink
		id, err := h.store.Lookup(ctx, dev)
		if errors.Is(err, memory.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		alone, err := h.onlyWay(ctx, id, dev)
		if err != nil {
			return err
		}
		if alone {
			// Nobody but this browser can ever reach this memory: once the
			// browser leaves it, it is erased rather than left behind.
			if _, err = h.store.Forget(ctx, id); !errors.Is(err, memory.ErrNotFound) {
				return err
			}
			return nil
		}
		if err = h.store.Unlink(ctx, id, dev); !errors.Is(err, memory.ErrNotFound) {
			return err
		}
	}
	return errors.New("plugin: the device kept moving while it was detached")
}

// onlyWay reports whether device dev is the only identifier anyone can
// reach customer id by: an anonymous memory of this browser alone.
func (h *Handler) onlyWay(ctx context.Context, id memory.CustomerID, dev memory.Identifier) (bool, error) {
	c, err := h.store.Customer(ctx, id)
	if err != nil {
		return false, err
	}
	for _, ident := range c.Identifiers {
		if ident.Verified && ident != dev {
			return false, nil
		}
	}
	return true, nil
}

// Logout detaches the browser that sent r from the customer its device
// belongs to, and sets a new device cookie on w: call it from the shop's
// own logout, before writing the answer. From then on the browser is a
// stranger: the customer's memory stays with the customer, and the
// plugin's worker drops what it held when it next talks to the server
// (herken.logout does the same from the page).
func (h *Handler) Logout(w http.ResponseWriter, r *http.Request) error {
	d, err := h.requestDevice(r)
	if err != nil {
		return err
	}
	if err := h.detach(r.Context(), d.id, d.issued, d.key); err != nil {
		return err
	}
	h.newDevice(&call{w: w, r: r})
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
	dev := h.deviceID(c.device, c.issued, c.key)
	id, err := h.store.Lookup(ctx, dev)
	if errors.Is(err, memory.ErrNotFound) {
		if err := h.newCustomer(c); err != nil {
			return err
		}
		var r memory.Recognition
		r, err = h.store.Recognize(ctx, dev)
		id = r.Customer
	}
	if err != nil {
		return err
	}
	if err := h.store.SaveDraft(ctx, id, c.r.PathValue("name"), []byte(data)); err != nil {
		return err
	}
	writeJSON(c.w, []byte(`{"saved":true}`))
	return nil
}

// deleteDraft ends work in progress (its form was sent): 404 when the
// visitor has no such draft.
func (h *Handler) deleteDraft(c *call) error {
	ctx := c.r.Context()
	id, err := h.store.Lookup(ctx, h.deviceID(c.device, c.issued, c.key))
	if err != nil {
		return err
	}
	if err := h.store.DeleteDraft(ctx, id, c.r.PathValue("name")); err != nil {
		return err
	}
	writeJSON(c.w, []byte(`{"deleted":true}`))
	return nil
}

// loadDraft answers {"name":…,"data":…,"saved":…}.
func (h *Handler) loadDraft(c *call) error {
	ctx := c.r.Context()
	id, err := h.store.Lookup(ctx, h.deviceID(c.device, c.issued, c.key))
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
// customer with identifier id, for MaxIdentityLifetime, usable once. Hand
// it to the page: on the plugin's script tag as data-identity="TOKEN" when
// the server renders the page for the signed-in customer, or to
// herken.identify(token) when the page learns of the sign-in after it
// loaded (see the package doc, "Signed-in customers"). It fails when r has
// no device cookie this handler signed yet (the plugin sets it on its first
// call, so a later page carries the token), or two.
func (h *Handler) IdentityToken(r *http.Request, id memory.Identifier) (string, error) {
	d, err := h.requestDevice(r)
	if err != nil {
		return "", err
	}
	if d.id == "" {
		return "", errors.New("plugin: the request has no device cookie yet")
	}
	return SignIdentity(h.opts.Secret, id, d.id, h.opts.Now().Add(MaxIdentityLifetime)), nil
}

// Customer returns the customer the browser that sent r belongs to, for the
// shop's server side (an agent page, a checkout); ErrNotFound for a device
// the store does not know, or a cookie this handler did not sign.
func (h *Handler) Customer(r *http.Request) (memory.CustomerID, error) {
	d, err := h.requestDevice(r)
	if err != nil {
		return "", err
	}
	if d.id == "" {
		return "", memory.ErrNotFound
	}
	return h.store.Lookup(r.Context(), h.deviceID(d.id, d.issued, d.key))
}

// appendReceipt writes r as JSON, its kinds of data in order.
func appendReceipt(out *wire.Writer, r *memory.Receipt) {
	out.BeginObject()
	out.Str("id", r.ID)
	out.Str("customer", string(r.Customer))
	out.TimeMember("at", r.At)
	out.Key("erased")
	out.BeginObject()
	for _, k := range slices.Sorted(maps.Keys(r.Erased)) {
		out.IntMember(k, int64(r.Erased[k]))
	}
	out.EndObject()
	out.EndObject()
}
