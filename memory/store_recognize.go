//go:build !wasip1

package memory

import (
	"context"
)

// Recognition is what Recognize found and changed.
type Recognition struct {
	// Customer is who the identifiers belong to.
	Customer CustomerID
	// Created is set when a customer was made for the identifiers.
	Created bool
	// Linked lists identifiers newly linked to the customer, or newly
	// verified.
	Linked []Identifier
	// Merged lists customers merged into Customer because verified
	// identifiers proved they are one person.
	Merged []CustomerID
	// Conflicts lists claimed identifiers that belong to another customer.
	// They were neither linked nor used: a claim proves nothing, and reveals
	// nothing of that customer.
	Conflicts []Identifier
	// Unproven lists new claimed identifiers that were not linked because
	// the customer was recognized by claims only: a claim never links
	// anything to an existing customer. Link them once they are verified.
	Unproven []Identifier
	// Moved lists devices that moved to Customer from a customer who is
	// someone else: a person signed in on a shared device (see Recognize).
	Moved []Identifier
}

// Recognize resolves identifiers to one customer, linking new ones and
// creating the customer when needed. Identifiers given as verified
// (Identifier.AsVerified) are proof; the others are claims. The rules:
//
//   - When any identifier is verified, the verified ones alone choose the
//     customer: a verified identifier that is stored verified proves its
//     customer, and when they prove two or more customers, those are one
//     person and are merged into the oldest (Unmerge undoes it). When they
//     prove none, a new customer is made. A verified identifier stored as a
//     claim on another customer moves to the chosen one: its owner proved it.
//     New claimed identifiers are linked as claims.
//   - A device (KindDevice) proves the device, not the person: people
//     share computers. Verified identifiers of other kinds choose the
//     customer; devices choose only when none of those is given, or when
//     those prove nobody yet and a device's customer is anonymous (known by
//     devices only), whose memory then becomes the person's. A device of
//     another customer comes along: an anonymous customer is merged in (the
//     device's memory follows whoever signs in on it), and from a customer
//     who is someone else only the device moves (Recognition.Moved), leaving
//     all that is theirs where it is. Two customers who are each someone are
//     never merged through a device; nor is a device taken from one by an
//     anonymous customer (a conflict).
//   - When all are claims, the first one that matches recognizes its
//     customer, and nothing is linked to it (see Recognition.Unproven); when
//     none matches, a customer is made with all of them.
//   - A claimed identifier of a customer other than the chosen one is a
//     conflict: reported, never linked, never merged.
//
// Identifiers are normalized first; one that cannot be, or is a placeholder,
// fails the call with an *IdentifierError and nothing changes.
func (s *Store) Recognize(ctx context.Context, ids ...Identifier) (Recognition, error) {
	norm, err := s.normalizeAll(ids)
	if err != nil {
		return Recognition{}, err
	}
	if rec, ok, err := s.recognizeKnown(ctx, norm); err != nil || ok {
		return rec, err
	}
	var rec Recognition
	err = s.write(ctx, func(w *wtx) error {
		rec = Recognition{}
		return w.recognize(norm, &rec)
	})
	if err != nil {
		return Recognition{}, err
	}
	return rec, nil
}

// Link links identifiers to a known customer. A claimed identifier of
// another customer is refused as a conflict; a verified one stored as a claim
// elsewhere moves here; a verified one that is verified on another customer
// merges that customer into this one.
func (s *Store) Link(ctx context.Context, id CustomerID, ids ...Identifier) (Recognition, error) {
	norm, err := s.normalizeAll(ids)
	if err != nil {
		return Recognition{}, err
	}
	var rec Recognition
	err = s.write(ctx, func(w *wtx) error {
		rec = Recognition{}
		c, err := w.load(id)
		if err != nil {
			return err
		}
		return w.resolve(c, norm, &rec)
	})
	if err != nil {
		return Recognition{}, err
	}
	return rec, nil
}

// Unlink takes identifiers from a customer: nobody is recognized by them
// any more, and the customer keeps everything else. Unlink a device when
// its person signs out on it, so that whoever uses the browser next is a
// stranger to the customer (the plugin's Handler.Logout does). Each must be
// the customer's: ErrNotFound otherwise, and nothing changes.
func (s *Store) Unlink(ctx context.Context, id CustomerID, ids ...Identifier) error {
	norm, err := s.normalizeAll(ids)
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		c, err := w.load(id)
		if err != nil {
			return err
		}
		for _, ident := range norm {
			l, ok := c.p.linked(ident)
			if !ok {
				return notFound(string(ident.Kind) + " identifier of customer " + string(id))
			}
			if !l.Typed {
				if err := w.deleteIndex(ident); err != nil {
					return err
				}
			}
			gone := l.Identifier
			if err := w.emit(c, Event{Kind: EventIdentifierUnlinked, Identifier: &gone, Reason: "unlinked"}, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) normalizeAll(ids []Identifier) ([]Identifier, error) {
	if len(ids) == 0 {
		return nil, invalid("identifiers", "none given")
	}
	if len(ids) > s.opts.limits.Identifiers {
		return nil, &LimitError{What: "identifiers", Limit: s.opts.limits.Identifiers}
	}
	out := make([]Identifier, 0, len(ids))
	for _, id := range ids {
		n, err := s.normalize(id)
		if err != nil {
			return nil, err
		}
		dup := false
		for i := range out {
			if out[i].Kind == n.Kind && out[i].Value == n.Value {
				out[i].Verified = out[i].Verified || n.Verified
				dup = true
			}
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out, nil
}

// recognizeKnown answers without writing when every identifier is already
// linked, as verified as given, to one customer.
func (s *Store) recognizeKnown(ctx context.Context, ids []Identifier) (Recognition, bool, error) {
	same := func(entry func(Identifier) (indexEntry, bool, error)) (CustomerID, bool, error) {
		var who CustomerID
		for _, id := range ids {
			e, found, err := entry(id)
			if err != nil || !found || id.Verified && !e.Verified || who != "" && e.Customer != who {
				return "", false, err
			}
			who = e.Customer
		}
		return who, true, nil
	}
	// All from the cache, or all from one transaction: never a mix, as the
	// cache may be newer than the transaction.
	who, ok, _ := same(func(id Identifier) (indexEntry, bool, error) {
		e, ok := s.idents.Get(identKey(id))
		return e, ok, nil
	})
	if ok {
		p, err := s.customerOf(ctx, who)
		if err != nil {
			return Recognition{}, false, err
		}
		return Recognition{Customer: p.ID}, true, nil
	}
	var rec Recognition
	err := s.view(ctx, func(r *reader) error {
		who, ok, err := same(func(id Identifier) (indexEntry, bool, error) { return r.index(identKey(id)) })
		if err != nil || !ok {
			return err
		}
		p, err := r.current(who)
		if err != nil {
			return err
		}
		rec.Customer = p.ID
		return nil
	})
	return rec, rec.Customer != "", err
}

// match is what one identifier of a Recognize call matched.
type match struct {
	id       Identifier
	found    bool
	cust     CustomerID
	verified bool // stored verified
}

func (w *wtx) matches(ids []Identifier) ([]match, error) {
	ms := make([]match, len(ids))
	for i, id := range ids {
		e, found, err := w.index(id)
		if err != nil {
			return nil, err
		}
		ms[i] = match{id: id, found: found, cust: e.Customer, verified: e.Verified}
		if found {
			c, err := w.load(e.Customer)
			if err != nil {
				return nil, err
			}
			ms[i].cust = c.p.ID
		}
	}
	return ms, nil
}

func (w *wtx) recognize(ids []Identifier, rec *Recognition) error {
	ms, err := w.matches(ids)
	if err != nil {
		return err
	}
	anchored, person := false, false
	var survivor *wcust
	// Verified identifiers of a person choose the customer; a device is
	// proof of the device only, as people share them.
	for _, m := range ms {
		if !m.id.Verified || m.id.Kind == KindDevice {
			continue
		}
		anchored, person = true, true
		if m.found && m.verified {
			c, err := w.load(m.cust)
			if err != nil {
				return err
			}
			if survivor == nil {
				survivor = c
			} else if c != survivor {
				survivor, _ = pickSurvivor(survivor, c)
			}
		}
	}
	// Without them, or when they prove nobody yet, the devices' customers:
	// an identified one (its own person's), else the oldest anonymous one.
	// With a person's identifiers only an anonymous one will do: its memory
	// follows the person who signed in on the device.
	if survivor == nil {
		for _, m := range ms {
			if !m.id.Verified || m.id.Kind != KindDevice {
				continue
			}
			anchored = true
			if !m.found || !m.verified {
				continue
			}
			c, err := w.load(m.cust)
			if err != nil {
				return err
			}
			switch {
			case c.p.identified() && person:
			case survivor == nil:
				survivor = c
			case c.p.identified() != survivor.p.identified():
				if c.p.identified() {
					survivor = c
				}
			case !c.p.identified() && c != survivor:
				survivor, _ = pickSurvivor(survivor, c)
			}
		}
	}
	claimsOnly := false
	if !anchored {
		for _, m := range ms {
			if m.found {
				if survivor, err = w.load(m.cust); err != nil {
					return err
				}
				claimsOnly = true
				break
			}
		}
	}
	if survivor == nil {
		if survivor, err = w.create(); err != nil {
			return err
		}
		rec.Created = true
	}
	if claimsOnly {
		for _, m := range ms {
			switch {
			case !m.found:
				rec.Unproven = append(rec.Unproven, m.id)
			case m.cust != survivor.p.ID:
				rec.Conflicts = append(rec.Conflicts, m.id)
			}
		}
		rec.Customer = survivor.p.ID
		return nil
	}
	return w.settle(survivor, ms, rec, person)
}

// resolve links ids to a customer chosen by the caller, as Link describes.
func (w *wtx) resolve(c *wcust, ids []Identifier, rec *Recognition) error {
	ms, err := w.matches(ids)
	if err != nil {
		return err
	}
	return w.settle(c, ms, rec, true)
}

// settle merges the customers that verified identifiers prove into survivor
// and links the rest of the identifiers. chosen says the survivor was
// chosen by a person's identifier or by the caller, not by a device.
func (w *wtx) settle(survivor *wcust, ms []match, rec *Recognition, chosen bool) error {
	devices := map[int]bool{} // settled by settleDevice
	for i, m := range ms {
		if !m.found || !m.id.Verified || !m.verified {
			continue
		}
		c, err := w.load(m.cust)
		if err != nil {
			return err
		}
		if c == survivor {
			continue
		}
		if m.id.Kind == KindDevice {
			devices[i] = true
			if err := w.settleDevice(survivor, c, m.id, chosen, rec, ms); err != nil {
				return err
			}
			continue
		}
		if err := w.merge(survivor, c, "both have verified "+string(m.id.Kind)); err != nil {
			return err
		}
		rec.Merged = append(rec.Merged, c.p.ID)
	}
	for i, m := range ms {
		if devices[i] {
			continue
		}
		var owner *wcust
		if m.found {
			c, err := w.load(m.cust)
			if err != nil {
				return err
			}
			owner = c
		}
		switch {
		case owner == nil:
			if m.id.Kind == KindDevice {
				if err := w.roomForDevices(survivor, 1, ms); err != nil {
					return err
				}
			}
			if err := w.link(survivor, m.id); err != nil {
				return err
			}
			rec.Linked = append(rec.Linked, m.id)
		case owner == survivor:
			if m.id.Verified && !m.verified {
				if err := w.setIndex(m.id, survivor.p.ID, true); err != nil {
					return err
				}
				if err := w.emit(survivor, Event{Kind: EventIdentifierVerified, Identifier: &m.id}, nil); err != nil {
					return err
				}
				rec.Linked = append(rec.Linked, m.id)
			}
		case m.id.Verified:
			// Stored as a claim on another customer (verified ones merged
			// above): the owner proved it, so it moves.
			claim := m.id
			claim.Verified = false
			if err := w.emit(owner, Event{Kind: EventIdentifierUnlinked, Identifier: &claim,
				Reason: "verified by another customer"}, nil); err != nil {
				return err
			}
			if err := w.link(survivor, m.id); err != nil {
				return err
			}
			rec.Linked = append(rec.Linked, m.id)
		default:
			rec.Conflicts = append(rec.Conflicts, m.id)
		}
	}
	rec.Customer = survivor.p.ID
	return nil
}

// link links a new identifier to c.
func (w *wtx) link(c *wcust, id Identifier) error {
	if _, has := c.p.linked(id); !has && len(c.p.Idents) >= w.s.opts.limits.Identifiers {
		return &LimitError{What: "identifiers", Limit: w.s.opts.limits.Identifiers}
	}
	if err := w.setIndex(id, c.p.ID, id.Verified); err != nil {
		return err
	}
	return w.emit(c, Event{Kind: EventIdentifierLinked, Identifier: &id}, nil)
}

// pickSurvivor returns which of two customers survives their merge.
func pickSurvivor(a, b *wcust) (survivor, absorbed *wcust) {
	if s, _ := survivorOf(a.p, b.p); s == a.p {
		return a, b
	}
	return b, a
}

// keepTyped keeps an identifier the customer typed on their profile only
// (see Sync): the index is not read, so that nothing of other customers
// shows in what happens.
func (w *wtx) keepTyped(c *wcust, id Identifier) error {
	if _, ok := c.p.linked(id); ok {
		return nil
	}
	if len(c.p.Idents) >= w.s.opts.limits.Identifiers {
		return &LimitError{What: "identifiers", Limit: w.s.opts.limits.Identifiers}
	}
	return w.emit(c, Event{Kind: EventIdentifierTyped, Identifier: &id}, nil)
}

// settleDevice settles a device of customer c that the call ties to
// survivor. A device proves the device, not the person: people share
// computers. When c is anonymous (no verified identifier but devices), its
// memory is the device's and follows it: c is merged into survivor, unless
// that would pass a limit. When c is someone else, identified, only the
// device moves, and c keeps all that is theirs; two identified customers
// are never merged through a device. A device of an identified customer
// moves only to a survivor chosen by a person's identifier (or the caller):
// otherwise it stays, a conflict.
func (w *wtx) settleDevice(survivor, c *wcust, dev Identifier, chosen bool, rec *Recognition, ms []match) error {
	switch {
	case !c.p.identified():
		if len(survivor.p.activeMerges()) < w.s.opts.limits.Merges {
			// Room for what the device's memory proves, never for what
			// was typed in it: claims typed on a shared browser must not
			// push the signer-in's other devices out.
			if err := w.roomForDevices(survivor, newIdents(survivor.p, c.p), ms); err != nil {
				return err
			}
		}
		if survivor.p.mergeLimit(c.p, w.s.opts.limits) == nil && len(survivor.p.activeMerges()) < w.s.opts.limits.Merges {
			if err := w.merge(survivor, c, "the same device"); err != nil {
				return err
			}
			rec.Merged = append(rec.Merged, c.p.ID)
			return nil
		}
	case !chosen:
		rec.Conflicts = append(rec.Conflicts, dev)
		return nil
	}
	return w.moveDevice(c, survivor, dev, rec, ms)
}

// roomForDevices makes room among c's identifiers for n more, when they
// would pass Limits.Identifiers, by retiring c's devices linked longest
// ago, as at a logout on them: a customer who signs in on browser after
// browser (cookies cleared on every close) must not be refused on the next
// one because of the ones before, which would leave the new one a second
// record of them. A retired device is a stranger from then on; nothing
// else of the customer changes. Devices named in the call (ms) stay, and
// so do identifiers of other kinds: when those alone fill the limit, the
// link fails with ErrLimit as before.
func (w *wtx) roomForDevices(c *wcust, n int, ms []match) error {
	limit := w.s.opts.limits.Identifiers
	for len(c.p.Idents)+n > limit {
		oldest := -1
		for i, l := range c.p.Idents {
			if l.Kind != KindDevice || l.Typed || inCall(ms, l.Identifier) {
				continue
			}
			if oldest < 0 || l.At.Before(c.p.Idents[oldest].At) {
				oldest = i
			}
		}
		if oldest < 0 {
			return nil // nothing to retire: the link says which limit
		}
		gone := c.p.Idents[oldest].Identifier
		if err := w.deleteIndex(gone); err != nil {
			return err
		}
		if err := w.emit(c, Event{Kind: EventIdentifierUnlinked, Identifier: &gone,
			Reason: "retired for a newer device"}, nil); err != nil {
			return err
		}
	}
	return nil
}

// inCall reports whether id is one of a call's identifiers.
func inCall(ms []match, id Identifier) bool {
	for _, m := range ms {
		if m.id.Kind == id.Kind && m.id.Value == id.Value {
			return true
		}
	}
	return false
}

// newIdents counts the identifiers of o, typed claims left out, that p
// does not have: what merging o into p adds that a device proves.
func newIdents(p, o *profile) int {
	n := 0
	for _, l := range o.Idents {
		if l.Typed {
			continue
		}
		if _, ok := p.linked(l.Identifier); !ok {
			n++
		}
	}
	return n
}

// moveDevice moves a device from one customer to another, with its sync
// mark: what the device sends from now on is the new customer's.
func (w *wtx) moveDevice(from, to *wcust, dev Identifier, rec *Recognition, ms []match) error {
	if err := w.roomForDevices(to, 1, ms); err != nil {
		return err
	}
	if err := w.emit(from, Event{Kind: EventIdentifierUnlinked, Identifier: &dev,
		Reason: "signed in on this device as another customer"}, nil); err != nil {
		return err
	}
	if err := w.link(to, dev); err != nil {
		return err
	}
	rec.Moved = append(rec.Moved, dev)
	return nil
}
