package plugin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/herken/herken/memory"
)

// MaxIdentityLifetime is the longest an identity token may be valid.
const MaxIdentityLifetime = 15 * time.Minute

// Errors of identity tokens. They are answered to browsers without saying
// which, and can be tested with errors.Is.
var (
	ErrTokenInvalid = errors.New("plugin: identity token invalid")
	ErrTokenExpired = errors.New("plugin: identity token expired")
	ErrTokenUsed    = errors.New("plugin: identity token already used")
)

var b64 = base64.RawURLEncoding

// SignIdentity makes an identity token: proof, for a handler that holds
// secret (as Options.Secret or among Options.PreviousSecrets), that the
// browser holding device is the customer with identifier id, until expiry
// (at most MaxIdentityLifetime ahead). device is the value of the plugin's
// device cookie on the shop's request; a token is good for that device
// only, and once, on every Handler that shares the store. It is for a
// server that signs apart from its Handler (another service that shares
// the secret); Handler.IdentityToken reads the cookie and signs with the
// current secret, and says how to hand the token to the page.
func SignIdentity(secret []byte, id memory.Identifier, device string, expiry time.Time) string {
	// The device is the token's random part: a cookie reissued for the
	// same device takes the same identity tokens.
	device, _, _ = strings.Cut(device, ".")
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	payload := strings.Join([]string{
		"v1", b64.EncodeToString([]byte(id.Kind)), b64.EncodeToString([]byte(id.Value)),
		strconv.FormatInt(expiry.Unix(), 10), b64.EncodeToString(nonce),
	}, ".")
	return payload + "." + b64.EncodeToString(tokenMAC(secret, payload, device))
}

func tokenMAC(secret []byte, payload, device string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("herken identity\x00"))
	m.Write([]byte(payload))
	m.Write([]byte{0})
	m.Write([]byte(device))
	return m.Sum(nil)
}

// identity is a verified identity token.
type identity struct {
	id     memory.Identifier
	expiry time.Time
	nonce  string
}

// verifyIdentity checks a token for device at now, signed with any of the
// handler's secrets.
func (h *Handler) verifyIdentity(token, device string, now time.Time) (identity, error) {
	var err error
	for _, secret := range h.secrets {
		var id identity
		if id, err = verifyIdentityWith(secret, token, device, now); !errors.Is(err, ErrTokenInvalid) {
			return id, err
		}
	}
	return identity{}, err
}

// verifyIdentityWith checks a token for device at now, signed with secret.
func verifyIdentityWith(secret []byte, token, device string, now time.Time) (identity, error) {
	if len(token) > 2048 {
		return identity{}, ErrTokenInvalid
	}
	parts := strings.Split(token, ".")
	if len(parts) != 6 || parts[0] != "v1" {
		return identity{}, ErrTokenInvalid
	}
	mac, err := b64.DecodeString(parts[5])
	if err != nil || !hmac.Equal(mac, tokenMAC(secret, strings.Join(parts[:5], "."), device)) {
		return identity{}, ErrTokenInvalid
	}
	kind, err1 := b64.DecodeString(parts[1])
	value, err2 := b64.DecodeString(parts[2])
	exp, err3 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return identity{}, ErrTokenInvalid
	}
	expiry := time.Unix(exp, 0)
	if !now.Before(expiry) {
		return identity{}, ErrTokenExpired
	}
	if expiry.Sub(now) > MaxIdentityLifetime {
		return identity{}, ErrTokenInvalid
	}
	id := memory.Identifier{Kind: memory.Kind(kind), Value: string(value), Verified: true}
	return identity{id: id, expiry: expiry, nonce: parts[4]}, nil
}
