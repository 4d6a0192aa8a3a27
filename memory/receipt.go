package memory

import "time"

// Receipt records that a customer was forgotten: what kinds of data were
// erased, how many items of each, and when. It holds no personal data: the
// customer's ID is random and, once forgotten, leads nowhere. Keep it as the
// record of the erasure request.
type Receipt struct {
	ID       string         `json:"id" msgpack:"id"`
	Customer CustomerID     `json:"customer" msgpack:"c"`
	At       time.Time      `json:"at" msgpack:"t"`
	Erased   map[string]int `json:"erased" msgpack:"e"` // kind of data → items erased
}
