// Command shop is herken's demo web shop: a product page, a checkout form, a
// help widget and a login, with the browser plugin on every page, and an
// agent page that shows the server-side brief with its internal flags. A
// visitor fills the checkout once; on their return, even after the shop
// restarts, the form is filled and the widget greets them.
//
//	go run ./examples/shop [-addr 127.0.0.1:8080] [-data DIR] [-agent-password P] [-rotate-secret] [-drop-old-secrets]
//
// The agent page needs the agent password, printed at start (a new one
// each start unless -agent-password gives it). The plugin's secrets are
// kept in DIR/plugin.secrets (see plugin.LoadSecrets): -rotate-secret
// signs with a new one from this start on, and devices of the old one keep
// their memory until -drop-old-secrets drops it. A customer signs in with
// an email address or an account name, which the plugin is given as proven.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, nil)
	switch {
	case errors.Is(err, flag.ErrHelp):
		// -h asked for the usage, which run printed: not a failure.
	case errors.Is(err, context.Canceled):
	case err != nil:
		log.Fatal(err)
	}
}

// run starts the shop and serves until ctx ends. ready, if not nil, gets
// the address it listens on.
func run(ctx context.Context, args []string, out io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("shop", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "herken's demo web shop, with the browser plugin on every page and an agent page.\n\nUsage: go run ./examples/shop [flags]\n\n")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	data := fs.String("data", defaultDataDir(), "folder for the shop's customer memory (and its plugin secrets)")
	postgres := fs.String("postgres", "", "keep the customer memory in the PostgreSQL database of this DSN, shared by every instance of the shop, instead of in -data")
	agentPassword := fs.String("agent-password", "", "the agents' password for the agent page (default: a new random one, printed at start)")
	rotate := fs.Bool("rotate-secret", false, "sign with a new plugin secret from now on; devices of the old one keep their memory until it is dropped")
	drop := fs.Bool("drop-old-secrets", false, "drop the plugin secrets a rotation replaced: their devices become strangers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	secrets, err := loadSecrets(*data, *rotate, *drop)
	if err != nil {
		return err
	}
	opts := memory.DefaultOptions(filepath.Join(*data, "memory"))
	if *postgres != "" {
		opts = memory.PostgresOptions(*postgres)
	}
	store, err := memory.Open(ctx, opts.WithDefaultRegion("NL"))
	if err != nil {
		return err
	}
	defer store.Close()
	h, err := plugin.New(store, plugin.Options{Secret: secrets.Secret, PreviousSecrets: secrets.Previous})
	if err != nil {
		return err
	}
	if *agentPassword == "" {
		*agentPassword = rand.Text()[:16]
	}
	s := &shop{store: store, plugin: h, agents: newAgents(*agentPassword, secrets.Secret)}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(out, "herken demo shop on http://%s\ncustomer memory in %s\nagent page: http://%s/agent, password %s\n", ln.Addr(), *data, ln.Addr(), *agentPassword)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		return ctx.Err()
	case err := <-errc:
		return err
	}
}

func defaultDataDir() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "herken-shop-data"
	}
	return filepath.Join(dir, "herken", "shop")
}

// loadSecrets reads the plugin's secrets from the data folder, making them
// on the first run (the same secret across restarts keeps devices
// recognized), and rotates them or drops the old ones when asked. A secret
// an earlier release of the shop kept alone, in plugin.secret, is brought
// into the secret file, so that its devices keep their memory.
func loadSecrets(dir string, rotate, drop bool) (plugin.Secrets, error) {
	path := filepath.Join(dir, "plugin.secrets")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		old, err := os.ReadFile(filepath.Join(dir, "plugin.secret"))
		switch {
		case err == nil && len(old) >= 32:
			if err := plugin.WriteSecrets(path, plugin.Secrets{Secret: old}); err != nil {
				return plugin.Secrets{}, err
			}
		case err != nil && !errors.Is(err, os.ErrNotExist):
			return plugin.Secrets{}, err
		}
	}
	switch {
	case rotate:
		return plugin.RotateSecrets(path)
	case drop:
		return plugin.DropPreviousSecrets(path, 0)
	}
	return plugin.LoadSecrets(path)
}
