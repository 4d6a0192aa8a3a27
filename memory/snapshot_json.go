package memory

// A browser holds a customer's Snapshot and the changes the customer made
// since (a Local memory's LocalState), as JSON. The bounds below are
// generous bounds of each item's JSON as encoding/json (and plugin/wire)
// writes it: every byte of text at its widest escape (six bytes: '<', '>'
// and '&' become \u003c), a time at 48 bytes (RFC 3339 with nanoseconds
// and an offset, with room for a long year), a number at 20, names and
// punctuation with room to spare. The plugin sizes what its wasm module
// takes from them; TestSnapshotJSONBounds builds a customer at every limit,
// every text at its widest, and checks them.
const (
	jsonIdentifier  = 1800  // kind 32, value 256 as text
	jsonFact        = 25000 // key 64, value 4096 as text, channel 32, purpose, two times
	jsonPreference  = 1800  // key 64, value 256 as text, time
	jsonConsent     = 1800  // purpose, channel 32, source 256 as text, time
	jsonOpenIssue   = 2200  // ID 64, subject 256 as text, two channels, status, count, three times
	jsonLastContact = 300   // channel 32, issue 64, outcome, time: no summary
	jsonDraftInfo   = 200   // name 64, size, time
	jsonSnapshot    = 2000  // name 256 as text, the names of the lists
)

// MaxChangeJSON bounds the bytes of the JSON of one change a customer
// makes and a Local memory keeps until the server has it (an event of the
// kinds Sync takes, or an escalation derived from them), every byte of its
// text at its widest escape; the largest is a fact. MaxChangeValues bounds
// the JSON values in it: objects, arrays, strings, numbers, booleans and
// nulls, each counted once.
const (
	MaxChangeJSON   = jsonFact + 200
	MaxChangeValues = 20
)

// SnapshotJSON bounds the JSON of the Snapshot of a customer at limits l,
// every byte of its text at its widest escape: its bytes, and the JSON values
// in it (objects, arrays, strings, numbers, booleans and nulls, each counted
// once).
func (l Limits) SnapshotJSON() (bytes, values int) {
	consents := 4 * (MaxChannels + 1) // per purpose, on each channel and on none
	drafts := l.Drafts                // shown: a merge keeps them within the limit too
	bytes = jsonSnapshot + l.Identifiers*jsonIdentifier + l.Facts*jsonFact + l.Preferences*jsonPreference +
		consents*jsonConsent + l.OpenIssues*jsonOpenIssue + MaxChannels*jsonLastContact + drafts*jsonDraftInfo
	// A snapshot is an object of a name and seven lists; each item is an
	// object and its members.
	values = 9 + l.Identifiers*4 + l.Facts*7 + l.Preferences*4 + consents*6 + l.OpenIssues*12 +
		MaxChannels*6 + drafts*4
	return bytes, values
}
