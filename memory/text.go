package memory

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// checkText checks a free-text field: valid UTF-8, at most max bytes, no
// control characters but newline and tab.
func checkText(field, v string, max int) error {
	if len(v) > max {
		return invalid(field, "longer than "+strconv.Itoa(max)+" bytes")
	}
	if !utf8.ValidString(v) {
		return invalid(field, "not valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return invalid(field, "contains a control character")
		}
	}
	return nil
}

// checkToken checks a name made for machines: lowercase letters, digits and
// "_-.", starting with a letter or digit, 1 to max bytes.
func checkToken(field, v string, max int) error {
	if v == "" {
		return invalid(field, "empty")
	}
	if len(v) > max {
		return invalid(field, "longer than "+strconv.Itoa(max)+" bytes")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-' || c == '.') {
			continue
		}
		return invalid(field, strconv.Quote(shorten(v, 40))+" is not lowercase letters, digits, '_', '-' and '.'")
	}
	return nil
}

func quote(s string) string { return strconv.Quote(shorten(s, 40)) }
