//go:build !wasip1

package memory

import (
	"crypto/rand"
	"encoding/base32"
)

// IDs are made on the server only: crypto/rand would bring math/big and fmt
// into the wasm build.

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newCustomerID() CustomerID { return CustomerID(randomID(16)) }

// randomID returns n random bytes in lowercase base32.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return idEncoding.EncodeToString(b)
}

func newIssueID() IssueID { return IssueID(randomID(10)) }
