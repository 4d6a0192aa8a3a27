package memory

import "time"

// EventKind is what an event records.
type EventKind string

// Event kinds. The fields of Event each kind sets are listed beside it.
const (
	EventCreated            EventKind = "customer.created"    // —
	EventIdentifierLinked   EventKind = "identifier.linked"   // Identifier
	EventIdentifierTyped    EventKind = "identifier.typed"    // Identifier: a claim typed in a page, kept but not indexed
	EventIdentifierVerified EventKind = "identifier.verified" // Identifier
	EventIdentifierUnlinked EventKind = "identifier.unlinked" // Identifier, Reason
	EventNamed              EventKind = "profile.named"       // Name
	EventFactRemembered     EventKind = "fact.remembered"     // Fact; once erased, Erased and the Fact without its Value
	EventFactForgotten      EventKind = "fact.forgotten"      // Key
	EventFactExpired        EventKind = "fact.expired"        // Key
	EventPreferenceSet      EventKind = "preference.set"      // Key, Value ("" clears)
	EventConsentRecorded    EventKind = "consent.recorded"    // Consent
	EventIssueOpened        EventKind = "issue.opened"        // Issue; also the first contact about it
	EventIssueEscalated     EventKind = "issue.escalated"     // Issue
	EventIssueResolved      EventKind = "issue.resolved"      // Issue
	EventIssueReopened      EventKind = "issue.reopened"      // Issue
	EventIssueJoined        EventKind = "issue.joined"        // Issue, Key (the ID of the issue joined into it), Reason (the Match): a merge found them one
	EventContactRecorded    EventKind = "contact.recorded"    // Contact
	EventAtRisk             EventKind = "customer.at_risk"    // —
	EventDraftSaved         EventKind = "draft.saved"         // Draft
	EventDraftDeleted       EventKind = "draft.deleted"       // Draft (name)
	EventSignalRecorded     EventKind = "signal.recorded"     // Signal
	EventMerged             EventKind = "customer.merged"     // Merge: this customer absorbed Merge.From
	EventAbsorbed           EventKind = "customer.absorbed"   // Merge: this customer was merged into Merge.Into
	EventUnmerged           EventKind = "customer.unmerged"   // Merge: undone, on both customers; Moved on the survivor
	EventForgotten          EventKind = "customer.forgotten"  // Receipt; delivered by Watch only, never stored
	EventCompacted          EventKind = "history.compacted"   // Compaction: the oldest events, folded
)

// Event is one change to a customer. Every change is an event appended to
// the customer's history, and the stored profile is the projection of those
// events, written in the same transaction.
type Event struct {
	Customer CustomerID `json:"customer" msgpack:"-"`
	// Seq numbers the customer's events from 1, in the order they apply.
	Seq  uint64    `json:"seq" msgpack:"q"`
	Kind EventKind `json:"kind" msgpack:"k"`
	At   time.Time `json:"at" msgpack:"t"`

	Identifier *Identifier `json:"identifier,omitempty" msgpack:"id,omitempty"`
	Name       string      `json:"name,omitempty" msgpack:"nm,omitempty"`
	Key        string      `json:"key,omitempty" msgpack:"ky,omitempty"`
	Value      string      `json:"value,omitempty" msgpack:"vl,omitempty"`
	Reason     string      `json:"reason,omitempty" msgpack:"rs,omitempty"`
	Fact       *Fact       `json:"fact,omitempty" msgpack:"fa,omitempty"`
	Consent    *Consent    `json:"consent,omitempty" msgpack:"co,omitempty"`
	Issue      *Issue      `json:"issue,omitempty" msgpack:"is,omitempty"`
	Contact    *Contact    `json:"contact,omitempty" msgpack:"ct,omitempty"`
	Draft      *DraftInfo  `json:"draft,omitempty" msgpack:"dr,omitempty"`
	Signal     *Signal     `json:"signal,omitempty" msgpack:"sg,omitempty"`
	Merge      *Merge      `json:"merge,omitempty" msgpack:"mg,omitempty"`
	Receipt    *Receipt    `json:"receipt,omitempty" msgpack:"-"`
	Compaction *Compaction `json:"compaction,omitempty" msgpack:"cp,omitempty"`

	// Erased is when the personal value this event recorded was erased: a
	// fact's value, once it expired or was forgotten. The event stays, to
	// say what kind of thing was kept and when; its value is gone.
	Erased time.Time `json:"erased,omitzero" msgpack:"er,omitempty"`

	// Moved is, on a customer.unmerged event of the survivor (or of a
	// customer it was merged into since), which of its events went back to
	// the absorbed customer.
	Moved *Moved `json:"moved,omitempty" msgpack:"mv,omitempty"`

	// checkpoint is, on a history.compacted event read from the store,
	// the state the folded events left.
	checkpoint *checkpoint
}

// Moved names the events an unmerge gave back to the absorbed customer:
// those between Seq After (the merge that brought its data) and the
// customer.unmerged event that carries it, about one of Issues (contacts,
// escalations, reopenings, resolutions). They were recorded again on the
// absorbed customer, and a replay of this customer leaves them out.
type Moved struct {
	After  uint64    `json:"after" msgpack:"a"`
	Issues []IssueID `json:"issues" msgpack:"i"`
}

// Compaction describes a history.compacted event: it stands for the
// oldest events of a customer's history, folded into the state they left
// once the history passed Limits.History. The customer's profile, its
// identifiers, facts, preferences, consent and open issues, and the newest
// contacts and resolved issues up to their limits are all kept; the
// folded events themselves are not.
type Compaction struct {
	Events int       `json:"events" msgpack:"n"` // events folded, in all compactions so far
	From   time.Time `json:"from" msgpack:"f"`   // when the oldest folded event happened
	To     time.Time `json:"to" msgpack:"t"`     // when the newest folded event happened
	// FinalMerges are the merges folded while in force, which Unmerge can
	// no longer undo. Compaction folds a merge in force only when the
	// customer's history has grown to twice Limits.History since it.
	FinalMerges []string `json:"final_merges,omitempty" msgpack:"fm,omitempty"`
}
