//go:build !wasip1

package memory

import (
	"strconv"

	"github.com/herken/herken/memory/internal/kv"
)

// The storage engine commits a write in one batch of at most
// kv.MaxTxnBytes. A write rewrites the customer's profile, may fold the
// history into a new compacted state, and may save a draft: a customer at
// every limit must fit, or their next write would fail. The bounds below
// are generous bounds of each item, encoded and sealed; TestWorstCustomerFits
// builds such a customer and checks them.
const (
	worstLink    = 400  // an identifier: value 256, kind 32, time
	worstFact    = 4400 // key 64, value 4096, channel 32, purpose, two times
	worstPref    = 400  // key 64, value 256, time
	worstConsent = 400  // purpose, channel 32, source 256, time
	worstIssue   = 1600 // ID 64, subject 256, resolution 1024, channel, times
	worstContact = 1500 // summary 1024, subject 256, issue 64, channel 32, match, outcome, time
	worstDraft   = 200  // name 64, owner, size, time
	worstMerge   = 400  // ID, two customers, reason 256, two times
	worstHead    = 1024 // ID, times, name 256, negatives, signals
)

// worstProfile bounds the bytes of a profile at every limit.
func (l Limits) worstProfile() int {
	return worstHead + l.Identifiers*worstLink + l.Facts*worstFact + l.Preferences*worstPref +
		4*(MaxChannels+1)*worstConsent + l.OpenIssues*worstIssue + MaxChannels*worstContact +
		(l.Merges+1)*l.Drafts*worstDraft + 2*l.Merges*worstMerge
}

// worstWrite bounds the bytes of one write to a customer at every limit:
// a draft, the profile, a new compacted state with the timelines it keeps,
// and the events of a few changes.
func (l Limits) worstWrite() int {
	p := l.worstProfile()
	checkpoint := p + l.Contacts*worstContact + l.Issues*worstIssue
	parts := (l.DraftSize+p+checkpoint)/kv.PartSize + 3
	return l.DraftSize + p + checkpoint + 16*MaxEventSize + parts*kv.PartOverhead
}

// checkFit refuses limits under which a customer could not be written.
func (l Limits) checkFit() error {
	if n := l.worstWrite(); n > kv.MaxTxnBytes {
		return invalid("limits", "a customer at these limits may need "+strconv.Itoa(n)+
			" bytes in one write, and the storage engine takes "+strconv.Itoa(kv.MaxTxnBytes)+
			"; lower Facts, Identifiers, OpenIssues, Contacts, Issues, Drafts or DraftSize")
	}
	return nil
}

// Limits returns the limits the store was opened with.
func (s *Store) Limits() Limits { return s.opts.limits }
