package memory

// intern replaces the strings of a decoded profile that name one of a few
// known values (purposes, channels, outcomes, statuses, preference keys)
// with the package's constants. The decoder allocates every string apart;
// with the constants, the comparisons a brief makes match on the pointer
// and never touch the scattered bytes.
func (p *profile) intern() {
	for i := range p.Facts {
		f := &p.Facts[i]
		f.Purpose = Purpose(internString(string(f.Purpose)))
		f.Channel = Channel(internString(string(f.Channel)))
	}
	for i := range p.Prefs {
		p.Prefs[i].Key = internString(p.Prefs[i].Key)
	}
	for i := range p.Consents {
		c := &p.Consents[i]
		c.Purpose = Purpose(internString(string(c.Purpose)))
		c.Channel = Channel(internString(string(c.Channel)))
	}
	for i := range p.Open {
		is := &p.Open[i]
		is.Status = IssueStatus(internString(string(is.Status)))
		is.Channel = Channel(internString(string(is.Channel)))
		is.LastChannel = Channel(internString(string(is.LastChannel)))
	}
	for i := range p.Last {
		c := &p.Last[i]
		c.Channel = Channel(internString(string(c.Channel)))
		c.Outcome = Outcome(internString(string(c.Outcome)))
	}
}

var interned = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		string(PurposeService), string(PurposePersonalization), string(PurposeMarketing), string(PurposeProfiling),
		string(ChannelEmail), string(ChannelPhone), string(ChannelChat), string(ChannelWeb), string(ChannelStore),
		string(ChannelSMS), string(ChannelApp), string(ChannelSocial), string(ChannelPost),
		string(OutcomePositive), string(OutcomeNeutral), string(OutcomeNegative),
		string(IssueOpen), string(IssueResolved),
		PrefChannel, PrefLanguage, PrefHours, PrefPauseUntil,
	} {
		m[s] = s
	}
	return m
}()

func internString(s string) string {
	if c, ok := interned[s]; ok {
		return c
	}
	return s
}
