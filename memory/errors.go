package memory

import (
	"errors"
	"strconv"
	"strings"
)

var (
	// ErrNotFound is returned when no customer, issue, draft or receipt
	// matches what was asked for.
	ErrNotFound = errors.New("memory: not found")

	// ErrInvalidIdentifier is returned when an identifier cannot be
	// normalized or is a placeholder that would glue strangers together.
	// The error is an *IdentifierError that says which and why.
	ErrInvalidIdentifier = errors.New("memory: invalid identifier")

	// ErrInvalidInput is returned when an argument other than an identifier
	// is malformed: an empty fact key, an unknown purpose, a summary that is
	// too long. The error is an *InputError that says which field and why.
	ErrInvalidInput = errors.New("memory: invalid input")

	// ErrLimit is returned when a change would take a customer past one of
	// the store's limits. The error is a *LimitError.
	ErrLimit = errors.New("memory: limit reached")

	// ErrClosed is returned by calls on a store after Close.
	ErrClosed = errors.New("memory: store closed")

	// ErrBusy is returned when a write kept conflicting with concurrent
	// writes to the same customer and gave up; the write changed nothing.
	ErrBusy = errors.New("memory: too many concurrent writes to one customer")

	// ErrFormat is returned when stored data was written by a newer format
	// version than this build reads, or cannot be decoded at all.
	ErrFormat = errors.New("memory: unreadable stored data")

	// ErrNotMerged is returned by Unmerge for a customer that was not merged
	// into another.
	ErrNotMerged = errors.New("memory: customer is not merged")

	// ErrMergeFinal is returned by Unmerge for a merge that can no longer
	// be undone: the survivor's history grew past twice Limits.History
	// after it, and was compacted with the merge in it.
	ErrMergeFinal = errors.New("memory: merge is final")

	// ErrNoConsent is returned when the customer's consent does not allow
	// what was asked, such as computing influence after they objected to
	// profiling.
	ErrNoConsent = errors.New("memory: no consent")

	// ErrDiskFull is returned when the disk that holds the store has too
	// little free space for a write, or for Open, with room left for the
	// storage engine's own background work (see Options); the message says
	// how much is free and how much is needed. The write changed nothing,
	// and writes succeed again once space is freed.
	ErrDiskFull = errors.New("memory: disk full")

	// ErrUsed is returned by UseOnce for a nonce that was used before and
	// whose record has not expired; nothing was changed.
	ErrUsed = errors.New("memory: already used")

	// ErrSeqConflict is returned by Sync when the device's changes were
	// numbered after a base the store has since moved past with other
	// changes from the same device, such as another tab's: applying them
	// would mistake one change for another. Nothing was applied. The error
	// is a *ConflictError that carries the store's base: number the changes
	// after it and send them again.
	ErrSeqConflict = errors.New("memory: changes numbered on a base the store has moved past")

	// ErrLagged is returned by Watch when its function fell so far behind
	// the store's writes that events would have had to be dropped. Resume
	// from History.
	ErrLagged = errors.New("memory: watcher fell behind")
)

// IdentifierError describes an identifier that was refused.
type IdentifierError struct {
	Kind   Kind
	Value  string // as given, shortened
	Reason string
}

func (e *IdentifierError) Error() string {
	// No fmt: this file is part of the wasm build, where every package counts.
	return "memory: invalid " + string(e.Kind) + " identifier " + strconv.Quote(shorten(e.Value, 48)) + ": " + e.Reason
}

// Is reports whether target is ErrInvalidIdentifier.
func (e *IdentifierError) Is(target error) bool { return target == ErrInvalidIdentifier }

// InputError describes an argument that was refused.
type InputError struct {
	Field  string // such as "fact key" or "contact summary"
	Reason string
}

func (e *InputError) Error() string {
	return "memory: invalid " + e.Field + ": " + e.Reason
}

// Is reports whether target is ErrInvalidInput.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

// LimitError describes a limit that a change would pass.
type LimitError struct {
	// What is counted: a part of a customer, such as "identifiers" or
	// "facts", or bytes, such as "bytes in one draft".
	What  string
	Limit int
}

func (e *LimitError) Error() string {
	msg := "memory: limit reached: at most " + strconv.Itoa(e.Limit) + " " + e.What
	if !strings.HasPrefix(e.What, "bytes") {
		msg += " per customer"
	}
	return msg
}

// Is reports whether target is ErrLimit.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// ConflictError says that a Sync's changes were numbered after another
// base than the store's; it is ErrSeqConflict.
type ConflictError struct {
	// Base is where the device's changes stand in the store: renumber the
	// pending changes from Base.Applied+1 and send them on it.
	Base SyncBase
}

func (e *ConflictError) Error() string {
	return ErrSeqConflict.Error() + ": the store has applied the device's changes up to " + strconv.FormatUint(e.Base.Applied, 10)
}

// Is reports whether target is ErrSeqConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrSeqConflict }

func invalid(field, reason string) error { return &InputError{Field: field, Reason: reason} }

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
