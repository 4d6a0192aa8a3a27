package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// startShop runs the shop on a free loopback port with its data in dir and
// returns its base URL; it stops when the test ends.
func startShop(t *testing.T, dir string) string {
	t.Helper()
	base, _ := startStoppableShop(t, dir)
	return base
}

// startStoppableShop is startShop that also returns a function stopping the
// shop before the test ends.
func startStoppableShop(t *testing.T, dir string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	out := &syncBuffer{}
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", dir, "-agent-password", testAgentPassword}, out, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("shop did not start: %v\n%s", err, out)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	require.Contains(t, out.String(), dir, "the data folder is printed at start")
	return "http://" + addr, stop
}

// testAgentPassword is the agents' password of the shops tests start.
const testAgentPassword = "agent-password-of-the-tests"

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestShopServesItsPages(t *testing.T) {
	base := startShop(t, t.TempDir())
	agent := agentClient(t, base)
	for _, path := range []string{"/", "/checkout", "/login", "/agent", "/agent?q=nobody@example.com", "/static/shop.css", "/herken/herken.js"} {
		resp, err := agent.Get(base + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		if strings.HasPrefix(path, "/agent") || path == "/" || path == "/checkout" {
			require.Contains(t, resp.Header.Get("Content-Security-Policy"), "'wasm-unsafe-eval'")
			require.Contains(t, string(body), `src="/herken/herken.js"`, path)
		}
	}
	resp, err := agent.Get(base + "/agent?q=nobody@example.com")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(body), "no customer found")
}

// agentClient is an HTTP client signed in as an agent.
func agentClient(t *testing.T, base string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(base+"/agent/login", url.Values{"password": {testAgentPassword}})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), "Agent view")
	return c
}

// TestAgentPageIsForAgentsOnly is the attacker's walk: anonymous, as a
// signed-in customer, with a forged or expired agent cookie, and guessing
// the password. None of it shows a customer.
func TestAgentPageIsForAgentsOnly(t *testing.T) {
	base := startShop(t, t.TempDir())
	agent := agentClient(t, base)
	// A customer with a street the agent page would show.
	jar, _ := cookiejar.New(nil)
	customer := &http.Client{Jar: jar}
	resp, err := customer.PostForm(base+"/login", url.Values{"account": {"ada"}})
	require.NoError(t, err)
	resp.Body.Close()
	identifyAs(t, customer, base, `{"seq":1,"kind":"fact.remembered","fact":{"key":"shipping.street","value":"Ada Street 1","purpose":"service","channel":"web"}}`)

	noRedirect := func(c *http.Client) *http.Client {
		cc := *c
		cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return &cc
	}
	for name, c := range map[string]*http.Client{"anonymous": http.DefaultClient, "customer": customer} {
		for _, path := range []string{"/agent", "/agent?q=ada", "/agent?q=ada@example.com"} {
			resp, err := noRedirect(c).Get(base + path)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, "%s %s: %s", name, path, body)
			require.Equal(t, "/agent/login", resp.Header.Get("Location"))
			require.NotContains(t, string(body), "Ada Street")
		}
	}
	for _, forged := range []string{"9999999999.AAAA", "1.x", "", strings.Repeat("9", 200), "1700000000." + strings.Repeat("A", 43)} {
		req, _ := http.NewRequest("GET", base+"/agent?q=ada", nil)
		req.AddCookie(&http.Cookie{Name: "shop_agent", Value: forged})
		resp, err := noRedirect(http.DefaultClient).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, forged)
	}
	// Guessing: refused, then slowed.
	statuses := map[int]int{}
	for i := range 12 {
		resp, err := http.PostForm(base+"/agent/login", url.Values{"password": {fmt.Sprint("guess-", i)}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Empty(t, resp.Header.Values("Set-Cookie"))
		statuses[resp.StatusCode]++
	}
	require.Positive(t, statuses[http.StatusUnauthorized])
	require.Positive(t, statuses[http.StatusTooManyRequests], "%v", statuses)
	// The agent still gets in.
	resp, err = agent.Get(base + "/agent?q=ada")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(body), "account: ada")
	require.Contains(t, string(body), "Ada Street 1")
}

// identifyAs does what the plugin does on a page of a signed-in customer:
// it proves the account with the page's identity token and syncs changes.
func identifyAs(t *testing.T, c *http.Client, base string, changes ...string) {
	t.Helper()
	call := func(path, csrf, body string) map[string]any {
		req, _ := http.NewRequest("POST", base+"/herken/"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Herken-CSRF", csrf)
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
		var out map[string]any
		require.NoError(t, json.Unmarshal(b, &out))
		return out
	}
	csrf := call("session", "", "")["csrf"].(string)
	resp, err := c.Get(base + "/checkout")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`data-identity="([^"]+)"`).FindSubmatch(page)
	require.NotNil(t, m, "a signed-in customer's page carries an identity token")
	call("identify", csrf, `{"token":"`+html.UnescapeString(string(m[1]))+`"}`)
	if len(changes) > 0 {
		call("sync", csrf, `{"changes":[`+strings.Join(changes, ",")+`]}`)
	}
}

func TestShopKeepsItsSecretAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	a, err := loadSecrets(dir, false, false)
	require.NoError(t, err)
	b, err := loadSecrets(dir, false, false)
	require.NoError(t, err)
	require.Equal(t, a, b)
	fi, err := os.Stat(dir + "/plugin.secrets")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// -rotate-secret, then -drop-old-secrets.
	r, err := loadSecrets(dir, true, false)
	require.NoError(t, err)
	require.Equal(t, [][]byte{a.Secret}, r.Previous)
	d, err := loadSecrets(dir, false, true)
	require.NoError(t, err)
	require.Equal(t, r.Secret, d.Secret)
	require.Empty(t, d.Previous)
}

// TestShopBringsInItsOldSecret: the secret an earlier release kept alone
// in plugin.secret becomes the current one, so its devices stay known.
func TestShopBringsInItsOldSecret(t *testing.T) {
	dir := t.TempDir()
	old := bytes.Repeat([]byte{0xa5}, 32)
	require.NoError(t, os.WriteFile(dir+"/plugin.secret", old, 0o600))
	s, err := loadSecrets(dir, false, false)
	require.NoError(t, err)
	require.Equal(t, old, s.Secret)
	require.Empty(t, s.Previous)
	again, err := loadSecrets(dir, false, false)
	require.NoError(t, err)
	require.Equal(t, s, again)
}

// TestAgentGuessesLockOutOnlyTheGuesser: an attacker guessing the agent
// password from one address is slowed; an agent at another address still
// signs in at once.
func TestAgentGuessesLockOutOnlyTheGuesser(t *testing.T) {
	s := &shop{agents: newAgents("the-password", []byte("a secret of thirty-two bytes or more!"))}
	try := func(addr, password string) int {
		req := httptest.NewRequest("POST", "/agent/login", strings.NewReader(url.Values{"password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = addr + ":4242"
		w := httptest.NewRecorder()
		s.agentLogin(w, req)
		return w.Code
	}
	codes := map[int]int{}
	for i := range 20 {
		codes[try("192.0.2.1", fmt.Sprint("guess-", i))]++
	}
	require.Positive(t, codes[http.StatusTooManyRequests], "%v", codes)
	require.Equal(t, http.StatusTooManyRequests, try("192.0.2.1", "the-password"), "the guesser stays slowed")
	require.Equal(t, http.StatusSeeOther, try("192.0.2.2", "the-password"), "another agent signs in")
}

// TestHelpExitsZero runs the shop's main with -h in a child process, as a
// user's shell would: the usage is printed and the exit status is 0.
func TestHelpExitsZero(t *testing.T) {
	if os.Getenv("HERKEN_SHOP_MAIN") == "1" {
		os.Args = append([]string{"shop"}, strings.Fields(os.Getenv("HERKEN_SHOP_ARGS"))...)
		main()
		os.Exit(0)
	}
	for _, args := range []string{"-h", "-help", "--help"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelpExitsZero$")
		cmd.Env = append(os.Environ(), "HERKEN_SHOP_MAIN=1", "HERKEN_SHOP_ARGS="+args)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s: %s", args, out)
		require.Contains(t, string(out), "Usage: go run ./examples/shop", args)
		require.Contains(t, string(out), "-agent-password", args)
	}
	// A wrong flag is still a failure.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelpExitsZero$")
	cmd.Env = append(os.Environ(), "HERKEN_SHOP_MAIN=1", "HERKEN_SHOP_ARGS=-no-such-flag")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	require.NotZero(t, exit.ExitCode())
	require.Contains(t, string(out), "flag provided but not defined")
}
