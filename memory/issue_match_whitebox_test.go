package memory

import (
	"testing"
	"time"
)

// TestReference: what counts as a reference, word by word, as the rule
// documents it.
func TestReference(t *testing.T) {
	for _, c := range []struct {
		word string
		want string // "" for no reference
	}{
		{"Z-77", "z77"},
		{"z77", "z77"},
		{"#10234", "10234"},
		{"10234", "10234"},
		{"#123", "123"},
		{"A1042", "a1042"},
		{"NL-2026-001", "nl2026001"},
		{"123", ""},   // a short number: a quantity, not a reference
		{"2026", ""},  // a year
		{"#12", ""},   // too short even with #
		{"Z-7", ""},   // one digit
		{"XL", ""},    // no digit
		{"-Z77", ""},  // hyphens only inside
		{"Z--77", ""}, // one at a time
		{"ada77@example.com", ""},
		{"v1.22", ""},
		{"10:30", ""},
		{"Z-77/2", ""},
		{"Ｚ-77", ""}, // only ASCII letters and digits
	} {
		got, ok := reference(c.word)
		if ok != (c.want != "") || got != c.want {
			t.Errorf("reference(%q) = %q, %v; want %q", c.word, got, ok, c.want)
		}
	}
}

// TestSubjectKey: the words around a reference come off it, and a
// reference inside a longer token is none.
func TestSubjectKey(t *testing.T) {
	for _, c := range []struct {
		subject string
		refs    []string
	}{
		{"Refund for order Z-77", []string{"z77"}},
		{"Refund (Z-77), please!", []string{"z77"}},
		{"Order #10234: where is it?", []string{"10234"}},
		{"\"Z-77\"", []string{"z77"}},
		{"mail from ada77@example.com about XZ-770", []string{"xz770"}},
		{"Invoice 2026 for 3 items", nil},
		{"Z-77/2", nil},
	} {
		k := subjectKeyOf(c.subject)
		if len(k.refs) != len(c.refs) {
			t.Errorf("%q: references %q, want %q", c.subject, k.refs, c.refs)
			continue
		}
		for i := range c.refs {
			if k.refs[i] != c.refs[i] {
				t.Errorf("%q: references %q, want %q", c.subject, k.refs, c.refs)
			}
		}
	}
}

// TestNormalizeSubject: case, spacing, punctuation and reply or forward
// prefixes make no difference; words do.
func TestNormalizeSubject(t *testing.T) {
	same := [][]string{
		{"Delivery late", "delivery late", "  DELIVERY   LATE!! ", "Re: Delivery late", "RE: re: Delivery late",
			"Fwd: Delivery late", "FW: Delivery late", "AW: Delivery late", "WG: AW: Delivery late",
			"Antw: Delivery late", "Doorst: Delivery late", "Re[2]: Delivery late", "re(3): delivery, late.",
			"Delivery-late", "TR: Delivery late", "SV: Delivery late", "Rif: Delivery late"},
		{"Доставка задерживается", "ДОСТАВКА ЗАДЕРЖИВАЕТСЯ", "Re: доставка задерживается"},
		{"ΟΔΟΣ", "οδος", "οδοσ", "Οδος"},
		{"配送が遅れています", "Re: 配送が遅れています", "配送が遅れています。"},
	}
	for _, group := range same {
		want := normalizeSubject(group[0])
		if want == "" {
			t.Fatalf("%q normalizes to nothing", group[0])
		}
		for _, s := range group[1:] {
			if got := normalizeSubject(s); got != want {
				t.Errorf("normalizeSubject(%q) = %q, want %q as for %q", s, got, want, group[0])
			}
		}
	}
	differ := [][2]string{
		{"Delivery late", "Delivery address change"},
		{"Delivery late", "Delivery late again"},
		{"Delivery late", "Late delivery"},
		{"Refund for order Z-77", "Refund for order Z-78"},
		{"Odos", "Οδος"},                          // Latin and Greek
		{"Re: Delivery late", "Re Delivery late"}, // a prefix needs its colon
		{"Question: delivery late", "delivery late"},
		{"Οδός", "Οδος"}, // an accented letter is a letter of its own
	}
	for _, d := range differ {
		if a, b := normalizeSubject(d[0]), normalizeSubject(d[1]); a == b {
			t.Errorf("%q and %q both normalize to %q", d[0], d[1], a)
		}
	}
	for _, s := range []string{"", "???", "Re:", "  -- !! "} {
		if got := normalizeSubject(s); got != "" {
			t.Errorf("normalizeSubject(%q) = %q, want nothing", s, got)
		}
	}
}

// TestMatchIssuePrefersTheMostSpecific: a reference wins over an equal
// subject, the issue's ID over both, and of equal matches the issue
// contacted last.
func TestMatchIssuePrefersTheMostSpecific(t *testing.T) {
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	open := []Issue{
		{ID: "aaaaaaaaaaaaaaaa", Subject: "Refund please", LastContact: now.Add(-time.Hour)},
		{ID: "bbbbbbbbbbbbbbbb", Subject: "Refund for order Z-77", LastContact: now.Add(-2 * time.Hour)},
		{ID: "cccccccccccccccc", Subject: "Refund please", LastContact: now.Add(-3 * time.Hour)},
		{ID: "dddddddddddddddd", Subject: "Invoice", LastContact: now.Add(-400 * 24 * time.Hour)},
	}
	for _, c := range []struct {
		subject string
		want    int
		how     Match
	}{
		{"Refund please", 0, MatchSubject},
		{"Refund please, order Z-77", 1, MatchReference},
		{"Re: refund please [cccccccccccccccc]", 2, MatchIssueID},
		{"About DDDDDDDDDDDDDDDD", 3, MatchIssueID}, // an ID named matches outside the window
		{"Invoice", -1, ""},                         // outside it
		{"Refund", -1, ""},
	} {
		i, how := matchIssue(open, c.subject, now)
		if i != c.want || how != c.how {
			t.Errorf("matchIssue(%q) = %d, %q; want %d, %q", c.subject, i, how, c.want, c.how)
		}
	}
}
