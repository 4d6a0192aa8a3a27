// Command bench is herken's benchmark suite. It generates synthetic
// customers, measures lookups and writes in herken as latency distributions
// and throughput, and runs the same workload, on loopback, against what a
// user would otherwise pick: Redis and PostgreSQL, each when reachable. It
// also measures the plugin's wasm module in wazero, and the plugin on a page
// in headless Chromium, when there is one.
//
//	go run ./bench                      # 100,000 customers: 6.4 minutes on 2 busy cores (load 8-10)
//	go run ./bench -quick               # under 20 seconds
//	go run ./bench -customers 10000     # 1.8-2.1 minutes on the same machine
//	go run ./bench -customers 1000000   # the cold goal is stated at 1M
//	go run ./bench -growth              # then 10k, 100k and 1M customers (herken loads ~1,000 a second there)
//	go run ./bench -only floor          # the peers' round trips alone: Redis PING and GET, PostgreSQL SELECT 1
//	go run ./bench -only brief-warm -cpuprofile cpu.out
//	go run ./bench -out report          # report.md, plots, results.json
//	go run ./bench -engine both         # herken on Badger and on PostgreSQL (-postgres)
//
// # herken on PostgreSQL
//
// With -engine postgres (or both) the store also runs on the PostgreSQL
// server of -postgres, which needs wal_level=logical, in a database of its
// own (herken_bench, created afresh and dropped after), as system
// herken-pg: a warm brief from an instance's cache, a cold one with the
// cache off beside its two halves (identifier to customer, brief of an id)
// and a bare SELECT 1, the unit a cold brief is counted in; record-contact
// from -writers goroutines; and the delay until a preference set on one
// instance shows in another instance's briefs (-visibility-writes). The
// customers go in through Store calls, about 500 a second on two cores,
// so -pg-customers defaults to 10,000 (about 20 s) where the others get
// -customers. Point -postgres at a cluster with synchronous standbys for
// the write figures that matter.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/herken/herken/memory"
)

type config struct {
	args        []string
	customers   int
	seed        uint64
	duration    time.Duration
	procs       int
	writers     int
	hot         int
	cache       int
	dir         string
	redis       string
	postgres    string
	engine      string // badger, postgres or both
	pgCustomers int
	visibility  int
	only        []string
	out         string
	growth      []int
	noPeers     bool
	noWasm      bool
	noBrowser   bool
	chromium    string
	visitors    int
	quiet       bool
	cpuprofile  string
	memprofile  string
	tracefile   string
	w           io.Writer
}

var scenarios = []string{"open", "brief-warm", "scaling", "miss", "brief-cold", "contact", "remember", "forget", "visibility", "claims", "floor", "redis", "postgres", "wasm", "browser"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := bench(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parse(args []string, out io.Writer) (*config, error) {
	cfg := &config{args: args, w: out}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	quick := fs.Bool("quick", false, "a short run: 10,000 customers and short measurements (under 20 seconds)")
	fs.IntVar(&cfg.customers, "customers", 100_000, "customers to generate")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of the synthetic customers")
	fs.DurationVar(&cfg.duration, "duration", 2*time.Second, "how long each measurement runs")
	fs.IntVar(&cfg.procs, "procs", 2*runtime.GOMAXPROCS(0), "the most goroutines for the scaling measurement (1, 2, 4, … up to it)")
	fs.IntVar(&cfg.writers, "writers", 64, "concurrent writers for the write measurements")
	fs.IntVar(&cfg.hot, "hot", 10_000, "customers in the warm set")
	fs.IntVar(&cfg.cache, "cache", 65536, "herken's profile cache, in customers")
	fs.StringVar(&cfg.dir, "dir", "", "folder for the herken store (default: a temporary one, removed after)")
	fs.StringVar(&cfg.redis, "redis", "127.0.0.1:6379", "Redis address")
	fs.StringVar(&cfg.postgres, "postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL URL")
	fs.StringVar(&cfg.engine, "engine", "badger", "herken's storage: badger (embedded), postgres (its tables in a new database "+pgDatabase+" on the server of -postgres, which needs wal_level=logical) or both")
	fs.IntVar(&cfg.pgCustomers, "pg-customers", 10_000, "customers to load into herken on PostgreSQL (-engine postgres or both)")
	fs.IntVar(&cfg.visibility, "visibility-writes", 300, "writes on one PostgreSQL instance timed until another sees them")
	only := fs.String("only", "", "run only these scenarios, comma-separated: "+strings.Join(scenarios, ", "))
	fs.StringVar(&cfg.out, "out", "", "write a Markdown report with plots into this folder")
	growth := fs.Bool("growth", false, "measure warm and cold lookups as the store grows (see -growth-sizes)")
	sizes := fs.String("growth-sizes", "10000,100000,1000000", "customers at each step of -growth")
	fs.BoolVar(&cfg.noPeers, "no-peers", false, "do not run Redis and PostgreSQL")
	fs.BoolVar(&cfg.noWasm, "no-wasm", false, "do not measure the wasm module")
	fs.BoolVar(&cfg.noBrowser, "no-browser", false, "do not measure the plugin in headless Chromium")
	fs.StringVar(&cfg.chromium, "chromium", "", "the Chromium to measure the plugin in (default: chromium, chromium-browser or google-chrome from PATH)")
	fs.IntVar(&cfg.visitors, "visitors", 20, "visitors for the browser measurement, each a first and a return visit")
	fs.BoolVar(&cfg.quiet, "quiet", false, "no progress bars")
	fs.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the measurements to this file")
	fs.StringVar(&cfg.memprofile, "memprofile", "", "write a heap profile at the end to this file")
	fs.StringVar(&cfg.tracefile, "trace", "", "write an execution trace of the measurements to this file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *growth {
		for v := range strings.SplitSeq(*sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("-growth-sizes: %q is not a number of customers", v)
			}
			cfg.growth = append(cfg.growth, n)
		}
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["customers"] {
			cfg.customers = 10_000
		}
		if !set["duration"] {
			cfg.duration = 400 * time.Millisecond
		}
		if !set["writers"] {
			cfg.writers = 32
		}
		if !set["visitors"] {
			cfg.visitors = 6
		}
		if !set["pg-customers"] {
			cfg.pgCustomers = 2_000
		}
		if !set["visibility-writes"] {
			cfg.visibility = 100
		}
	}
	if *only != "" {
		for name := range strings.SplitSeq(*only, ",") {
			name = strings.TrimSpace(name)
			if !slices.Contains(scenarios, name) {
				return nil, fmt.Errorf("unknown scenario %q; choose from %s", name, strings.Join(scenarios, ", "))
			}
			cfg.only = append(cfg.only, name)
		}
	}
	switch {
	case cfg.customers < 1:
		return nil, errors.New("-customers must be at least 1")
	case cfg.duration <= 0:
		return nil, errors.New("-duration must be positive")
	case cfg.procs < 1 || cfg.writers < 1 || cfg.hot < 1 || cfg.visitors < 1 || cfg.pgCustomers < 1 || cfg.visibility < 1:
		return nil, errors.New("-procs, -writers, -hot, -visitors, -pg-customers and -visibility-writes must be at least 1")
	case cfg.engine != "badger" && cfg.engine != "postgres" && cfg.engine != "both":
		return nil, fmt.Errorf("-engine %q: choose badger, postgres or both", cfg.engine)
	}
	return cfg, nil
}

// on says whether herken runs on the engine, badger or postgres.
func (cfg *config) on(engine string) bool { return cfg.engine == engine || cfg.engine == "both" }

func (cfg *config) want(name string) bool {
	return len(cfg.only) == 0 || slices.Contains(cfg.only, name)
}

func (cfg *config) bar(n int, what string) *progressbar.ProgressBar {
	w := io.Writer(os.Stderr)
	if cfg.quiet {
		w = io.Discard
	}
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(), progressbar.OptionSetPredictTime(true))
}

// measure runs op for the configured duration and adds the result.
// measurePeerLookups measures a peer's recognize+brief of known emails, over
// the same hot set as herken's warm lookups, and of unknown ones.
func (cfg *config) measurePeerLookups(rep *report, peer string, n int, brief func(email string) error) error {
	hot := min(n, cfg.hot)
	if err := cfg.measure(rep, peer+" recognize+brief", peer, "brief", 1, 0, func(_ int, i int64) error {
		return brief(emailOf(int(uint64(i) * 2654435761 % uint64(hot))))
	}); err != nil {
		return err
	}
	return cfg.measure(rep, peer+" lookup of an unknown email", peer, "miss", 1, 0, func(_ int, i int64) error {
		if err := brief(unknownEmailOf(i)); !errors.Is(err, memory.ErrNotFound) {
			return fmt.Errorf("a miss found something: %v", err)
		}
		return nil
	})
}

func (cfg *config) measure(rep *report, name, system, op string, workers int, limit int64, fn func(int, int64) error) error {
	return cfg.measureN(rep, name, system, op, workers, limit, fn)
}

// measureN runs op for the configured duration or limit calls.
func (cfg *config) measureN(rep *report, name, system, op string, workers int, limit int64, fn func(int, int64) error) error {
	// A short warm-up, so that the first calls' setup is not measured.
	warm := min(int64(100), max(limit/20, 1))
	if limit == 0 {
		warm = 100
	}
	if _, err := run(1, time.Second, warm, fn); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	rest := int64(0)
	if limit > 0 {
		rest = max(limit-warm, 1)
	}
	res, err := run(workers, cfg.duration, rest, func(w int, i int64) error { return fn(w, i+warm) })
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	res.Name, res.System, res.Op = name, system, op
	rep.add(res)
	if !cfg.quiet {
		fmt.Fprintf(os.Stderr, "  %-58s %10s  p50 %9s  p99 %9s\n", name, rate(res.PerSecond()), dur(res.Quantile(50)), dur(res.Quantile(99)))
	}
	return nil
}

func bench(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parse(args, out)
	if err != nil {
		return err
	}
	rep := &report{started: time.Now(), customers: cfg.customers, loads: map[string]time.Duration{}, paths: map[string]string{}, loadStart: loadAverage()}

	dir := cfg.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "herken-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("-dir %s is not empty", dir)
	}

	herkenWanted := false
	for _, s := range []string{"open", "brief-warm", "scaling", "miss", "brief-cold", "contact", "remember", "forget"} {
		herkenWanted = herkenWanted || cfg.want(s)
	}
	herkenWanted = herkenWanted && cfg.on("badger")
	pgWanted := false
	for _, s := range []string{"brief-warm", "miss", "brief-cold", "contact", "visibility"} {
		pgWanted = pgWanted || cfg.want(s)
	}
	pgWanted = pgWanted && cfg.on("postgres")
	if herkenWanted {
		took, err := herkenLoad(ctx, cfg, dir, cfg.customers)
		if err != nil {
			return err
		}
		rep.loads["herken"] = took
	}

	stopProfiles, err := cfg.startProfiles()
	if err != nil {
		return err
	}
	defer stopProfiles()
	if herkenWanted {
		if err := herkenScenarios(ctx, cfg, dir, cfg.customers, rep); err != nil {
			return err
		}
	}
	if pgWanted {
		herkenPGScenarios(ctx, cfg, rep)
	}
	if !cfg.noPeers && cfg.want("floor") {
		floorScenarios(ctx, cfg, rep)
	}
	if !cfg.noPeers && cfg.want("redis") {
		t0 := time.Now()
		redisScenarios(ctx, cfg, cfg.customers, rep)
		rep.loads["redis (load and measure)"] = time.Since(t0)
	}
	if !cfg.noPeers && cfg.want("postgres") {
		t0 := time.Now()
		postgresScenarios(ctx, cfg, cfg.customers, rep)
		rep.loads["postgres (load and measure)"] = time.Since(t0)
	}
	if cfg.want("claims") {
		if err := claimScenarios(ctx, cfg, rep); err != nil {
			return err
		}
	}
	if !cfg.noWasm && cfg.want("wasm") {
		if err := wasmScenarios(ctx, cfg, rep); err != nil {
			return err
		}
	}
	if !cfg.noBrowser && cfg.want("browser") {
		browserScenarios(ctx, cfg, rep)
	}
	if len(cfg.growth) > 0 {
		if err := growth(ctx, cfg, rep); err != nil {
			return err
		}
	}
	stopProfiles()
	rep.loadEnd = loadAverage()
	rep.writeText(out)
	if cfg.out != "" {
		if err := rep.writeMarkdown(cfg.out, cfg); err != nil {
			return err
		}
		fmt.Fprintf(out, "report written to %s/report.md\n", cfg.out)
	}
	if cfg.memprofile != "" {
		f, err := os.Create(cfg.memprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		return pprof.WriteHeapProfile(f)
	}
	return nil
}

// growth measures warm and cold lookups at three sizes, each in a store of
// its own.
func growth(ctx context.Context, cfg *config, rep *report) error {
	for _, n := range cfg.growth {
		dir, err := os.MkdirTemp("", "herken-growth-")
		if err != nil {
			return err
		}
		if _, err := herkenLoad(ctx, cfg, dir, n); err != nil {
			os.RemoveAll(dir)
			return err
		}
		sub := *cfg
		sub.only = []string{"brief-warm", "brief-cold"}
		subRep := &report{}
		if err := herkenScenarios(ctx, &sub, dir, n, subRep); err != nil {
			os.RemoveAll(dir)
			return err
		}
		rep.growth = append(rep.growth, growthPoint{customers: n, warm: subRep.find("herken", "brief"), cold: subRep.find("herken", "brief-cold"), disk: subRep.disk})
		os.RemoveAll(dir)
	}
	return nil
}

func (cfg *config) startProfiles() (func(), error) {
	var stops []func()
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if cfg.tracefile != "" {
		f, err := os.Create(cfg.tracefile)
		if err != nil {
			return nil, err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			return nil, err
		}
		stops = append(stops, func() { trace.Stop(); f.Close() })
	}
	done := false
	return func() {
		if done {
			return
		}
		done = true
		for _, s := range stops {
			s()
		}
	}, nil
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
