//go:build !wasip1

package memory_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// lastContactEvent returns the newest contact.recorded event of the
// customer's own history.
func lastContactEvent(t *testing.T, s *memory.Store, id memory.CustomerID) memory.Contact {
	t.Helper()
	h, err := s.History(context.Background(), id)
	require.NoError(t, err)
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Kind == memory.EventContactRecorded && h[i].Customer == id {
			return *h[i].Contact
		}
	}
	t.Fatal("no contact event")
	return memory.Contact{}
}

// TestContactWithoutIssueIsAttached: a contact that names no issue is
// attached to the open issue it is about, by the issue's ID in its
// subject, a reference both carry, or the same subject once normalized,
// and escalates it; the event says which issue and how.
func TestContactWithoutIssueIsAttached(t *testing.T) {
	for _, c := range []struct {
		name    string
		opened  string
		subject func(memory.IssueID) string
		after   time.Duration
		how     memory.Match
	}{
		{"the issue's ID in the subject", "Parcel did not arrive",
			func(id memory.IssueID) string { return "Re: [" + string(id) + "] still waiting" }, time.Hour, memory.MatchIssueID},
		{"the issue's ID named long after", "Parcel did not arrive",
			func(id memory.IssueID) string { return "About " + strings.ToUpper(string(id)) }, 90 * 24 * time.Hour, memory.MatchIssueID},
		{"an order number both carry", "Refund for order Z-77",
			func(memory.IssueID) string { return "Where is my refund? (z77)" }, time.Hour, memory.MatchReference},
		{"a # reference and the bare number", "Order #10234 never came",
			func(memory.IssueID) string { return "10234 still missing" }, time.Hour, memory.MatchReference},
		{"reply and forward prefixes, case and spacing", "Delivery late",
			func(memory.IssueID) string { return "RE: Fwd:  delivery   LATE!" }, time.Hour, memory.MatchSubject},
		{"a German reply", "Lieferung verspätet",
			func(memory.IssueID) string { return "AW: WG: Lieferung verspätet" }, time.Hour, memory.MatchSubject},
		{"a Dutch reply", "Pakket niet ontvangen",
			func(memory.IssueID) string { return "Antw: pakket niet ontvangen." }, time.Hour, memory.MatchSubject},
		{"another script, another case", "Доставка задерживается",
			func(memory.IssueID) string { return "Re: ДОСТАВКА ЗАДЕРЖИВАЕТСЯ" }, time.Hour, memory.MatchSubject},
		{"just inside the window", "Delivery late",
			func(memory.IssueID) string { return "Delivery late" }, memory.IssueMatchWindow, memory.MatchSubject},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s, clk := openClocked(t)
			id := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
			is, err := s.OpenIssue(ctx, id, c.opened, memory.ChannelEmail)
			require.NoError(t, err)
			clk.Advance(c.after)

			res, err := s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelPhone, Subject: c.subject(is.ID)})
			require.NoError(t, err)
			require.NotNil(t, res.Issue, "attached")
			require.Equal(t, is.ID, res.Issue.ID)
			require.Equal(t, 2, res.Issue.Contacts)
			require.True(t, res.Escalated, "the customer came back: escalated")

			ct := lastContactEvent(t, s, id)
			require.Equal(t, is.ID, ct.Issue, "the event names the issue")
			require.Equal(t, c.how, ct.Matched, "and how the rule matched")
			b := brief(t, s, id)
			require.True(t, b.Escalate)
			require.Len(t, b.OpenIssues, 1)
		})
	}
}

// TestContactWithoutIssueStaysApart: what only looks alike is not
// attached: another order number, a longer number, a reference inside
// a longer token, a similar subject, an old issue, a resolved one, another
// customer's. Each leaves the issue at one contact, not escalated.
func TestContactWithoutIssueStaysApart(t *testing.T) {
	for _, c := range []struct {
		name    string
		opened  string
		contact memory.Contact
		after   time.Duration
		resolve bool
	}{
		{"another order number", "Refund for order Z-77", memory.Contact{Subject: "Refund for order Z-78"}, time.Hour, false},
		{"a longer order number", "Refund for order Z-77", memory.Contact{Subject: "Refund for order Z-770"}, time.Hour, false},
		{"a longer reference around it", "Refund for order Z-77", memory.Contact{Subject: "Refund for order XZ-77"}, time.Hour, false},
		{"inside an address", "Refund for order Z-77", memory.Contact{Subject: "Refund, from z-77@example.com"}, time.Hour, false},
		{"inside a path", "Refund for order Z-77", memory.Contact{Subject: "Refund for order Z-77/2"}, time.Hour, false},
		{"a short number is no reference", "Order 123 is missing a part", memory.Contact{Subject: "Order 123 arrived broken"}, time.Hour, false},
		{"a similar subject", "Delivery late", memory.Contact{Subject: "Delivery address change"}, time.Hour, false},
		{"a longer subject", "Delivery late", memory.Contact{Subject: "Delivery late again, and damaged"}, time.Hour, false},
		{"the words in another order", "Delivery late", memory.Contact{Subject: "Late delivery"}, time.Hour, false},
		{"a lookalike in another script", "Odos", memory.Contact{Subject: "Οδος"}, time.Hour, false},
		{"punctuation only", "???", memory.Contact{Subject: "!!!"}, time.Hour, false},
		{"the same words in the summary only", "Delivery late", memory.Contact{Summary: "Delivery late"}, time.Hour, false},
		{"past the window", "Delivery late", memory.Contact{Subject: "Delivery late"}, memory.IssueMatchWindow + time.Minute, false},
		{"a resolved issue", "Delivery late", memory.Contact{Subject: "Delivery late"}, time.Hour, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s, clk := openClocked(t)
			id := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
			is, err := s.OpenIssue(ctx, id, c.opened, memory.ChannelEmail)
			require.NoError(t, err)
			if c.resolve {
				require.NoError(t, s.ResolveIssue(ctx, id, is.ID, "solved"))
			}
			clk.Advance(c.after)

			ct := c.contact
			ct.Channel = memory.ChannelPhone
			res, err := s.RecordContact(ctx, id, ct)
			require.NoError(t, err)
			require.Nil(t, res.Issue, "not attached")
			require.False(t, res.Escalated)
			got := lastContactEvent(t, s, id)
			require.Empty(t, got.Issue)
			require.Empty(t, got.Matched)
			b := brief(t, s, id)
			require.False(t, b.Escalate)
			if c.resolve {
				require.Empty(t, b.OpenIssues, "a resolved issue attracts nothing, and is not reopened")
				return
			}
			require.Len(t, b.OpenIssues, 1)
			require.Equal(t, 1, b.OpenIssues[0].Contacts)
		})
	}
}

// TestContactNeverAttachesToSomeoneElsesIssue: the rule looks at the
// customer's own open issues only; naming another customer's issue, by
// its subject, its reference or its ID, changes nothing of theirs.
func TestContactNeverAttachesToSomeoneElsesIssue(t *testing.T) {
	ctx := context.Background()
	s, _ := openClocked(t)
	victim := recognize(t, s, memory.Email("grace@example.com").AsVerified()).Customer
	theirs, err := s.OpenIssue(ctx, victim, "Refund for order Z-77", memory.ChannelEmail)
	require.NoError(t, err)
	other := recognize(t, s, memory.Email("mallory@example.com").AsVerified()).Customer

	for _, subject := range []string{"Refund for order Z-77", "Z-77", "Re: " + string(theirs.ID)} {
		res, err := s.RecordContact(ctx, other, memory.Contact{Channel: memory.ChannelEmail, Subject: subject})
		require.NoError(t, err)
		require.Nil(t, res.Issue, subject)
	}
	is, err := s.OpenIssue(ctx, other, "Refund for order Z-77", memory.ChannelEmail)
	require.NoError(t, err)
	require.NotEqual(t, theirs.ID, is.ID, "a new issue of their own")
	require.Equal(t, 1, is.Contacts)

	b := brief(t, s, victim)
	require.Len(t, b.OpenIssues, 1)
	require.Equal(t, 1, b.OpenIssues[0].Contacts, "the victim's issue is untouched")
	require.False(t, b.Escalate)
}

// TestOpeningTheSameQuestionAgainEscalates: opening an issue whose subject
// matches an open issue of the customer is the customer coming back about
// it: a contact on that issue, which escalates, not a second issue.
func TestOpeningTheSameQuestionAgainEscalates(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer

	first, err := s.OpenIssue(ctx, id, "Question asked while offline", memory.ChannelChat)
	require.NoError(t, err)
	clk.Advance(time.Minute)
	again, err := s.OpenIssue(ctx, id, "question asked while offline", memory.ChannelChat)
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID, "the same issue")
	require.Equal(t, 2, again.Contacts)
	require.True(t, again.Escalated)
	ct := lastContactEvent(t, s, id)
	require.Equal(t, first.ID, ct.Issue)
	require.Equal(t, memory.MatchSubject, ct.Matched)
	require.Equal(t, "question asked while offline", ct.Subject)

	other, err := s.OpenIssue(ctx, id, "Question about sizes", memory.ChannelChat)
	require.NoError(t, err)
	require.NotEqual(t, first.ID, other.ID, "another question is another issue")
	require.False(t, other.Escalated)

	b := brief(t, s, id)
	require.Len(t, b.OpenIssues, 2)
	require.True(t, b.Escalate)
	c, err := s.Customer(ctx, id)
	require.NoError(t, err)
	require.Len(t, c.Contacts, 3, "two contacts about the first, one about the second")

	// Once resolved, the same question is a new issue.
	require.NoError(t, s.ResolveIssue(ctx, id, first.ID, "answered"))
	fresh, err := s.OpenIssue(ctx, id, "Question asked while offline", memory.ChannelChat)
	require.NoError(t, err)
	require.NotEqual(t, first.ID, fresh.ID)
	require.Equal(t, 1, fresh.Contacts)
}

// TestMatchedIsTheRulesToSet: an application cannot pass a match off as
// the rules'.
func TestMatchedIsTheRulesToSet(t *testing.T) {
	ctx := context.Background()
	s, _ := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	is, err := s.OpenIssue(ctx, id, "Delivery late", memory.ChannelEmail)
	require.NoError(t, err)
	_, err = s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelEmail, Issue: is.ID, Matched: memory.MatchSubject})
	require.ErrorIs(t, err, memory.ErrInvalidInput)
	require.ErrorContains(t, err, "contact match")
	_, err = s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelEmail, Subject: strings.Repeat("x", 257)})
	require.ErrorIs(t, err, memory.ErrInvalidInput)
	require.ErrorContains(t, err, "contact subject")
	require.Equal(t, 1, brief(t, s, id).OpenIssues[0].Contacts, "nothing recorded")
}

// issuesOf is what a projection shows of the open issues, to compare the
// browser's with the store's.
func issuesOf(t *testing.T, is []memory.Issue) string {
	t.Helper()
	type shown struct {
		Subject   string
		Contacts  int
		Escalated bool
	}
	var out []shown
	for _, i := range is {
		out = append(out, shown{i.Subject, i.Contacts, i.Escalated})
	}
	b, err := json.Marshal(out)
	require.NoError(t, err)
	return string(b)
}

// TestBrowserAttachesAsTheStoreDoes: the widget's Local memory applies the
// same rule as the store, so a customer who types the same question again
// is one escalated issue in the browser, and the store, taking the
// browser's changes, ends with the same.
func TestBrowserAttachesAsTheStoreDoes(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	dev := device(t, s, "browser-token-issue-rule")
	local := memory.NewLocal(clk.Now, "NL")

	// Offline: the question, then the same question again.
	first, err := local.OpenIssue("Question asked while offline", memory.ChannelChat)
	require.NoError(t, err)
	clk.Advance(time.Minute)
	again, err := local.OpenIssue("question asked while offline?", memory.ChannelChat)
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID, "the browser attaches it too")
	require.True(t, again.Escalated)
	browser := issuesOf(t, local.Snapshot().OpenIssues)

	res, err := s.Sync(ctx, dev, local.Synced(), local.Pending())
	require.NoError(t, err)
	require.Equal(t, browser, issuesOf(t, res.Snapshot.OpenIssues), "the store's projection agrees")
	require.Equal(t, browser, issuesOf(t, brief(t, s, res.Customer).OpenIssues))
	local.ApplySnapshot(res.Snapshot, res.Applied)
	require.Equal(t, res.SyncBase, local.Synced())
	stored := res.Snapshot.OpenIssues[0].ID

	// Online: typed once more, attached to the store's issue in the
	// browser, and so in the store.
	clk.Advance(time.Minute)
	third, err := local.OpenIssue("Question asked while offline", memory.ChannelChat)
	require.NoError(t, err)
	require.Equal(t, stored, third.ID)
	// And a message with a subject and no issue, which the store's rule
	// attaches the same way.
	_, err = local.RecordContact(memory.Contact{Channel: memory.ChannelChat, Subject: "Re: question asked while offline"})
	require.NoError(t, err)
	browser = issuesOf(t, local.Snapshot().OpenIssues)
	require.Contains(t, browser, `"Contacts":4`)
	res, err = s.Sync(ctx, dev, local.Synced(), local.Pending())
	require.NoError(t, err)
	require.Equal(t, browser, issuesOf(t, res.Snapshot.OpenIssues))
	local.ApplySnapshot(res.Snapshot, res.Applied)
	require.Equal(t, res.SyncBase, local.Synced())
	require.Equal(t, browser, issuesOf(t, local.Snapshot().OpenIssues))

	// The same question sent as a raw contact with no issue: the store
	// decides by itself.
	raw := memory.Event{Seq: res.Applied + 1, Kind: memory.EventContactRecorded,
		Contact: &memory.Contact{Channel: memory.ChannelChat, Outcome: memory.OutcomeNeutral, Subject: "QUESTION ASKED WHILE OFFLINE"}}
	res, err = s.Sync(ctx, dev, res.SyncBase, []memory.Event{raw})
	require.NoError(t, err)
	require.Equal(t, 5, res.Snapshot.OpenIssues[0].Contacts)
	require.Equal(t, memory.MatchSubject, lastContactEvent(t, s, res.Customer).Matched)
}

// TestSyncRefusesABadMatch: what a browser sends about matching is checked
// like everything else: a clear error naming the change, and nothing
// applied; and a browser cannot reach another customer's issue, by ID or by
// subject, nor learn whether it exists.
func TestSyncRefusesABadMatch(t *testing.T) {
	ctx := context.Background()
	s, _ := openClocked(t)
	victim := recognize(t, s, memory.Email("grace@example.com").AsVerified()).Customer
	theirs, err := s.OpenIssue(ctx, victim, "Refund for order Z-77", memory.ChannelEmail)
	require.NoError(t, err)
	dev := device(t, s, "browser-token-attacker")
	good := memory.Event{Seq: 1, Kind: memory.EventNamed, Name: "Mallory"}
	contact := func(c memory.Contact) memory.Event {
		c.Channel, c.Outcome = memory.ChannelWeb, memory.OutcomeNeutral
		return memory.Event{Seq: 2, Kind: memory.EventContactRecorded, Contact: &c}
	}
	for _, c := range []struct {
		name string
		bad  memory.Event
		says string
	}{
		{"a match without an issue", contact(memory.Contact{Matched: memory.MatchSubject}), "contact match"},
		{"a match of no kind", contact(memory.Contact{Issue: "abc", Matched: "guess"}), "contact match"},
		{"a subject too long", contact(memory.Contact{Subject: strings.Repeat("Z-77 ", 60)}), "contact subject"},
		{"a subject not UTF-8", contact(memory.Contact{Subject: "Z-77 \xff"}), "contact subject"},
		{"another customer's issue", contact(memory.Contact{Issue: theirs.ID}), "not found"},
		{"another customer's issue, matched", contact(memory.Contact{Issue: theirs.ID, Matched: memory.MatchReference}), "not found"},
	} {
		_, err := s.Sync(ctx, dev, memory.SyncBase{}, []memory.Event{good, c.bad})
		var ce *memory.ChangeError
		require.True(t, errors.As(err, &ce), c.name)
		require.Equal(t, uint64(2), ce.Seq, c.name)
		require.ErrorContains(t, err, c.says, c.name)
	}
	// Naming an issue that exists elsewhere and one that exists nowhere
	// read the same.
	_, errTheirs := s.Sync(ctx, dev, memory.SyncBase{}, []memory.Event{contact(memory.Contact{Issue: theirs.ID})})
	_, errNone := s.Sync(ctx, dev, memory.SyncBase{}, []memory.Event{contact(memory.Contact{Issue: "aaaaaaaaaaaaaaaa"})})
	require.Equal(t, strings.ReplaceAll(errTheirs.Error(), string(theirs.ID), "ID"), strings.ReplaceAll(errNone.Error(), "aaaaaaaaaaaaaaaa", "ID"))

	res, err := s.Sync(ctx, dev, memory.SyncBase{}, nil)
	require.NoError(t, err)
	require.Empty(t, res.Snapshot.Name, "a refused batch changes nothing")
	require.Zero(t, res.Applied)

	// Their subject, their reference, their ID as a subject: a contact of
	// the attacker's own, attached to nothing.
	var changes []memory.Event
	for i, subj := range []string{"Refund for order Z-77", "Z-77", "Re: " + string(theirs.ID)} {
		e := contact(memory.Contact{Subject: subj})
		e.Seq = uint64(i + 1)
		changes = append(changes, e)
	}
	res, err = s.Sync(ctx, dev, memory.SyncBase{}, changes)
	require.NoError(t, err)
	require.Empty(t, res.Snapshot.OpenIssues)
	b := brief(t, s, victim)
	require.Equal(t, 1, b.OpenIssues[0].Contacts, "the victim's issue is untouched")
	require.False(t, b.Escalate)
}

// TestBrowserMatchOnAnIssueResolvedSince: the browser matched the question
// to the issue its snapshot showed open, which an agent resolved in the
// meantime. The store takes the contact as the browser named it: the
// customer came back about it, so it is reopened and escalated, and both
// projections agree.
func TestBrowserMatchOnAnIssueResolvedSince(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	dev := device(t, s, "browser-token-resolved-since")
	local := memory.NewLocal(clk.Now, "NL")
	_, err := local.OpenIssue("Parcel did not arrive", memory.ChannelChat)
	require.NoError(t, err)
	res, err := s.Sync(ctx, dev, local.Synced(), local.Pending())
	require.NoError(t, err)
	local.ApplySnapshot(res.Snapshot, res.Applied)
	stored := res.Snapshot.OpenIssues[0].ID

	require.NoError(t, s.ResolveIssue(ctx, res.Customer, stored, "resent"))
	clk.Advance(time.Hour)
	again, err := local.OpenIssue("Re: parcel did not arrive", memory.ChannelChat)
	require.NoError(t, err)
	require.Equal(t, stored, again.ID)
	browser := issuesOf(t, local.Snapshot().OpenIssues)

	res, err = s.Sync(ctx, dev, local.Synced(), local.Pending())
	require.NoError(t, err)
	require.Equal(t, browser, issuesOf(t, res.Snapshot.OpenIssues))
	require.Equal(t, stored, res.Snapshot.OpenIssues[0].ID)
	require.True(t, res.Snapshot.OpenIssues[0].Escalated)
}
