package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/herken/herken/memory"
)

// customer is one synthetic customer: 1 to 4 identifiers, a few facts and
// preferences, 0 to 3 issues and 0 to 20 contacts. It is a function of the
// seed and its index only, so every store gets the same customers.
type customer struct {
	ids      []memory.Identifier // the email first
	name     string
	facts    []memory.Fact
	prefs    [][2]string
	issues   []genIssue
	contacts []memory.Contact // not about an issue
}

type genIssue struct {
	subject  string
	channel  memory.Channel
	repeats  int // contacts after the opening one
	resolved bool
}

var (
	firstNames = []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "Niklaus"}
	lastNames  = []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen", "Wirth"}
	cities     = []string{"Amsterdam", "Utrecht", "Rotterdam", "Leiden", "Delft", "Haarlem", "Zwolle", "Groningen"}
	subjects   = []string{"parcel late", "wrong size", "refund", "damaged item", "invoice address", "login problem"}
	channels   = []memory.Channel{memory.ChannelEmail, memory.ChannelPhone, memory.ChannelChat, memory.ChannelWeb, memory.ChannelStore}
	outcomes   = []memory.Outcome{memory.OutcomePositive, memory.OutcomeNeutral, memory.OutcomeNeutral, memory.OutcomeNegative}
)

// epoch is the fixed "now" of the generated history.
var epoch = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// emailOf is the email of customer i; unknownEmailOf is the i-th email of
// no one. Both are made with strconv, not fmt, since the lookups they feed
// are timed with the making of their argument, which fmt.Sprintf would
// double.
func emailOf(i int) string { return "customer" + strconv.Itoa(i) + "@example.com" }

func unknownEmailOf(i int64) string { return "nobody" + strconv.FormatInt(i, 10) + "@example.com" }

func generate(seed uint64, i int) customer {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	c := customer{name: firstNames[rng.IntN(len(firstNames))] + " " + lastNames[rng.IntN(len(lastNames))]}
	c.ids = append(c.ids, memory.Email(emailOf(i)).AsVerified())
	if rng.IntN(10) < 6 {
		c.ids = append(c.ids, memory.Phone(fmt.Sprintf("+3161%07d", i)).AsVerified())
	}
	if rng.IntN(10) < 4 {
		c.ids = append(c.ids, memory.Account(fmt.Sprintf("acct-%d", i)).AsVerified())
	}
	if rng.IntN(10) < 3 {
		c.ids = append(c.ids, memory.Device(fmt.Sprintf("device-%016x", rng.Uint64())).AsVerified())
	}
	at := epoch.Add(-time.Duration(rng.IntN(365*24)) * time.Hour)
	c.facts = []memory.Fact{
		{Key: "shipping.street", Value: fmt.Sprintf("Keizersgracht %d", rng.IntN(900)+1), Channel: memory.ChannelWeb, At: at},
		{Key: "shipping.postcode", Value: fmt.Sprintf("%04d %c%c", 1000+rng.IntN(9000), 'A'+rng.IntN(26), 'A'+rng.IntN(26)), Channel: memory.ChannelWeb, At: at},
		{Key: "shipping.city", Value: cities[rng.IntN(len(cities))], Channel: memory.ChannelWeb, At: at},
	}
	if rng.IntN(2) == 0 {
		c.facts = append(c.facts, memory.Fact{Key: "order.size", Value: []string{"S", "M", "L", "XL"}[rng.IntN(4)], Channel: memory.ChannelStore, At: at})
	}
	if rng.IntN(3) == 0 {
		c.facts = append(c.facts, memory.Fact{Key: "order.number", Value: fmt.Sprintf("A-%06d", rng.IntN(1e6)), Channel: memory.ChannelEmail, At: at, Retention: 180 * 24 * time.Hour})
	}
	if rng.IntN(2) == 0 {
		c.prefs = append(c.prefs, [2]string{memory.PrefChannel, string(channels[rng.IntN(3)])})
	}
	if rng.IntN(3) == 0 {
		c.prefs = append(c.prefs, [2]string{memory.PrefLanguage, []string{"nl", "en", "de"}[rng.IntN(3)]})
	}
	// Each issue about another subject: one about the subject of an open
	// one would be the customer coming back about it (see memory's
	// matchIssue).
	subject := rng.Perm(len(subjects))
	for k := range rng.IntN(4) {
		c.issues = append(c.issues, genIssue{
			subject: subjects[subject[k]], channel: channels[rng.IntN(len(channels))],
			repeats: rng.IntN(3), resolved: rng.IntN(2) == 0,
		})
	}
	n := rng.IntN(21)
	for k := range n {
		c.contacts = append(c.contacts, memory.Contact{
			Channel: channels[rng.IntN(len(channels))],
			At:      epoch.Add(-time.Duration(n-k) * time.Duration(1+rng.IntN(240)) * time.Hour),
			Outcome: outcomes[rng.IntN(len(outcomes))],
			Summary: "asked about " + subjects[rng.IntN(len(subjects))],
		})
	}
	return c
}
