package memory

import (
	"strings"
	"time"
	"unicode"
)

// IssueMatchWindow is how long after an issue's last contact the rules
// still take a contact that names no issue, or a new issue, to be about
// it. A customer who writes again about the same order within it had to
// come back; one who writes months later has a new problem that happens to
// read alike.
const IssueMatchWindow = 30 * 24 * time.Hour

// Match says why the rules took a contact to be about an open issue that
// it did not name (see Contact.Matched), or two open issues to be one
// (a merge joins them).
type Match string

// Matches, from the most specific. A contact or a new issue is taken to be
// about an open issue of the same customer when, in this order:
//
//   - its subject holds the issue's ID as a word (MatchIssueID), whenever
//     the issue was last contacted;
//   - both subjects hold the same reference (MatchReference) and the
//     issue's last contact lies within IssueMatchWindow;
//   - both subjects are equal once normalized (MatchSubject), within the
//     same window.
//
// A reference is a word of a subject (the text between white space, with
// what is not a letter, a digit or # taken off its ends: "(Z-77)," gives
// Z-77) made only of
// ASCII letters, digits and inner hyphens, with an optional # before it,
// that either
//
//   - has a # before it and at least 3 digits: "#123", "#10234";
//   - mixes letters and digits and has at least 2 digits: "Z-77", "A1042",
//     "NL-2026-001";
//   - or is a number of at least 5 digits: "10234".
//
// Short numbers (quantities, sizes, years, times) are no references, and a
// word with anything else in it ("ada77@example.com", "v1.2", "10:30",
// "Z-77/2") holds none: a reference is never found inside a longer token.
// References compare without their #, hyphens and case: "#10234" is
// "10234", "z77" is "Z-77"; "Z-77" is neither "Z-78" nor "Z-770".
//
// A subject is normalized by taking off reply and forward prefixes ("Re:",
// "RE[2]:", "Fwd:", "Fw:", "AW:", "WG:", "Antw:", "Doorst:", "TR:",
// "SV:", "VS:", "RV:", "R:", "Rif:"), as often as they repeat, lowering the
// case rune by rune ("ΟΔΟΣ" is "οδος"; without Unicode normalization, so
// "é" typed as one rune and as e with an accent differ, and "ß" is not
// "ss"), and turning every run of characters other than letters, digits
// and combining marks into one space. A subject
// with no letter or digit matches nothing by subject.
//
// Only open issues match: a resolved issue never attracts a contact
// (naming it in Contact.Issue reopens it). Of several open issues that
// match, the most specific match wins, then the issue contacted last.
const (
	MatchIssueID   Match = "issue"
	MatchReference Match = "reference"
	MatchSubject   Match = "subject"
)

func (m Match) check() error {
	switch m {
	case MatchIssueID, MatchReference, MatchSubject:
		return nil
	}
	return invalid("contact match", quote(string(m))+" is not issue, reference or subject")
}

// subjectKey is what matching takes of a subject: its words, its
// references and its normalized form.
type subjectKey struct {
	words      []string // the words, lower case, punctuation around them off
	refs       []string // the references, compared form
	normalized string
}

func subjectKeyOf(subject string) subjectKey {
	var k subjectKey
	for _, f := range strings.Fields(subject) {
		w := strings.TrimFunc(f, func(r rune) bool { return r != '#' && !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		w = strings.TrimRight(w, "#")
		if w == "" {
			continue
		}
		k.words = append(k.words, strings.ToLower(strings.TrimLeft(w, "#")))
		if ref, ok := reference(w); ok {
			k.refs = append(k.refs, ref)
		}
	}
	k.normalized = normalizeSubject(subject)
	return k
}

// reference returns the compared form of word when it is a reference.
func reference(word string) (string, bool) {
	hash := strings.HasPrefix(word, "#")
	w := strings.TrimPrefix(word, "#")
	if w == "" || w[0] == '-' || w[len(w)-1] == '-' || strings.Contains(w, "--") {
		return "", false
	}
	digits, letters := 0, 0
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z':
			letters++
		case c >= 'A' && c <= 'Z':
			letters++
			c += 'a' - 'A'
		case c == '-':
			continue
		default:
			return "", false
		}
		b.WriteByte(c)
	}
	switch {
	case hash && digits >= 3,
		letters > 0 && digits >= 2,
		letters == 0 && digits >= 5:
		return b.String(), true
	}
	return "", false
}

// replyPrefixes are the reply and forward markers mail programs put before
// a subject, lower case: English, German, Dutch, French, the Nordic
// languages, Spanish and Italian.
var replyPrefixes = []string{"re", "fwd", "fw", "aw", "wg", "antw", "doorst", "tr", "sv", "vs", "rv", "r", "rif"}

// normalizeSubject returns the subject as matching compares it.
func normalizeSubject(s string) string {
	s = strings.TrimSpace(s)
	for stripped := true; stripped; {
		stripped = false
		colon := strings.IndexByte(s, ':')
		if colon <= 0 {
			break
		}
		head := strings.ToLower(strings.TrimSpace(s[:colon]))
		if i := strings.IndexAny(head, "[("); i > 0 && isCount(head[i:]) {
			head = strings.TrimSpace(head[:i])
		}
		for _, p := range replyPrefixes {
			if head == p {
				s, stripped = strings.TrimSpace(s[colon+1:]), true
				break
			}
		}
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(lowerRune(r))
			continue
		}
		space = true
	}
	return b.String()
}

// lowerRune returns r in lower case, with the Greek final sigma read as
// sigma, so that "ΟΔΟΣ" is "οδος". (unicode.SimpleFold would fold every
// orbit, at 2 KB of the browser's module for letters no subject needs.)
func lowerRune(r rune) rune {
	if r == 'ς' {
		return 'σ'
	}
	return unicode.ToLower(r)
}

// isCount reports whether s is a reply count such as "[2]" or "(3)".
func isCount(s string) bool {
	if len(s) < 3 || !(s[0] == '[' && s[len(s)-1] == ']' || s[0] == '(' && s[len(s)-1] == ')') {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// match returns how k matches the issue is, or "": the rule above, for
// something at time at.
func (k *subjectKey) match(is *Issue, other subjectKey, at time.Time) Match {
	id := strings.ToLower(string(is.ID))
	for _, w := range k.words {
		if w == id {
			return MatchIssueID
		}
	}
	if at.Sub(is.LastContact) > IssueMatchWindow {
		return ""
	}
	for _, r := range k.refs {
		for _, o := range other.refs {
			if r == o {
				return MatchReference
			}
		}
	}
	if k.normalized != "" && k.normalized == other.normalized {
		return MatchSubject
	}
	return ""
}

// matchIssue returns the index in open of the issue that something about
// subject, at time at, is about by the rule, and how it matched; -1 when
// none is.
func matchIssue(open []Issue, subject string, at time.Time) (int, Match) {
	k := subjectKeyOf(subject)
	best, how := -1, Match("")
	for i := range open {
		m := k.match(&open[i], subjectKeyOf(open[i].Subject), at)
		if m == "" {
			continue
		}
		if best < 0 || rank(m) < rank(how) || rank(m) == rank(how) && open[i].LastContact.After(open[best].LastContact) {
			best, how = i, m
		}
	}
	return best, how
}

func rank(m Match) int {
	switch m {
	case MatchIssueID:
		return 0
	case MatchReference:
		return 1
	}
	return 2
}

// sameIssue reports how two open issues of one customer are about the same
// thing, or "": what a merge joins. The rule is applied with the window
// counted between their last contacts; an issue's ID in the other's
// subject joins them too.
func sameIssue(a, b *Issue) Match {
	if b.LastContact.Before(a.LastContact) {
		a, b = b, a // a is the one contacted first
	}
	ka, kb := subjectKeyOf(a.Subject), subjectKeyOf(b.Subject)
	if ka.match(b, kb, b.LastContact) == MatchIssueID {
		return MatchIssueID
	}
	return kb.match(a, ka, b.LastContact)
}
