package memory

import "time"

// ExportFormat names the format of an Export. It changes only when a field
// is removed or changes meaning; fields may be added.
const ExportFormat = "herken.export/v1"

// Export is everything the store holds about one customer, for the customer
// to take away or for an access request. Encode it with encoding/json:
//
//	{
//	  "format":   "herken.export/v1",
//	  "exported": "2026-11-22T10:00:00Z",
//	  "customer": { "id", "created", "name", "identifiers", "facts",
//	                "preferences", "consents", "issues", "contacts",
//	                "drafts", "signals", "merges" },
//	  "influence": { "score": 1-5, "reasons": [...] },   // absent if refused
//	  "drafts":   [ { "name", "data" (base64), "saved" } ],
//	  "history":  [ { "customer", "seq", "kind", "at", ... } ]
//	}
//
// Times are RFC 3339 with their offset. History holds the events of the customer and of
// every customer merged into it, each marked with its customer.
type Export struct {
	Format    string     `json:"format"`
	Exported  time.Time  `json:"exported"`
	Customer  *Customer  `json:"customer"`
	Influence *Influence `json:"influence,omitempty"`
	Drafts    []Draft    `json:"drafts"`
	History   []Event    `json:"history"`
}
