package plugin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/herken/herken/memory"
)

// A device token is what the device cookie holds: a random part, when the
// handler made it (Unix seconds, base 36), and the handler's MAC of both,
// "<random>.<issued>.<mac>". Only the random part names the device (its
// store identifier, its CSRF token, its identity tokens, its rate bucket),
// so that a device keeps all of them when its cookie is reissued; the time
// bounds what the device can say it did (nothing before it existed). A
// token the handler did not make is no device at all.
const (
	deviceBytes = 32 // random bytes in a device token
	macBytes    = 16 // bytes of the MAC in a device token
)

// hostPrefix is the cookie name prefix that binds a cookie to the exact
// host, over HTTPS, with Path=/: no sibling subdomain can set or shadow it.
const hostPrefix = "__Host-"

// errTwoCookies is returned when a request carries two device cookies.
var errTwoCookies = &problem{status: http.StatusBadRequest, code: "two_cookies",
	detail: "the request carries two device cookies; clear this site's cookies and reload"}

// device is the device a request's cookie names.
type device struct {
	id      string // the token's random part; "" for none
	issued  int64  // when the token was made, Unix seconds; 0 for a legacy one
	key     int    // which of the handler's secrets signed it (see Handler.secrets); 0 is Options.Secret
	legacy  bool   // an unsigned token of an earlier release: the store must know it
	reissue bool   // the cookie must be set again: legacy, or under the name of plain http
}

// secure reports whether the request reached the page over HTTPS, so that
// the cookie is Secure and named with the __Host- prefix.
func (h *Handler) secure(r *http.Request) bool { return r.TLS != nil || h.opts.SecureCookie }

// cookieName is the device cookie's name for r.
func (h *Handler) cookieName(r *http.Request) string {
	if h.secure(r) {
		return hostPrefix + h.opts.CookieName
	}
	return h.opts.CookieName
}

// readDevice returns the device r's cookie names, without asking the
// store: a legacy token comes back marked, for knownDevice to check. Two
// cookies of the device's name are refused with errTwoCookies: a sibling
// subdomain may have planted one, and neither can be trusted to be the
// visitor's own. On a secure request the cookie of plain http's name is
// read when the __Host- one is missing, as earlier releases named it so.
func (h *Handler) readDevice(r *http.Request) (device, error) {
	name := h.cookieName(r)
	values := cookieValues(r, name)
	fallback := false
	if len(values) == 0 && name != h.opts.CookieName {
		values, fallback = cookieValues(r, h.opts.CookieName), true
	}
	switch {
	case len(values) == 0:
		return device{}, nil
	case len(values) > 1:
		return device{}, errTwoCookies
	}
	d := h.parseDevice(values[0])
	if fallback && !d.legacy {
		// This release gives secure pages __Host- cookies only: a signed
		// token under the plain name was planted (by a sibling subdomain,
		// or over plain http), to fix the device on the visitor.
		return device{}, nil
	}
	d.reissue = d.reissue || d.id != "" && fallback
	return d, nil
}

// cookieValues returns the values of r's cookies named name.
func cookieValues(r *http.Request, name string) []string {
	var out []string
	for _, c := range r.CookiesNamed(name) {
		out = append(out, c.Value)
	}
	return out
}

// parseDevice checks a cookie's token: signed by this handler, or of the
// shape earlier releases gave out (then legacy).
func (h *Handler) parseDevice(value string) device {
	parts := strings.Split(value, ".")
	raw, err := b64.DecodeString(parts[0])
	if err != nil || len(raw) != deviceBytes {
		return device{}
	}
	switch len(parts) {
	case 1:
		return device{id: parts[0], legacy: true, reissue: true}
	case 3:
	default:
		return device{}
	}
	got, err := b64.DecodeString(parts[2])
	if err != nil {
		return device{}
	}
	key := -1
	for k := range h.secrets {
		if hmac.Equal(got, h.deviceMAC(k, parts[0], parts[1])) {
			key = k
			break
		}
	}
	if key < 0 {
		return device{}
	}
	issued, err := strconv.ParseInt(parts[1], 36, 64)
	if err != nil || issued < 0 {
		return device{}
	}
	return device{id: parts[0], issued: issued, key: key}
}

// knownDevice admits a legacy token only when the store knows its device,
// under one of the handler's secrets: a device of an earlier release keeps
// its memory, and a made-up token of that shape stays no device. The
// lookups cost a read each, which the address's rate bucket has paid for.
func (h *Handler) knownDevice(ctx context.Context, d device) (device, error) {
	if !d.legacy {
		return d, nil
	}
	for k := range h.secrets {
		_, err := h.store.Lookup(ctx, h.deviceID(d.id, 0, k))
		switch {
		case errors.Is(err, memory.ErrNotFound):
			continue
		case err != nil:
			return device{}, err
		}
		d.key = k
		return d, nil
	}
	return device{}, nil
}

func (h *Handler) deviceMAC(key int, random, issued string) []byte {
	return h.mac(key, "device token", random+"."+issued)[:macBytes]
}

// newDevice makes a device token and sets its cookie.
func (h *Handler) newDevice(c *call) {
	raw := make([]byte, deviceBytes)
	_, _ = rand.Read(raw)
	c.device = b64.EncodeToString(raw)
	c.issued = h.opts.Now().Unix()
	c.key = 0 // new devices are signed with the current secret
	h.setCookie(c)
}

// setCookie gives c's device its signed token, under the cookie name of
// c's request; on a secure request a cookie of plain http's name, which
// an earlier release set, is cleared.
func (h *Handler) setCookie(c *call) {
	secure := h.secure(c.r)
	name := h.cookieName(c.r)
	issued := strconv.FormatInt(c.issued, 36)
	http.SetCookie(c.w, &http.Cookie{
		Name: name, Value: c.device + "." + issued + "." + b64.EncodeToString(h.deviceMAC(c.key, c.device, issued)), Path: "/",
		MaxAge: 400 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure,
	})
	if name != h.opts.CookieName && len(cookieValues(c.r, h.opts.CookieName)) > 0 {
		http.SetCookie(c.w, &http.Cookie{Name: h.opts.CookieName, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure})
	}
}

// deviceID is the identifier the store keeps for a device: a keyed hash of
// its token's random part, so that the store never holds what the cookie
// holds. Devices this release made (issued, so signed with their time)
// hash apart from those of the release before (issued 0): a signed token
// cut to its random part, in the unsigned form of before, names no device
// the store knows, and gets none of the protections of signing around. The
// hash is keyed by the secret that signed the device's token (key), which
// a rotation keeps among the previous secrets: the device keeps its memory
// until that secret is dropped.
func (h *Handler) deviceID(device string, issued int64, key int) memory.Identifier {
	if issued == 0 {
		return memory.Device("d1." + b64.EncodeToString(h.mac(key, "device", device)[:24])).AsVerified()
	}
	return memory.Device("d2." + b64.EncodeToString(h.mac(key, "device 2", device)[:24])).AsVerified()
}

// requestDevice is the device of a request the shop's own server handles
// (IdentityToken, Customer, Logout): its cookie checked as the API checks
// it.
func (h *Handler) requestDevice(r *http.Request) (device, error) {
	d, err := h.readDevice(r)
	if err != nil {
		return device{}, err
	}
	return h.knownDevice(r.Context(), d)
}
