//go:build !wasip1

package memory

import (
	"context"
	"strconv"
	"strings"
)

// Snapshot returns the customer-facing part of the memory of the customer
// that holds id now: what the customer may see, and all a browser may hold.
func (s *Store) Snapshot(ctx context.Context, id CustomerID) (*Snapshot, error) {
	p, err := s.customerOf(ctx, id)
	if err != nil {
		return nil, err
	}
	snap := p.snapshot(s.now())
	return &snap, nil
}

// SyncResult is what Sync did.
type SyncResult struct {
	// Customer is who the device belongs to. Keep it on the server.
	Customer CustomerID
	// Applied is the Seq of the last change from the device that the store
	// holds; the device may drop its changes up to it.
	Applied uint64
	// Snapshot is the customer-facing memory after the changes.
	Snapshot Snapshot
}

// ChangeError says which change of a Sync was refused, and why. Nothing of
// the Sync was applied; the device should drop that change and send the
// rest again.
type ChangeError struct {
	Seq uint64
	Err error
}

func (e *ChangeError) Error() string {
	return "memory: change " + strconv.FormatUint(e.Seq, 10) + ": " + e.Err.Error()
}

func (e *ChangeError) Unwrap() error { return e.Err }

// Sync applies changes a customer made on a device, such as those of a
// Local memory, and returns the customer-facing snapshot after them. The
// device must be linked to a customer (Recognize it first); ErrNotFound
// otherwise.
//
// Only changes a customer may make are accepted: identifiers they typed,
// their name,
// facts, preferences, consent, issues they open (given new IDs) and neutral
// contacts. Changes are numbered by Seq on the device; those already applied
// are skipped, so a device may send a batch again. All are checked first and
// applied in one transaction: a refused change fails the call with a
// *ChangeError and nothing is applied.
//
// An identifier a customer typed is a claim that anyone could type: it is
// kept on the customer (an identifier.typed event) but never enters the
// index that Recognize, Lookup and BriefFor resolve through, so that no one
// is ever recognized by what someone else typed, and whether another
// customer holds it makes no difference to the call, its answer or its
// time. It counts against Limits.Identifiers. It becomes an identifier of
// the customer like any other once the application links it (Link, or
// Recognize with it verified, when the customer proved it).
func (s *Store) Sync(ctx context.Context, device Identifier, changes []Event) (SyncResult, error) {
	dev, err := s.normalize(device)
	if err != nil {
		return SyncResult{}, err
	}
	if dev.Kind != KindDevice {
		return SyncResult{}, invalid("sync", "changes come from a device identifier")
	}
	now := s.now()
	for i := range changes {
		e := &changes[i]
		refuse := func(err error) (SyncResult, error) { return SyncResult{}, &ChangeError{Seq: e.Seq, Err: err} }
		if e.Seq == 0 || i > 0 && e.Seq <= changes[i-1].Seq {
			return refuse(invalid("change seq", "changes are numbered from 1 in increasing order"))
		}
		if !isChangeKind(e.Kind) {
			return refuse(invalid("change", "events of kind "+quote(string(e.Kind))+" cannot come from a customer"))
		}
		if err := checkChange(e, false); err != nil {
			return refuse(err)
		}
		for _, t := range changeTimes(e) {
			if t.After(now.Add(maxClockSkew)) {
				return refuse(invalid("change time", "in the future"))
			}
		}
	}
	var res SyncResult
	err = s.write(ctx, func(w *wtx) error {
		res = SyncResult{}
		entry, ok, err := w.index(dev)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("device")
		}
		c, err := w.load(entry.Customer)
		if err != nil {
			return err
		}
		r := onCustomer{w: w, c: c}
		issues := map[IssueID]IssueID{} // local issue IDs to the new ones
		applied := entry.Applied
		for _, e := range changes {
			if e.Seq <= entry.Applied {
				continue
			}
			if err := w.applyChange(r, e, issues); err != nil {
				return &ChangeError{Seq: e.Seq, Err: err}
			}
			applied = e.Seq
		}
		if applied != entry.Applied {
			entry.Applied = applied
			if err := w.putIndex(dev, entry); err != nil {
				return err
			}
		}
		res = SyncResult{Customer: c.p.ID, Applied: applied, Snapshot: c.p.snapshot(w.now)}
		return nil
	})
	if err != nil {
		return SyncResult{}, err
	}
	return res, nil
}

// applyChange applies one checked change of a customer's.
func (w *wtx) applyChange(r onCustomer, e Event, issues map[IssueID]IssueID) error {
	switch e.Kind {
	case EventIdentifierLinked:
		return w.keepTyped(r.c, *e.Identifier)
	case EventNamed:
		return setName(r, e.Name)
	case EventFactRemembered:
		f := *e.Fact
		if f.At.IsZero() {
			f.At = w.now
		}
		return rememberFacts(r, []Fact{f})
	case EventFactForgotten:
		if _, ok := r.current().fact(e.Key); !ok {
			return nil
		}
		return forgetFact(r, e.Key)
	case EventPreferenceSet:
		return setPreference(r, e.Key, e.Value)
	case EventConsentRecorded:
		c := *e.Consent
		if c.At.IsZero() {
			c.At = w.now
		}
		return recordConsent(r, c)
	case EventIssueOpened:
		is, err := openIssue(r, newIssueID(), e.Issue.Subject, e.Issue.Channel)
		if err != nil {
			return err
		}
		issues[e.Issue.ID] = is.ID
		return nil
	case EventContactRecorded:
		ct := *e.Contact
		if id, ok := issues[ct.Issue]; ok {
			ct.Issue = id
		} else if strings.HasPrefix(string(ct.Issue), localIssuePrefix) {
			ct.Issue = "" // opened in a batch the store never got
		}
		if ct.At.IsZero() {
			ct.At = w.now
		}
		_, err := recordContact(r, ct, w.s.opts.atRiskWindow, func(id IssueID) (Issue, error) {
			is, err := r.resolved(id)
			if err != nil {
				return Issue{}, err
			}
			return is, nil
		})
		return err
	}
	return invalid("change", "events of kind "+quote(string(e.Kind))+" cannot come from a customer")
}
