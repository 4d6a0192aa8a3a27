//go:build !wasip1

package memory

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// normalizePhone reads v with the phone-number library (libphonenumber's
// metadata) and returns it in E.164. The wasm build has a smaller rule; see
// phone_wasip1.go.
func normalizePhone(v, region string) (string, string) {
	if len(v) > 64 {
		return "", "longer than 64 bytes"
	}
	if _, ok := stripPhone(v); !ok {
		return "", "has characters a phone number cannot have"
	}
	if strings.HasPrefix(v, "00") {
		// The international call prefix of most countries; without a region
		// the library would not know it.
		v = "+" + v[2:]
	}
	n, err := phonenumbers.Parse(v, region)
	if err != nil {
		if region == "" {
			return "", "not a phone number (" + err.Error() + "); numbers without a country code need a default region"
		}
		return "", "not a phone number in region " + region + " (" + err.Error() + ")"
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", "not a valid number for its country"
	}
	return phonenumbers.Format(n, phonenumbers.E164), ""
}

func validRegion(r string) bool {
	return r == "" || phonenumbers.GetSupportedRegions()[r]
}
