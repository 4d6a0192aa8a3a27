//go:build !wasip1

package memory

import (
	"context"
	"errors"
)

// OpenIssue opens an issue the customer came with on channel ch. Opening it
// is recorded as the customer's first contact about it.
//
// When the subject matches an open issue of the customer (the issue's ID
// in it, a reference both carry, or the same subject once normalized,
// within IssueMatchWindow of the issue's last contact; see Match), the
// customer came back about that issue: it is recorded as a contact on it
// (with Contact.Matched saying how), which escalates it, and that issue is
// returned, its Contacts counting this one, instead of a second issue.
// Check the returned Issue's Contacts (more than 1) to tell the two apart.
func (s *Store) OpenIssue(ctx context.Context, id CustomerID, subject string, ch Channel) (Issue, error) {
	var out Issue
	err := s.Update(ctx, id, func(tx *Tx) error {
		var err error
		out, err = tx.OpenIssue(subject, ch)
		return err
	})
	return out, err
}

// RecordContact records a contact with the customer. A contact about an
// open issue that the customer already contacted about escalates it: they
// had to come back. A contact about a resolved issue reopens and escalates
// it: the problem came back. The result says whether the issue is escalated
// and whether the customer is now at risk.
//
// A contact that names no Issue but gives its Subject is attached to the
// customer's open issue that the subject is about, by the rule OpenIssue
// follows (see Match): the recorded contact names the issue and how it
// matched, so that replaying the history never depends on the rule. A
// subject that matches nothing leaves the contact without an issue; so
// does a Summary, which is never matched. Contact.Matched is the rules' to
// set: a contact that gives it is refused.
func (s *Store) RecordContact(ctx context.Context, id CustomerID, ct Contact) (ContactResult, error) {
	var res ContactResult
	err := s.Update(ctx, id, func(tx *Tx) error {
		var err error
		res, err = tx.RecordContact(ct)
		return err
	})
	return res, err
}

// ResolveIssue resolves an open issue, with an optional note on how.
// Resolving a resolved issue does nothing; an unknown one is ErrNotFound.
func (s *Store) ResolveIssue(ctx context.Context, id CustomerID, issue IssueID, resolution string) error {
	return s.Update(ctx, id, func(tx *Tx) error { return tx.ResolveIssue(issue, resolution) })
}

// findResolved finds a resolved issue in the timelines of c and of the
// customers merged into it.
func (w *wtx) findResolved(c *wcust, issue IssueID) (Issue, error) {
	_, resolved, err := w.timelines(c.p)
	if err != nil {
		return Issue{}, err
	}
	for _, is := range resolved {
		if is.ID == issue {
			return is, nil
		}
	}
	return Issue{}, notFound("issue " + string(issue))
}

// timelineOwners calls fn with p and every customer merged into it that
// still counts, recursively: the owners of the timelines p shows.
func timelineOwners(p *profile, load func(CustomerID) (*profile, error), fn func(*profile) error) error {
	seen := map[CustomerID]bool{}
	var walk func(p *profile, depth int) error
	walk = func(p *profile, depth int) error {
		if seen[p.ID] || depth > maxRedirects {
			return nil
		}
		seen[p.ID] = true
		if err := fn(p); err != nil {
			return err
		}
		for _, m := range p.activeMerges() {
			o, err := load(m.From)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := walk(o, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(p, 0)
}
