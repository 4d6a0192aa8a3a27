// Package memory is a fast, private, per-customer memory for Go
// applications: who a customer is across email, phone, account and device;
// what they already told you; their open issues and last contacts on each
// channel; their preferences and consent. Embed it in a shop, a help desk or
// a CRM, and nobody asks the customer twice.
//
// # The model
//
// A Store holds customers. Each customer has identifiers (Identifier:
// email, phone, account, device, or a custom kind), normalized and marked
// verified or claimed. Recognize resolves identifiers to one customer,
// creating and linking as needed; only verified identifiers merge two
// customers, and a merge can be undone with Unmerge.
//
// Three rules keep people apart. A device proves the device, not the
// person, as people share browsers: signing in on a device whose memory is
// anonymous makes that memory the person's, while on a device of someone
// else only the device moves, and two people are never merged through a
// device (Unlink detaches a device when its person signs out). An
// identifier a customer typed in a page (a claim that came through Sync)
// is kept with that customer but recognizes nobody, not even them, until
// the application links it: whoever types an address first gains nothing
// of the mail that later comes from it. And times a change gives are
// bounded by the store's clock, and a withdrawal of consent wins over any
// grant recorded before it, whatever time the grant claims.
//
// Every change is an Event appended to the customer's history; the stored
// profile is the projection of those events, written in the same
// transaction. The profile holds:
//
//   - facts (Remember): answers the customer gave, each with its channel,
//     time, purpose and retention; one value per key, the newest;
//   - preferences (SetPreference): preferred channel, language, contact
//     hours, a pause, and free keys;
//   - consent (RecordConsent) per purpose and channel, which the store
//     enforces rather than just keeps;
//   - issues (OpenIssue, RecordContact, ResolveIssue) and the contact
//     timeline across channels, with repeat-contact escalation and an at-risk
//     flag after two negative outcomes in a window (see "Repeat contacts"
//     below);
//   - drafts (SaveDraft): work in progress that survives everything;
//   - influence signals (RecordSignal), scored 1 to 5 by Influence, internal.
//
// Brief is the one call an agent screen or help widget makes; it is served
// from memory for hot customers. MayContact answers whether the customer may
// be contacted on a channel for a purpose now, and why not. Customer, Export
// and History show everything held; Forget erases it and returns a Receipt.
// Watch delivers events as they commit. UseOnce records a nonce, such as a
// signed token's, so that every process sharing the store accepts it once.
//
// # The work queue
//
// Queue lists the customers an agent has work for: those with an open issue
// or at risk, newest contact first, filtered to the escalated, the at risk,
// those with open issues or those not contacted since a time, a page at a
// time (DefaultQueuePage, at most MaxQueuePage) with an opaque cursor. The
// queue is an index the store writes in the same transaction as the change
// that moves a customer in or out, so an agent's inbox is rebuilt from it
// after a restart, and a forgotten or absorbed customer is gone from it when
// Forget or Merge returns. At risk depends on the time and the store's
// at-risk window, and is decided when Queue reads, as Brief decides it.
//
// # Repeat contacts
//
// A customer who has to come back about the same problem is escalated at
// once, whether or not the caller knows which issue they came about. A
// contact names its issue (Contact.Issue), or gives its Subject, and then
// the rules attach it to the customer's open issue it is about: one whose
// ID the subject holds, or that carries the same reference (an order
// number such as "Z-77" or "#10234"), or whose subject is the same once
// case, spacing, punctuation and "Re:"/"Fwd:"/"AW:"/"Antw:" prefixes are
// set aside, last contacted within IssueMatchWindow (30 days). Match
// defines each precisely. OpenIssue follows the same rule: the same
// question opened again is a contact on the open issue, not a second one.
// Resolved issues never attract a contact, and only the customer's own
// issues are looked at. The decision is made once, when the contact is
// recorded, and kept in its event (Contact.Matched), by the store and by a
// browser's Local memory alike.
//
// When a merge brings together open issues of the two customers that the
// rule finds the same, they become one issue (an issue.joined event) with
// the contacts of both, escalated. Unmerge separates them again, and gives
// the absorbed customer back every contact made about its issues while
// merged (and the escalations, reopenings and resolutions they brought).
//
// # Storage
//
// The store keeps its data in Badger, on disk (DefaultOptions) or in memory
// (InMemoryOptions). Writes are transactions; concurrent writes to one
// customer are retried and never lose an update. With sync writes (the
// default) a write returns once it is on disk, concurrent writes sharing one
// flush. A store records its layout in a manifest, which Open checks before
// anything is written: a store written by an earlier release is migrated
// (and the migration logged), and a directory of a newer or unknown layout
// is refused with ErrFormat and left as it was, never opened as an empty
// store. Every stored value carries its format version too: data written by
// one release is readable by every later one, and data written by a newer
// release is refused with ErrFormat, never misread. On a disk too full for
// a write and the engine's background work, the write fails with
// ErrDiskFull and changes nothing; writes succeed again once space is freed
// (see Options for the room the store keeps).
//
// Decoded profiles, identifiers and customers' keys are cached in memory,
// bounded in number (WithCacheSize) and in bytes (WithCacheBytes, 64 MiB of
// profiles by default), by a conservative estimate of what each entry
// takes.
//
// # Limits
//
// Limits bound what one customer holds (identifiers, merges, facts,
// preferences, issues, contacts, drafts). A change past a limit fails with a
// *LimitError and changes nothing; the contact and resolved-issue timelines
// show their newest entries. A history past Limits.History events is
// compacted: its oldest events fold into one history.compacted event and
// the state they left (see Compaction), and MaxEventSize bounds one event.
//
// # Errors
//
// Errors can be tested with errors.Is: ErrNotFound, ErrInvalidIdentifier
// (an *IdentifierError saying which and why), ErrInvalidInput (an
// *InputError), ErrLimit, ErrClosed, ErrBusy, ErrFormat, ErrNotMerged,
// ErrMergeFinal, ErrNoConsent, ErrLagged, ErrDiskFull, ErrUsed,
// ErrSeqConflict (a *ConflictError: a device's changes numbered on a base
// the store has moved past; see Sync). A call that fails changes nothing.
//
// # The wasm build
//
// The model and rules (Normalize, projection, brief, contact rules,
// influence) also build for GOOS=wasip1, without the Store and without
// Badger. In that build phone numbers are accepted only in international
// form (+…), because the phone-number library's metadata alone would make
// the module about 12 MB; numbers typed in a browser are claims, and the
// server normalizes them fully. Contact hours in a time zone other than UTC
// are read in UTC there, as the zone database is left out too.
//
// # Erasure
//
// Every value of a customer is sealed with that customer's own key, and
// identifiers and draft names are kept only as keyed hashes. The keys, and
// the secret of the hashes, are kept apart, in a key file in the store's
// directory where destroying a key overwrites it in place. Forget destroys
// the customer's key before it returns, so that nothing of theirs opens
// from then on, wherever a copy lies; what is left, sealed, is deleted in
// the background without holding up other writes, and the store's files
// drop the deleted bytes as they are rewritten, which Compact forces. The
// Receipt says when each step was done. Backup writes the customers' keys
// and the secret apart from their data: the data stream alone reveals
// nothing of who anyone is (no identifier can be confirmed or guessed
// against it, and no key holds personal data); a backup taken before a
// Forget opens only with a keys backup from before it, and Restore drops
// customers without keys. Keep keys backups apart and for a short time.
// Copy the key file with the directory: without it, no customer opens, and
// Open refuses the directory.
package memory
