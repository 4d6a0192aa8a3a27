//go:build !wasip1

package memory

import (
	"context"
	"fmt"
	"time"
)

// Brief returns what an agent or a help widget needs about a customer now:
// name, open issues, last contacts, the facts not to ask again (as far as
// q's purpose and the customer's consent allow), preferences and flags.
// Repeated briefs of a customer come from memory; every write keeps that
// memory correct.
func (s *Store) Brief(ctx context.Context, id CustomerID, q BriefQuery) (Brief, error) {
	if err := s.checkQuery(&q); err != nil {
		return Brief{}, err
	}
	p, err := s.customerOf(ctx, id)
	if err != nil {
		return Brief{}, err
	}
	b, _ := s.briefOf(p, q)
	return b, nil
}

// BriefFor returns the brief of the customer an identifier belongs to,
// without creating or linking anything; ErrNotFound when it belongs to no
// one. It is the hot path of a help widget or an agent screen.
func (s *Store) BriefFor(ctx context.Context, ident Identifier, q BriefQuery) (Brief, error) {
	if err := s.checkQuery(&q); err != nil {
		return Brief{}, err
	}
	n, err := s.normalize(ident)
	if err != nil {
		return Brief{}, err
	}
	key := identKey(n)
	start := s.epoch.Now()
	e, ok := s.idents.Get(key)
	if !ok {
		p, err := s.identMissed(ctx, n, key)
		if err != nil {
			return Brief{}, err
		}
		b, _ := s.briefOf(p, q)
		return b, nil
	}
	now := q.Now.IsZero()
	if now {
		q.Now = time.Unix(0, s.instant()).UTC()
	}
	if h := e.hot; h != nil && h.holds(q.Purpose, q.Channel, q.Now.UnixNano()) {
		if s.closed.Load() {
			return Brief{}, ErrClosed
		}
		return h.brief, nil
	}
	// Any transaction customerOf starts is at least as new as the entry.
	p, err := s.customerOf(ctx, e.Customer)
	if err != nil {
		return Brief{}, err
	}
	b, kept := p.memoBrief(q, now, s.opts.atRiskWindow)
	if kept != nil && now && kept != e.hot && p.ID == e.Customer {
		// The identifier's entry points at the brief, so that the next
		// brief by it is one lookup, unless the entry changed since it was
		// read.
		kept.memo.point(key, func() {
			e.hot = kept
			s.idents.Fill(key.own(), e, start)
		})
	}
	return b, nil
}

// briefOf returns the brief of p, a shared profile, for q, a checked query:
// from p's memo when it holds one for q's instant, which is now when q.Now
// is zero, and the memo's entry for it.
func (s *Store) briefOf(p *profile, q BriefQuery) (Brief, *memoEntry) {
	now := q.Now.IsZero()
	if now {
		q.Now = time.Unix(0, s.instant()).UTC()
	}
	return p.memoBrief(q, now, s.opts.atRiskWindow)
}

func (s *Store) checkQuery(q *BriefQuery) error {
	if q.Purpose == "" {
		q.Purpose = PurposeService
	} else if err := q.Purpose.check(); err != nil {
		return err
	}
	if q.Channel != "" {
		if err := q.Channel.check("brief channel"); err != nil {
			return err
		}
	}
	return nil
}

// MayContact says whether the customer may be contacted on channel ch for
// purpose at the given time (zero means now), and if not, why: no consent,
// outside their contact hours, a pause they asked for, or a preference for
// another channel.
func (s *Store) MayContact(ctx context.Context, id CustomerID, ch Channel, purpose Purpose, at time.Time) (Decision, error) {
	if err := ch.check("channel"); err != nil {
		return Decision{}, err
	}
	if err := purpose.check(); err != nil {
		return Decision{}, err
	}
	if at.IsZero() {
		at = s.now()
	}
	p, err := s.customerOf(ctx, id)
	if err != nil {
		return Decision{}, err
	}
	return p.mayContact(ch, purpose, at), nil
}

// Influence returns the customer's influence score, 1 to 5, with its
// reasons. It is internal: never show it to the customer. It is profiling:
// when the customer refused profiling, it fails with ErrNoConsent.
func (s *Store) Influence(ctx context.Context, id CustomerID) (Influence, error) {
	p, err := s.customerOf(ctx, id)
	if err != nil {
		return Influence{}, err
	}
	if refused(p.Consents, PurposeProfiling) {
		return Influence{}, fmt.Errorf("%w: the customer refused profiling", ErrNoConsent)
	}
	return influenceOf(p.Signals), nil
}
