//go:build wasip1

package memory

// normalizePhone in the wasm build accepts only numbers already in
// international form ("+31 6 1234 5678", "0031 6…"), with separators
// removed. The phone-number library's metadata alone would make the module
// about 12 MB (2.3 MB brotli); numbers typed in a browser are claims, and the
// server normalizes them fully when they reach it.
func normalizePhone(v, region string) (string, string) {
	if len(v) > 64 {
		return "", "longer than 64 bytes"
	}
	s, ok := stripPhone(v)
	if !ok {
		return "", "has characters a phone number cannot have"
	}
	if len(s) == 0 || s[0] != '+' {
		return "", "needs a country code (+…) in the browser build"
	}
	digits := s[1:]
	if len(digits) < 7 || len(digits) > 15 || digits[0] == '0' {
		return "", "an international number has 7 to 15 digits after the +, not starting with 0"
	}
	return s, ""
}

func validRegion(r string) bool {
	return r == "" || len(r) == 2 && r[0] >= 'A' && r[0] <= 'Z' && r[1] >= 'A' && r[1] <= 'Z'
}
