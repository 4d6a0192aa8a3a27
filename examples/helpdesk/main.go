// Command helpdesk is herken's multichannel help desk demo: an agent
// console where contacts arrive by email, phone, chat and store visit, each
// with the identifier its channel has, and where one memory recognizes the
// customer across all of them. Run it and open the address it prints.
//
// Everything the console lists comes from the store: the inbox is the
// store's work queue (memory.Store.Queue), and the live feed's earlier
// lines are rebuilt from the histories of the customers in it and the
// receipts of forgets, so a reload or a restart on the same -data folder
// shows the same; new lines arrive live (memory.Store.Watch). What a
// customer who left the queue (every issue resolved) did before the
// restart is not in the rebuilt feed.
//
//	go run ./examples/helpdesk [-addr 127.0.0.1:8081] [-data DIR] [-simulate=false] [-every 6s]
package main

import (
	"context"
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, nil)
	switch {
	case errors.Is(err, flag.ErrHelp):
		// -h and --help: the usage was printed; asking for it is no error.
	case errors.Is(err, errUsage):
		os.Exit(2) // the flag package said what was wrong, and the usage
	case err != nil && !errors.Is(err, context.Canceled):
		log.Fatal(err)
	}
}

// run starts the help desk and serves until ctx ends; ready, if not nil,
// gets the address it listens on.
func run(ctx context.Context, args []string, out io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("helpdesk", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", "127.0.0.1:8081", "address to listen on")
	data := fs.String("data", defaultDataDir(), "folder for the help desk's customer memory")
	postgres := fs.String("postgres", "", "keep the customer memory in the PostgreSQL database of this DSN (the shop's, with its -postgres) instead of in -data")
	simulate := fs.Bool("simulate", true, "simulate inbound contacts every few seconds")
	every := fs.Duration("every", 6*time.Second, "average time between simulated steps (a contact, or an agent solving an issue)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: helpdesk [flags]\n\nherken's help desk demo: an agent console on one customer memory.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
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
	d := newDesk(store)
	if err := d.seed(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: d.routes(), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(out, "herken help desk on http://%s\ncustomer memory in %s\n", ln.Addr(), *data)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go d.watch(ctx)
	if *simulate {
		go d.simulate(ctx, *every)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancelShutdown()
		d.closeFeeds()
		_ = srv.Shutdown(shutdown)
		return ctx.Err()
	case err := <-errc:
		return err
	}
}

// errUsage is returned by run for flags it cannot parse.
var errUsage = errors.New("helpdesk: bad flags")

func defaultDataDir() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "herken-helpdesk-data"
	}
	return filepath.Join(dir, "herken", "helpdesk")
}
