package memory

import "time"

// Receipt records that a customer was forgotten: what kinds of data were
// erased, how many items of each, and when. It holds no personal data: the
// customer's ID is random and, once forgotten, leads nowhere. Keep it as the
// record of the erasure request.
type Receipt struct {
	ID       string     `json:"id" msgpack:"id"`
	Customer CustomerID `json:"customer" msgpack:"c"`
	// At is when the customer was forgotten and their keys destroyed: from
	// then on nothing of theirs opens, in the store's files or in backups.
	At     time.Time      `json:"at" msgpack:"t"`
	Erased map[string]int `json:"erased" msgpack:"e"` // kind of data → items erased
	// Purged is when what was left of them, sealed with the destroyed keys,
	// was deleted from the store; zero until then. The files give its
	// space back as they are compacted, which Compact forces.
	Purged time.Time `json:"purged,omitzero" msgpack:"pu,omitempty"`
	// Final is when no copy of their keys was left in the store's files:
	// At for a store on disk, whose key file overwrites a destroyed key in
	// place. PostgreSQL keeps a deleted row in its table's files and its
	// WAL until they are rewritten and recycled: there Final is when a
	// Compact after the forget had rewritten the key table, switched the
	// WAL and checkpointed, so that the primary holds no copy. Each
	// standby drops its copy at its next restartpoint (CHECKPOINT on the
	// standby forces one), and base backups and WAL archives keep theirs
	// for as long as they are kept (see PostgresOptions).
	Final time.Time `json:"final,omitzero" msgpack:"fi,omitempty"`
}
