package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

func TestSecretFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugin.secrets")
	first, err := plugin.LoadSecrets(path)
	require.NoError(t, err)
	require.Len(t, first.Secret, 32)
	require.Empty(t, first.Previous)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "readable by the server alone")
	again, err := plugin.LoadSecrets(path)
	require.NoError(t, err)
	require.Equal(t, first, again, "the same secret across restarts")

	rotated, err := plugin.RotateSecrets(path)
	require.NoError(t, err)
	require.NotEqual(t, first.Secret, rotated.Secret)
	require.Equal(t, [][]byte{first.Secret}, rotated.Previous)
	twice, err := plugin.RotateSecrets(path)
	require.NoError(t, err)
	require.Equal(t, [][]byte{rotated.Secret, first.Secret}, twice.Previous, "newest first")
	loaded, err := plugin.LoadSecrets(path)
	require.NoError(t, err)
	require.Equal(t, twice, loaded)

	kept, err := plugin.DropPreviousSecrets(path, 1)
	require.NoError(t, err)
	require.Equal(t, plugin.Secrets{Secret: twice.Secret, Previous: [][]byte{rotated.Secret}}, kept)
	kept, err = plugin.DropPreviousSecrets(path, 0)
	require.NoError(t, err)
	require.Equal(t, plugin.Secrets{Secret: twice.Secret}, kept)
	loaded, err = plugin.LoadSecrets(path)
	require.NoError(t, err)
	require.Equal(t, kept.Secret, loaded.Secret)
	require.Empty(t, loaded.Previous)
	fi, err = os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "still, after every rewrite")
	left, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".*"))
	require.NoError(t, err)
	require.Empty(t, left, "no temporary file left behind")

	// A file brought in from elsewhere.
	imported := plugin.Secrets{Secret: bytes.Repeat([]byte{7}, 48)}
	require.NoError(t, plugin.WriteSecrets(path, imported))
	loaded, err = plugin.LoadSecrets(path)
	require.NoError(t, err)
	require.Equal(t, imported.Secret, loaded.Secret)
}

// TestSecretFileRefusesWhatIsNotOne: a damaged or hand-edited file is
// refused with ErrSecretFile saying what is wrong, and left as it is:
// never replaced by a new secret, which would make every device a
// stranger.
func TestSecretFileRefusesWhatIsNotOne(t *testing.T) {
	short := "c2hvcnQ=\n" // "short"
	cases := map[string]string{
		"empty":           "",
		"comments only":   "# nothing\n\n",
		"not base64":      "not base64 at all!\n",
		"a short secret":  short,
		"a short old one": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n" + short,
		"too many": func() string {
			var b bytes.Buffer
			for range 9 {
				b.WriteString("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n")
			}
			return b.String()
		}(),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "plugin.secrets")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			for op, fn := range map[string]func() (plugin.Secrets, error){
				"load":   func() (plugin.Secrets, error) { return plugin.LoadSecrets(path) },
				"rotate": func() (plugin.Secrets, error) { return plugin.RotateSecrets(path) },
				"drop":   func() (plugin.Secrets, error) { return plugin.DropPreviousSecrets(path, 0) },
			} {
				_, err := fn()
				require.ErrorIs(t, err, plugin.ErrSecretFile, op)
				require.Contains(t, err.Error(), path, op)
				after, _ := os.ReadFile(path)
				require.Equal(t, content, string(after), "%s changes nothing", op)
			}
		})
	}
	require.ErrorIs(t, plugin.WriteSecrets(filepath.Join(t.TempDir(), "s"), plugin.Secrets{Secret: []byte("short")}), plugin.ErrSecretFile)
	_, err := plugin.DropPreviousSecrets(filepath.Join(t.TempDir(), "none"), 0)
	require.ErrorIs(t, err, os.ErrNotExist, "dropping makes no new file")

	path := filepath.Join(t.TempDir(), "plugin.secrets")
	for range 7 {
		_, err := plugin.RotateSecrets(path)
		require.NoError(t, err)
	}
	_, err = plugin.RotateSecrets(path)
	require.ErrorIs(t, err, plugin.ErrSecretFile, "a handler takes 8 secrets at most")
	s, err := plugin.LoadSecrets(path)
	require.NoError(t, err)
	_, err = plugin.New(memoryStore(t), plugin.Options{Secret: s.Secret, PreviousSecrets: s.Previous})
	require.NoError(t, err, "what the file holds, a handler takes")
}

// TestNewRefusesNoStore: a store that did not open (its error unchecked)
// is an error, not a panic.
func TestNewRefusesNoStore(t *testing.T) {
	_, err := plugin.New(nil, plugin.Options{Secret: secret})
	require.ErrorContains(t, err, "no store")
}

// TestSecretFileBehindADanglingLink: a secret file that is a link to what
// is not there yet (a secret mount not ready) is refused, never replaced
// by a new secret, which would make every device a stranger.
func TestSecretFileBehindADanglingLink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin.secrets")
	require.NoError(t, os.Symlink(filepath.Join(dir, "mount", "secrets"), path))
	_, err := plugin.LoadSecrets(path)
	require.ErrorIs(t, err, plugin.ErrSecretFile)
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeSymlink, "the link is left as it was")
	_, err = os.Stat(filepath.Join(dir, "mount", "secrets"))
	require.ErrorIs(t, err, os.ErrNotExist, "nothing was written through it")
}

// TestSecretFileInAMissingFolder: the error says which file and why.
func TestSecretFileInAMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-folder", "plugin.secrets")
	_, err := plugin.LoadSecrets(path)
	require.ErrorContains(t, err, "plugin: write the secret file "+path)
	require.ErrorContains(t, err, "its folder must exist")
}

func TestNewRefusesShortPreviousSecrets(t *testing.T) {
	_, err := plugin.New(memoryStore(t), plugin.Options{Secret: secret, PreviousSecrets: [][]byte{[]byte("short")}})
	require.ErrorContains(t, err, "PreviousSecrets[0]")
}

func memoryStore(t *testing.T) *memory.Store {
	s, err := memory.Open(context.Background(), memory.InMemoryOptions())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// serve starts a handler with opts on store, as a restart of the shop's
// server would, and returns its URL.
func serve(t *testing.T, store *memory.Store, opts plugin.Options) string {
	t.Helper()
	h, err := plugin.New(store, opts)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// visitor is a browser: a cookie jar (cookies do not mind ports, so it
// keeps its cookie across the servers of one test) and its CSRF token.
type visitor struct {
	t    *testing.T
	jar  http.CookieJar
	csrf string
}

func newVisitor(t *testing.T) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, jar: jar}
}

// post sends a call to the handler at base and returns its status and
// answer; a session's answer gives the visitor its CSRF token.
func (v *visitor) post(base, path, body string) (int, map[string]any) {
	v.t.Helper()
	c := &http.Client{Jar: v.jar}
	req, _ := http.NewRequest("POST", base+"/"+path, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Herken-CSRF", v.csrf)
	resp, err := c.Do(req)
	require.NoError(v.t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if csrf, ok := out["csrf"].(string); ok && path == "session" {
		v.csrf = csrf
	}
	return resp.StatusCode, out
}

func (v *visitor) device(base string) string {
	v.t.Helper()
	req, _ := http.NewRequest("GET", base, nil)
	for _, c := range v.jar.Cookies(req.URL) {
		if c.Name == "herken_device" {
			return c.Value
		}
	}
	v.t.Fatal("no device cookie")
	return ""
}

func street(out map[string]any) string {
	snap, _ := out["snapshot"].(map[string]any)
	facts, _ := snap["facts"].([]any)
	for _, f := range facts {
		if m, _ := f.(map[string]any); m["key"] == "shipping.street" {
			return m["value"].(string)
		}
	}
	return ""
}

// TestSecretRotation: a rotation keeps every device and every token signed
// before it, while new ones are signed with the new secret; dropping the
// old secret makes its devices strangers, with no state; a secret the
// handler does not hold never verifies.
func TestSecretRotation(t *testing.T) {
	ctx := context.Background()
	store := memoryStore(t)
	path := filepath.Join(t.TempDir(), "plugin.secrets")
	before, err := plugin.LoadSecrets(path)
	require.NoError(t, err)
	old := serve(t, store, plugin.Options{Secret: before.Secret})

	ada := newVisitor(t)
	status, sess := ada.post(old, "session", "")
	require.Equal(t, http.StatusOK, status)
	tag := sess["device"]
	status, _ = ada.post(old, "sync", rememberStreet)
	require.Equal(t, http.StatusOK, status)
	oldCSRF := ada.csrf
	// An identity token the shop's server made just before the rotation.
	token := plugin.SignIdentity(before.Secret, memory.Account("ada"), ada.device(old), time.Now().Add(time.Minute))

	after, err := plugin.RotateSecrets(path)
	require.NoError(t, err)
	rotated := serve(t, store, plugin.Options{Secret: after.Secret, PreviousSecrets: after.Previous})
	// The page loaded before the rotation goes on with its CSRF token.
	status, out := ada.post(rotated, "sync", `{"changes":[]}`)
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Equal(t, "Keizersgracht 1", street(out), "the device keeps its memory")
	status, out = ada.post(rotated, "identify", `{"token":"`+token+`"}`)
	require.Equal(t, http.StatusOK, status, "%v", out)
	status, sess = ada.post(rotated, "session", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, tag, sess["device"], "the same device to its worker, which keeps what it holds")
	require.Equal(t, "Keizersgracht 1", street(sess))
	id, err := store.Lookup(ctx, memory.Account("ada").AsVerified())
	require.NoError(t, err)

	// A new visitor is signed with the new secret: the handler of the old
	// secret alone does not know its device.
	bob := newVisitor(t)
	status, _ = bob.post(rotated, "session", "")
	require.Equal(t, http.StatusOK, status)
	bobDevice := bob.device(rotated)
	status, _ = bob.post(rotated, "sync", rememberStreet)
	require.Equal(t, http.StatusOK, status)
	status, _ = bob.post(old, "sync", `{"changes":[]}`)
	require.Equal(t, http.StatusForbidden, status, "signed with the new secret, which the old handler does not hold")

	// The old secret is dropped: its devices are strangers, with no state;
	// what it signed verifies no more.
	dropped, err := plugin.DropPreviousSecrets(path, 0)
	require.NoError(t, err)
	final := serve(t, store, plugin.Options{Secret: dropped.Secret, PreviousSecrets: dropped.Previous})
	oldDevice := ada.device(old)
	status, _ = ada.post(final, "sync", `{"changes":[]}`)
	require.Equal(t, http.StatusForbidden, status, "the old CSRF token is refused")
	require.Equal(t, oldCSRF, ada.csrf)
	status, sess = ada.post(final, "session", "")
	require.Equal(t, http.StatusOK, status)
	require.NotEqual(t, oldDevice, ada.device(final), "a new device")
	require.NotEqual(t, tag, sess["device"], "which its worker is told of")
	require.Empty(t, street(sess), "and no state")
	token = plugin.SignIdentity(before.Secret, memory.Account("ada"), ada.device(final), time.Now().Add(time.Minute))
	status, _ = ada.post(final, "identify", `{"token":"`+token+`"}`)
	require.Equal(t, http.StatusForbidden, status, "a token of the dropped secret")
	still, err := store.Lookup(ctx, memory.Account("ada").AsVerified())
	require.NoError(t, err)
	require.Equal(t, id, still, "the customer keeps her memory; a new sign-in brings it to the new device")
	status, sess = bob.post(final, "session", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, bobDevice, bob.device(final), "a device of the new secret stays")
	require.Equal(t, "Keizersgracht 1", street(sess))

	// A secret the handler does not hold never verifies: not a device, not
	// an identity token, not a CSRF token.
	stranger := serve(t, store, plugin.Options{Secret: bytes.Repeat([]byte("x"), 32), PreviousSecrets: [][]byte{bytes.Repeat([]byte("y"), 32)}})
	status, _ = bob.post(stranger, "sync", `{"changes":[]}`)
	require.Equal(t, http.StatusForbidden, status)
	status, sess = bob.post(stranger, "session", "")
	require.Equal(t, http.StatusOK, status)
	require.NotEqual(t, bobDevice, bob.device(stranger))
	require.Empty(t, street(sess))
	token = plugin.SignIdentity(dropped.Secret, memory.Account("ada"), bob.device(stranger), time.Now().Add(time.Minute))
	status, _ = bob.post(stranger, "identify", `{"token":"`+token+`"}`)
	require.Equal(t, http.StatusForbidden, status)
}
