package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/herken/herken/memory"
)

// report collects what a run measured.
type report struct {
	started     time.Time
	customers   int
	pgCustomers int           // in herken on PostgreSQL, when it ran
	pgLoad      time.Duration // to load them, sync writes off
	pgTotal     time.Duration // to load them and measure
	results     []*result
	loads       map[string]time.Duration // system → time to load the customers
	disk, rss   int64
	wasmRaw     int
	wasmGzip    int
	wasmBrotli  int
	growth      []growthPoint
	forgets     forgetStall
	claims      claimOracle

	paths              map[string]string // peer → the code path of its operations
	loadStart, loadEnd string            // /proc/loadavg at the start and the end

	browser          string // Chromium's product and version
	browserLoads     int    // pages loaded in it
	browserLongLoads int    // of which had a main-thread task of 50 ms or more
	browserLongest   time.Duration
	browserPhases    map[string][]float64 // "first-visit module": ms after the plugin's start, a load each
	browserBriefs    map[string][]float64 // by visit: ms from the plugin's start to its first brief
}

type growthPoint struct {
	customers  int
	warm, cold *result
	disk       int64
}

func (r *report) add(res *result) { r.results = append(r.results, res) }
func (r *report) last() *result   { return r.results[len(r.results)-1] }

// find returns the result of a system's operation.
func (r *report) find(system, op string) *result {
	for _, res := range r.results {
		if res.System == system && res.Op == op && res.Skipped == "" && res.Ops > 0 {
			return res
		}
	}
	return nil
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + " ns"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e3, 'f', 2, 64) + " µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
}

func rate(f float64) string {
	switch {
	case f >= 1e6:
		return strconv.FormatFloat(f/1e6, 'f', 2, 64) + " M/s"
	case f >= 1e3:
		return strconv.FormatFloat(f/1e3, 'f', 1, 64) + " k/s"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " /s"
}

func bytesStr(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 2, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// side is one row of the headline: an operation, as herken and each peer
// did it in this run.
type side struct {
	label, short string
	rate         bool    // throughput, not latency
	q            float64 // the latency's quantile
	herken       *result
	peers        map[string]*result
}

// sides are the headline's rows, for the operations herken and a peer
// both ran, with the peers' round-trip floors last.
func (r *report) sides() []side {
	specs := []struct {
		label, short, herkenOp, peerOp string
		q                              float64
	}{
		{"recognize+brief, warm (p50)", "warm p50", "brief", "brief", 50},
		{"recognize+brief, warm (p99)", "warm p99", "brief", "brief", 99},
		{"recognize+brief, cold (p50)", "cold p50", "brief-cold", "brief", 50},
		{"recognize+brief, cold (p99)", "cold p99", "brief-cold", "brief", 99},
		{"unknown email (p50)", "miss p50", "miss", "miss", 50},
		{"record-contact, sync off (throughput)", "contact, sync off", "contact-sync writes off", "contact-sync writes off", 0},
		{"record-contact, sync on (throughput)", "contact, sync on", "contact-sync writes on", "contact-sync writes on", 0},
	}
	var out []side
	for _, sp := range specs {
		row := side{label: sp.label, short: sp.short, rate: sp.q == 0, q: sp.q, herken: r.find("herken", sp.herkenOp), peers: map[string]*result{}}
		for _, peer := range peers {
			if o := r.find(peer, sp.peerOp); o != nil {
				row.peers[peer] = o
			}
		}
		if row.herken != nil && len(row.peers) > 0 {
			out = append(out, row)
		}
	}
	floor := side{label: "round-trip floor: GET / SELECT 1 (p50)", q: 50, peers: map[string]*result{}}
	for peer, op := range map[string]string{"redis": "floor-get", "postgres": "floor-select1"} {
		if o := r.find(peer, op); o != nil {
			floor.peers[peer] = o
		}
	}
	if len(floor.peers) > 0 {
		out = append(out, floor)
	}
	return out
}

var peers = []string{"redis", "postgres"}

// value is a result's figure in the row: its throughput or its quantile.
func (x side) value(res *result) string {
	switch {
	case res == nil:
		return "-"
	case x.rate:
		return rate(res.PerSecond())
	}
	return dur(res.Quantile(x.q))
}

// factor is how many times herken beats the peer in the row: the peer's
// latency over herken's, or herken's throughput over the peer's; 0 when
// either did not run.
func (x side) factor(peer string) float64 {
	o := x.peers[peer]
	if x.herken == nil || o == nil {
		return 0
	}
	if x.rate {
		return x.herken.PerSecond() / max(o.PerSecond(), 1e-9)
	}
	return float64(o.Quantile(x.q)) / float64(max(x.herken.Quantile(x.q), 1))
}

func factorStr(f float64) string {
	if f == 0 {
		return "-"
	}
	if f < 10 {
		return strconv.FormatFloat(f, 'f', 2, 64) + "×"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + "×"
}

// ratio is one comparison of herken on PostgreSQL with another system.
type ratio struct {
	op, peer      string
	herken, other string
	factor        float64
}

// pgRatios compares herken on PostgreSQL with herken on Badger and with the
// peers, measured in the same run: the factor is herken-pg's median over
// the other's (its throughput over the other's for the writes), so lower
// is better for the latencies and higher for the writes.
func (r *report) pgRatios() []ratio {
	var out []ratio
	pairs := []struct{ pgOp, otherOp, other, label string }{
		{"brief", "brief", "herken", "recognize+brief, warm (p50)"},
		{"brief", "brief", "redis", "recognize+brief, warm (p50)"},
		{"brief", "brief", "postgres", "recognize+brief, warm (p50)"},
		{"brief-cold", "brief-cold", "herken", "recognize+brief, cold (p50)"},
		{"brief-cold", "brief", "postgres", "recognize+brief, cold (p50)"},
		{"brief-cold", "roundtrip", "herken-pg", "recognize+brief, cold, in round trips (p50)"},
		{"lookup-cold", "roundtrip", "herken-pg", "identifier to customer, cold, in round trips (p50)"},
		{"brief-id-cold", "roundtrip", "herken-pg", "brief of an id, cold, in round trips (p50)"},
		{"miss", "miss", "herken", "unknown email (p50)"},
		{"miss", "miss", "postgres", "unknown email (p50)"},
		{"contact-sync writes on", "contact-sync writes on", "herken", "record-contact, sync on (throughput)"},
		{"contact-sync writes on", "contact-sync writes on", "postgres", "record-contact, sync on (throughput)"},
		{"contact-sync writes off", "contact-sync writes off", "postgres", "record-contact, sync off (throughput)"},
	}
	for _, p := range pairs {
		h, o := r.find("herken-pg", p.pgOp), r.find(p.other, p.otherOp)
		if h == nil || o == nil {
			continue
		}
		x := ratio{op: p.label, peer: p.other}
		if strings.HasPrefix(p.pgOp, "contact") {
			x.herken, x.other = rate(h.PerSecond()), rate(o.PerSecond())
			x.factor = h.PerSecond() / max(o.PerSecond(), 1e-9)
		} else {
			x.herken, x.other = dur(h.Quantile(50)), dur(o.Quantile(50))
			x.factor = float64(h.Quantile(50)) / float64(max(o.Quantile(50), 1))
		}
		out = append(out, x)
	}
	return out
}

// pgLines is what herken on PostgreSQL adds to the text: its size, the
// comparisons and the visibility of writes across instances.
func (r *report) pgLines() []string {
	if r.pgCustomers == 0 {
		return nil
	}
	lines := []string{fmt.Sprintf("herken-pg: herken on PostgreSQL, %d customers (herken on Badger and the peers: %d); loading them took %s (through Store calls, sync writes off), loading and measuring %s",
		r.pgCustomers, r.customers, dur(r.pgLoad), dur(r.pgTotal))}
	if v := r.find("herken-pg", "visibility"); v != nil {
		lines = append(lines, fmt.Sprintf("herken-pg: a write on one instance seen on another after p50 %s, p90 %s, p99 %s, max %s, over %d writes (FeedBound %s)%s",
			dur(v.Quantile(50)), dur(v.Quantile(90)), dur(v.Quantile(99)), dur(v.Max()), v.Ops, memory.FeedBound, noteOf(v)))
	}
	return lines
}

func noteOf(r *result) string {
	if r.Note == "" {
		return ""
	}
	return "; " + r.Note
}

// writeText writes the readable table.
func (r *report) writeText(w io.Writer) {
	fmt.Fprintf(w, "\nherken benchmark: %d customers, %s, GOMAXPROCS %d, %s\n", r.customers, cpuModel(), runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Fprintf(w, "load average (1, 5, 15 min): %s at the start, %s at the end\n\n", r.loadStart, r.loadEnd)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tthroughput\tp50\tp90\tp99\tp99.9\tmax\t")
	for _, res := range r.results {
		if res.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\n", res.Name, res.Skipped)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", res.Name, rate(res.PerSecond()),
			dur(res.Quantile(50)), dur(res.Quantile(90)), dur(res.Quantile(99)), dur(res.Quantile(99.9)), dur(res.Max()))
	}
	tw.Flush()
	if rows := r.sides(); len(rows) > 0 {
		fmt.Fprintln(w, "\nherken against the alternatives, side by side (× is how many times herken is faster; higher is better for herken):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "operation\therken\tredis\tpostgres\t× redis\t× postgres\t")
		for _, x := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", x.label, x.value(x.herken), x.value(x.peers["redis"]), x.value(x.peers["postgres"]),
				factorStr(x.factor("redis")), factorStr(x.factor("postgres")))
		}
		tw.Flush()
		for _, line := range r.floorLines() {
			fmt.Fprintln(w, line)
		}
	}
	for _, peer := range peers {
		if p := r.paths[peer]; p != "" {
			fmt.Fprintf(w, "\n%s's code path:\n%s\n", peer, p)
		}
	}
	if rs := r.pgRatios(); len(rs) > 0 {
		fmt.Fprintln(w, "\nherken on PostgreSQL against the others (herken-pg / other: lower is better for latencies, higher for throughput):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, x := range rs {
			fmt.Fprintf(tw, "  %s\t%s\therken-pg %s\t%s %s\t%.2f×\n", x.op, x.peer, x.herken, x.peer, x.other, x.factor)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	for _, line := range r.pgLines() {
		fmt.Fprintln(w, line)
	}
	for _, sys := range slices.Sorted(maps.Keys(r.loads)) {
		fmt.Fprintf(w, "loading %d customers into %s: %s\n", r.customers, sys, dur(r.loads[sys]))
	}
	if r.disk > 0 && r.customers > 0 {
		fmt.Fprintf(w, "herken on disk after the write measurements: %s, %s per customer (-growth measures a store as loaded); resident memory after the warm lookups: %s\n",
			bytesStr(r.disk), bytesStr(r.disk/int64(r.customers)), bytesStr(r.rss))
	}
	if f := r.forgets; f.p99Alone > 0 {
		fmt.Fprintf(w, "forgets: %.0f/s; others' record-contact p99 %s without them, %s during them (%.2f×)\n",
			f.perSecond, dur(f.p99Alone), dur(f.p99During), f.ratio())
	}
	if line := r.claims.line(); line != "" {
		fmt.Fprintln(w, line)
	}
	if r.wasmRaw > 0 {
		fmt.Fprintf(w, "wasm module: %s raw, %s gzip, %s brotli\n", bytesStr(int64(r.wasmRaw)), bytesStr(int64(r.wasmGzip)), bytesStr(int64(r.wasmBrotli)))
	}
	if line := r.browserLine(); line != "" {
		fmt.Fprintln(w, line)
	}
	for _, g := range r.growth {
		fmt.Fprintf(w, "growth: %8d customers: warm p50 %s p99 %s, cold p50 %s p99 %s, %s per customer on disk\n", g.customers,
			dur(g.warm.Quantile(50)), dur(g.warm.Quantile(99)), dur(g.cold.Quantile(50)), dur(g.cold.Quantile(99)), bytesStr(g.disk/int64(g.customers)))
	}
}

// writeMarkdown writes report.md and the plots into dir.
func (r *report) writeMarkdown(dir string, cfg *config) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# herken benchmark\n\nRun %s with `go run ./bench %s`; load average (1, 5, 15 min) %s at the start, %s at the end.\n\n",
		r.started.Format(time.RFC3339), strings.Join(cfg.args, " "), r.loadStart, r.loadEnd)
	if rows := r.sides(); len(rows) > 0 {
		b.WriteString("## Headline: herken side by side with Redis and PostgreSQL\n\n")
		b.WriteString("Each on loopback in this run, done as a skilled user would (the code paths are below). × is how many times herken is faster: the peer's latency over herken's, herken's throughput over the peer's. A peer's cold brief is its only brief: every one reads the server.\n\n")
		b.WriteString("| operation | herken | redis | postgres | × redis | × postgres |\n|---|---|---|---|---|---|\n")
		for _, x := range rows {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", x.label, x.value(x.herken), x.value(x.peers["redis"]), x.value(x.peers["postgres"]),
				factorStr(x.factor("redis")), factorStr(x.factor("postgres")))
		}
		b.WriteString("\n")
		for _, line := range r.floorLines() {
			b.WriteString(line + "\n\n")
		}
		if r.plotRatios(filepath.Join(dir, "ratios.png"), rows) {
			b.WriteString("![herken's speed over each peer's](ratios.png)\n\n")
		}
	}
	if len(r.paths) > 0 {
		b.WriteString("## The peers' code paths\n\n")
		for _, peer := range peers {
			if p := r.paths[peer]; p != "" {
				fmt.Fprintf(&b, "%s:\n\n```\n%s\n```\n\n", peer, p)
			}
		}
	}
	fmt.Fprintf(&b, "## Machine\n\n| | |\n|---|---|\n| CPU | %s |\n| cores | %d (GOMAXPROCS %d) |\n| Go | %s, %s/%s |\n| memory | %s |\n| herken store | Badger v4 on disk, group-committed sync writes, profile cache %d customers |\n| customers | %d |\n| load average | %s at the start, %s at the end |\n\n",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, memTotal(), cfg.cache, r.customers, r.loadStart, r.loadEnd)
	if rs := r.pgRatios(); len(rs) > 0 {
		b.WriteString("## herken on PostgreSQL against the others\n\nThe factor is herken-pg's over the other's: lower is better for the latencies, higher for the throughputs.\n\n| operation | other | herken-pg | other | factor |\n|---|---|---|---|---|\n")
		for _, x := range rs {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %.2f× |\n", x.op, x.peer, x.herken, x.other, x.factor)
		}
		b.WriteString("\n")
		for _, line := range r.pgLines() {
			b.WriteString(line + ".\n\n")
		}
	}
	b.WriteString("## All operations\n\n| operation | throughput | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|\n")
	for _, res := range r.results {
		if res.Skipped != "" {
			fmt.Fprintf(&b, "| %s | %s | | | | | |\n", res.Name, res.Skipped)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", res.Name, rate(res.PerSecond()),
			dur(res.Quantile(50)), dur(res.Quantile(90)), dur(res.Quantile(99)), dur(res.Quantile(99.9)), dur(res.Max()))
	}
	b.WriteString("\n")
	if r.disk > 0 {
		fmt.Fprintf(&b, "herken on disk after the write measurements: %s, %s per customer (-growth measures a store as loaded). Resident memory after the warm lookups: %s.\n\n", bytesStr(r.disk), bytesStr(r.disk/int64(max(r.customers, 1))), bytesStr(r.rss))
	}
	if r.wasmRaw > 0 {
		fmt.Fprintf(&b, "wasm module: %s raw, %s gzip, %s brotli.\n\n", bytesStr(int64(r.wasmRaw)), bytesStr(int64(r.wasmGzip)), bytesStr(int64(r.wasmBrotli)))
	}
	if line := r.claims.line(); line != "" {
		b.WriteString(line + ".\n\n")
	}
	if line := r.browserLine(); line != "" {
		b.WriteString(line + ".\n\n")
	}
	isWrite := func(res *result) bool {
		return strings.Contains(res.Op, "contact") || strings.Contains(res.Op, "remember")
	}
	for _, pl := range []struct {
		file, title string
		keep        func(*result) bool
	}{
		{"lookups.png", "Lookups and wasm calls: latency percentiles", func(res *result) bool {
			return !isWrite(res) && res.Op != "compile-cached" && res.Op != "instantiate" && res.Op != "open" && res.System != "browser"
		}},
		{"writes.png", "Writes: latency percentiles", isWrite},
	} {
		drawn, err := r.plotLatency(filepath.Join(dir, pl.file), pl.title, pl.keep)
		if err != nil {
			return err
		}
		if drawn {
			fmt.Fprintf(&b, "![%s](%s)\n\n", pl.title, pl.file)
		}
	}
	if len(r.growth) > 0 {
		b.WriteString("## Growth\n\n| customers | warm p50 | warm p99 | cold p50 | cold p99 | disk per customer |\n|---|---|---|---|---|---|\n")
		for _, g := range r.growth {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", g.customers, dur(g.warm.Quantile(50)), dur(g.warm.Quantile(99)),
				dur(g.cold.Quantile(50)), dur(g.cold.Quantile(99)), bytesStr(g.disk/int64(g.customers)))
		}
		b.WriteString("\n![growth: latency](growth.png)\n\n![growth: bytes on disk per customer](growth-disk.png)\n")
		if err := r.plotGrowth(filepath.Join(dir, "growth.png")); err != nil {
			return err
		}
		if err := r.plotGrowthDisk(filepath.Join(dir, "growth-disk.png")); err != nil {
			return err
		}
	}
	js, _ := json.MarshalIndent(r.summary(), "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "results.json"), js, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(b.String()), 0o644)
}

// summary is the machine-readable form of the results.
func (r *report) summary() []map[string]any {
	var out []map[string]any
	for _, res := range r.results {
		m := map[string]any{"name": res.Name, "system": res.System, "op": res.Op, "workers": res.Workers}
		if res.Skipped != "" {
			m["skipped"] = res.Skipped
		} else {
			m["ops"], m["per_second"] = res.Ops, res.PerSecond()
			for _, q := range []float64{50, 90, 99, 99.9} {
				m["p"+strconv.FormatFloat(q, 'f', -1, 64)+"_ns"] = int64(res.Quantile(q))
			}
			m["max_ns"] = int64(res.Max())
		}
		out = append(out, m)
	}
	return out
}

var quantiles = []float64{50, 90, 99, 99.9}

// plotLatency draws the percentiles of the results keep chooses; it
// reports whether there were any (a log scale has no empty plot).
func (r *report) plotLatency(path, title string, keep func(*result) bool) (bool, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (µs, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{}
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 1, Label: "p50"}, {Value: 2, Label: "p90"}, {Value: 3, Label: "p99"}, {Value: 4, Label: "p99.9"}})
	var lines []any
	for _, res := range r.results {
		if res.Skipped != "" || res.Ops < 10 || res.Op == "brief-scaling" || !keep(res) {
			continue
		}
		xys := make(plotter.XYs, len(quantiles))
		for k, q := range quantiles {
			xys[k].X = float64(k + 1)
			xys[k].Y = max(float64(res.Quantile(q))/1e3, 0.01)
		}
		lines = append(lines, res.Name, xys)
	}
	if len(lines) == 0 {
		return false, nil
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return false, err
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return true, p.Save(10*vg.Inch, 7*vg.Inch, path)
}

func (r *report) plotGrowth(path string) error {
	p := plot.New()
	p.Title.Text = "recognize+brief as the store grows"
	p.X.Label.Text = "customers (log scale)"
	p.Y.Label.Text = "latency (µs, log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	r.growthAxis(p)
	series := map[string]plotter.XYs{}
	lo, hi := math.Inf(1), 0.0
	var names []string
	for _, g := range r.growth {
		for _, s := range []struct {
			name string
			res  *result
			q    float64
		}{{"warm p50", g.warm, 50}, {"warm p99", g.warm, 99}, {"cold p50", g.cold, 50}, {"cold p99", g.cold, 99}} {
			if _, ok := series[s.name]; !ok {
				names = append(names, s.name)
			}
			y := max(float64(s.res.Quantile(s.q))/1e3, 0.01)
			series[s.name] = append(series[s.name], plotter.XY{X: float64(g.customers), Y: y})
			lo, hi = min(lo, y), max(hi, y)
		}
	}
	// Room above the lines for the legend.
	p.Y.Min, p.Y.Max = lo/2, hi*8
	p.Y.Tick.Marker = decadeTicks(p.Y.Min, p.Y.Max, "")
	sort.Strings(names)
	var lines []any
	for _, n := range names {
		lines = append(lines, n, series[n])
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return err
	}
	p.Legend.Top = true
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	return procField("/proc/meminfo", "MemTotal")
}

// residentMemory returns the process's resident set size.
func residentMemory() int64 {
	v := procField("/proc/self/status", "VmRSS")
	n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
	if err != nil {
		return 0
	}
	return n << 10
}

func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// floorLines say how far above its round-trip floor each peer's brief lies.
func (r *report) floorLines() []string {
	var lines []string
	for _, f := range []struct{ peer, op, what string }{{"redis", "floor-get", "GET"}, {"postgres", "floor-select1", "SELECT 1"}} {
		fl, br := r.find(f.peer, f.op), r.find(f.peer, "brief")
		if fl == nil || br == nil {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s: a brief p50 %s is %.2f× its floor, %s p50 %s, measured in this run", f.peer,
			dur(br.Quantile(50)), float64(br.Quantile(50))/float64(max(fl.Quantile(50), 1)), f.what, dur(fl.Quantile(50))))
	}
	return lines
}

// plotRatios draws herken's factor over each peer for the headline's rows,
// on a log scale with 1× (as fast) marked; it reports whether it drew one.
func (r *report) plotRatios(path string, rows []side) bool {
	p := plot.New()
	p.Title.Text = "herken against each peer, same run: times faster (log scale)"
	p.Y.Label.Text = "× (peer latency / herken, herken throughput / peer)"
	p.Y.Scale = plot.LogScale{}
	var ticks []plot.Tick
	series := map[string]plotter.XYs{}
	k := 0
	for _, x := range rows {
		if x.herken == nil {
			continue
		}
		k++
		ticks = append(ticks, plot.Tick{Value: float64(k), Label: x.short})
		for i, peer := range peers {
			if f := x.factor(peer); f > 0 {
				series[peer] = append(series[peer], plotter.XY{X: float64(k) + 0.2*float64(2*i-1), Y: f})
			}
		}
	}
	if k == 0 {
		return false
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = 0.5, float64(k)+0.5
	one, err := plotter.NewLine(plotter.XYs{{X: 0.5, Y: 1}, {X: float64(k) + 0.5, Y: 1}})
	if err != nil {
		return false
	}
	one.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(one)
	p.Legend.Add("1× (as fast)", one)
	lo, hi := 1.0, 1.0
	for i, peer := range peers {
		xys := series[peer]
		if len(xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return false
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: plotutil.Color(i), Radius: vg.Points(5), Shape: []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}}[i%2]}
		labels := make([]string, len(xys))
		for k, xy := range xys {
			labels[k] = factorStr(xy.Y)
			lo, hi = min(lo, xy.Y), max(hi, xy.Y)
		}
		ls, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return false
		}
		for k := range ls.TextStyle {
			ls.TextStyle[k].XAlign = draw.XCenter
		}
		ls.Offset = vg.Point{Y: vg.Points(8)}
		p.Add(sc, ls)
		p.Legend.Add(peer, sc)
	}
	p.Y.Min, p.Y.Max = lo/2, hi*3
	p.Y.Tick.Marker = decadeTicks(p.Y.Min, p.Y.Max, "×")
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.YOffs = -vg.Points(4)
	return p.Save(10*vg.Inch, 6*vg.Inch, path) == nil
}

// plotGrowthDisk draws herken's bytes on disk per customer as the store
// grows.
func (r *report) plotGrowthDisk(path string) error {
	p := plot.New()
	p.Title.Text = "herken on disk per customer as the store grows"
	p.X.Label.Text = "customers (log scale)"
	p.Y.Label.Text = "bytes per customer"
	p.X.Scale = plot.LogScale{}
	r.growthAxis(p)
	var xys plotter.XYs
	peak := 1024.0
	for _, g := range r.growth {
		xys = append(xys, plotter.XY{X: float64(g.customers), Y: float64(g.disk) / float64(g.customers)})
		peak = max(peak, xys[len(xys)-1].Y)
	}
	if err := plotutil.AddLinePoints(p, "bytes on disk per customer", xys); err != nil {
		return err
	}
	goal, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: 1024}, {X: p.X.Max, Y: 1024}})
	if err != nil {
		return err
	}
	goal.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(goal)
	p.Legend.Add("the goal, 1 KiB", goal)
	p.Y.Min, p.Y.Max = 0, peak*1.4
	p.Legend.Top = true
	return p.Save(8*vg.Inch, 4*vg.Inch, path)
}

// growthAxis sets the x axis of a growth plot: a tick at each size, with
// room either side.
func (r *report) growthAxis(p *plot.Plot) {
	var ticks []plot.Tick
	for _, g := range r.growth {
		ticks = append(ticks, plot.Tick{Value: float64(g.customers), Label: countStr(g.customers)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	if len(r.growth) > 0 {
		p.X.Min, p.X.Max = float64(r.growth[0].customers)/1.5, float64(r.growth[len(r.growth)-1].customers)*1.5
	}
}

// countStr writes n as 10k or 1M where it is round.
func countStr(n int) string {
	switch {
	case n >= 1e6 && n%1e6 == 0:
		return strconv.Itoa(n/1e6) + "M"
	case n >= 1e3 && n%1e3 == 0:
		return strconv.Itoa(n/1e3) + "k"
	}
	return strconv.Itoa(n)
}

// decadeTicks are ticks at 1, 2 and 5 of each decade from lo to hi, each
// labelled with unit.
func decadeTicks(lo, hi float64, unit string) plot.ConstantTicks {
	var ts []plot.Tick
	for d := math.Pow(10, math.Floor(math.Log10(lo))); d <= hi; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v >= lo && v <= hi {
				ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64) + unit})
			}
		}
	}
	return ts
}

// loadAverage returns the first three fields of /proc/loadavg, or
// "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
