//go:build !wasip1

package memory

import (
	"context"
	"errors"
	"fmt"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// OpenIssue opens an issue the customer came with on channel ch. Opening it
// is recorded as the customer's first contact about it.
func (s *Store) OpenIssue(ctx context.Context, id CustomerID, subject string, ch Channel) (Issue, error) {
	if subject == "" {
		return Issue{}, invalid("issue subject", "empty")
	}
	if err := checkText("issue subject", subject, maxSubject); err != nil {
		return Issue{}, err
	}
	if err := ch.check("issue channel"); err != nil {
		return Issue{}, err
	}
	var out Issue
	err := s.update(ctx, id, func(w *wtx, c *wcust) error {
		if len(c.p.Open) >= w.s.opts.limits.OpenIssues {
			return &LimitError{What: "open issues", Limit: w.s.opts.limits.OpenIssues}
		}
		is := Issue{ID: newIssueID(), Subject: subject, Channel: ch, Opened: w.now, Status: IssueOpen,
			LastContact: w.now, LastChannel: ch}
		if err := w.emit(c, Event{Kind: EventIssueOpened, Issue: &is}, nil); err != nil {
			return err
		}
		first := Contact{Channel: ch, At: w.now, Issue: is.ID, Outcome: OutcomeNeutral, Summary: subject}
		if err := w.emit(c, Event{Kind: EventContactRecorded, Contact: &first}, nil); err != nil {
			return err
		}
		out = c.p.Open[findIssue(c.p.Open, is.ID)]
		return nil
	})
	return out, err
}

// RecordContact records a contact with the customer. A contact about an
// open issue that the customer already contacted about escalates it: they
// had to come back. A contact about a resolved issue reopens and escalates
// it: the problem came back. The result says whether the issue is escalated
// and whether the customer is now at risk.
func (s *Store) RecordContact(ctx context.Context, id CustomerID, ct Contact) (ContactResult, error) {
	if ct.Outcome == "" {
		ct.Outcome = OutcomeNeutral
	}
	if err := ct.check(); err != nil {
		return ContactResult{}, err
	}
	now := s.now()
	if ct.At.IsZero() {
		ct.At = now
	}
	ct.At = ct.At.UTC()
	if err := checkWhen("contact time", ct.At, now); err != nil {
		return ContactResult{}, err
	}
	var res ContactResult
	err := s.update(ctx, id, func(w *wtx, c *wcust) error {
		res = ContactResult{}
		window := w.s.opts.atRiskWindow
		wasAtRisk := atRisk(c.p.Negatives, w.now, window)
		reopened := false
		if ct.Issue != "" && findIssue(c.p.Open, ct.Issue) < 0 {
			is, err := w.findResolved(c, ct.Issue)
			if err != nil {
				return err
			}
			if len(c.p.Open) >= w.s.opts.limits.OpenIssues {
				return &LimitError{What: "open issues", Limit: w.s.opts.limits.OpenIssues}
			}
			is.Status, is.Resolved, is.Resolution = IssueOpen, zeroTime, ""
			if err := w.emit(c, Event{Kind: EventIssueReopened, Issue: &is}, nil); err != nil {
				return err
			}
			reopened = true
		}
		contact := ct
		if err := w.emit(c, Event{Kind: EventContactRecorded, Contact: &contact}, nil); err != nil {
			return err
		}
		if ct.Issue != "" {
			i := findIssue(c.p.Open, ct.Issue)
			is := c.p.Open[i]
			if !is.Escalated && (is.Contacts >= 2 || reopened) {
				if err := w.emit(c, Event{Kind: EventIssueEscalated, Issue: &is}, nil); err != nil {
					return err
				}
			}
			is = c.p.Open[i]
			res.Issue, res.Escalated = &is, is.Escalated
		}
		res.AtRisk = atRisk(c.p.Negatives, w.now, window)
		if res.AtRisk && !wasAtRisk {
			return w.emit(c, Event{Kind: EventAtRisk}, nil)
		}
		return nil
	})
	return res, err
}

// ResolveIssue resolves an open issue, with an optional note on how.
// Resolving a resolved issue does nothing; an unknown one is ErrNotFound.
func (s *Store) ResolveIssue(ctx context.Context, id CustomerID, issue IssueID, resolution string) error {
	if err := checkText("resolution", resolution, maxResolution); err != nil {
		return err
	}
	return s.update(ctx, id, func(w *wtx, c *wcust) error {
		i := findIssue(c.p.Open, issue)
		if i < 0 {
			_, err := w.findResolved(c, issue)
			return err
		}
		is := c.p.Open[i]
		is.Resolution = resolution
		return w.emit(c, Event{Kind: EventIssueResolved, Issue: &is}, nil)
	})
}

// findResolved finds a resolved issue in the timelines of c and of the
// customers merged into it.
func (w *wtx) findResolved(c *wcust, issue IssueID) (Issue, error) {
	var found *Issue
	err := timelineOwners(c.p, func(id CustomerID) (*profile, error) {
		o, err := w.loadExact(id)
		if err != nil {
			return nil, err
		}
		return o.p, nil
	}, func(owner *profile) error {
		return readLog(w.txn, keys.Resolved(string(owner.ID)), func(is *Issue) {
			if is.ID == issue {
				v := *is
				found = &v
			}
		})
	})
	if err != nil {
		return Issue{}, err
	}
	for i := range c.resolved {
		if c.resolved[i].ID == issue {
			found = &c.resolved[i]
		}
	}
	if found == nil {
		return Issue{}, fmt.Errorf("%w: issue %s", ErrNotFound, issue)
	}
	return *found, nil
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

// readLog calls fn with each entry of the log at key, oldest first.
func readLog[T any](t *kv.Txn, key []byte, fn func(*T)) error {
	err := t.Get(key, func(b []byte) error {
		return codec.Entries(b, func(e []byte) error {
			v := new(T)
			if err := codec.Decode(e, v); err != nil {
				return err
			}
			fn(v)
			return nil
		})
	})
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	return storeErr(err)
}
