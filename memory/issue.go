package memory

import (
	"slices"
	"time"
)

// IssueID names an issue; it is unique across customers, so issues keep
// their IDs through merges.
type IssueID string

// IssueStatus is whether an issue is open or resolved.
type IssueStatus string

// Issue statuses.
const (
	IssueOpen     IssueStatus = "open"
	IssueResolved IssueStatus = "resolved"
)

// Issue is a problem the customer came with. Opening it counts as the
// customer's first contact about it; a second contact while it is open
// escalates it, because the customer had to come back.
type Issue struct {
	ID      IssueID     `json:"id" msgpack:"id"`
	Subject string      `json:"subject" msgpack:"s"`
	Channel Channel     `json:"channel" msgpack:"c"` // where it was opened
	Opened  time.Time   `json:"opened" msgpack:"o"`
	Status  IssueStatus `json:"status" msgpack:"st"`
	// Contacts counts the customer's contacts about it, the opening one
	// included.
	Contacts  int  `json:"contacts" msgpack:"n"`
	Escalated bool `json:"escalated,omitempty" msgpack:"e,omitempty"`
	// LastContact and LastChannel are the newest contact about it.
	LastContact time.Time `json:"last_contact" msgpack:"lt"`
	LastChannel Channel   `json:"last_channel" msgpack:"lc"`
	Resolved    time.Time `json:"resolved,omitzero" msgpack:"r,omitempty"`
	Resolution  string    `json:"resolution,omitempty" msgpack:"rn,omitempty"`
}

const (
	maxSubject    = 256
	maxResolution = 1024
)

// insertOpen puts is into the open issues, kept newest first.
func insertOpen(open []Issue, is Issue) []Issue {
	return insertBefore(open, is, func(x Issue) bool { return x.Opened.Before(is.Opened) })
}

// insertBefore inserts v before the first element for which before is
// true, or at the end.
func insertBefore[T any](s []T, v T, before func(T) bool) []T {
	i := slices.IndexFunc(s, before)
	if i < 0 {
		i = len(s)
	}
	return slices.Insert(s, i, v)
}

func findIssue(open []Issue, id IssueID) int {
	for i := range open {
		if open[i].ID == id {
			return i
		}
	}
	return -1
}
