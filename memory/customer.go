package memory

import (
	"crypto/rand"
	"encoding/base32"
)

// CustomerID names one customer in a store. It is random, holds no
// personal data, and stays valid after the customer is merged into another:
// calls given a merged customer's ID act on the customer it was merged into.
type CustomerID string

const customerIDLen = 26

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newCustomerID() CustomerID { return CustomerID(randomID(16)) }

// randomID returns n random bytes in lowercase base32.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return idEncoding.EncodeToString(b)
}

func (id CustomerID) check() error {
	if len(id) != customerIDLen {
		return invalid("customer id", "not a customer id")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return invalid("customer id", "not a customer id")
		}
	}
	return nil
}
