package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

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

// ratios compares each peer with herken on the operations both ran: the
// headline. It compares medians, and throughput for the writes.
type ratio struct {
	op, peer      string
	herken, other string
	factor        float64
}

func (r *report) ratios() []ratio {
	var out []ratio
	pairs := []struct{ herkenOp, peerOp, label string }{
		{"brief", "brief", "recognize+brief, warm (p50)"},
		{"brief-cold", "brief", "recognize+brief, cold (p50)"},
		{"miss", "miss", "unknown email (p50)"},
		{"contact-sync writes off", "contact-sync writes off", "record-contact, sync off (throughput)"},
		{"contact-sync writes on", "contact-sync writes on", "record-contact, sync on (throughput)"},
	}
	for _, peer := range []string{"redis", "postgres"} {
		for _, p := range pairs {
			h, o := r.find("herken", p.herkenOp), r.find(peer, p.peerOp)
			if h == nil || o == nil {
				continue
			}
			x := ratio{op: p.label, peer: peer}
			if strings.HasPrefix(p.herkenOp, "contact") {
				x.herken, x.other = rate(h.PerSecond()), rate(o.PerSecond())
				x.factor = h.PerSecond() / o.PerSecond()
			} else {
				x.herken, x.other = dur(h.Quantile(50)), dur(o.Quantile(50))
				x.factor = float64(o.Quantile(50)) / float64(max(h.Quantile(50), 1))
			}
			out = append(out, x)
		}
	}
	return out
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
	fmt.Fprintf(w, "\nherken benchmark: %d customers, %s, GOMAXPROCS %d, %s\n\n", r.customers, cpuModel(), runtime.GOMAXPROCS(0), runtime.Version())
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
	if rs := r.ratios(); len(rs) > 0 {
		fmt.Fprintln(w, "\nherken against the alternatives (peer / herken; higher is better for herken):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, x := range rs {
			fmt.Fprintf(tw, "  %s\t%s\therken %s\t%s %s\t%.1f×\n", x.op, x.peer, x.herken, x.peer, x.other, x.factor)
		}
		tw.Flush()
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
	for sys, d := range r.loads {
		fmt.Fprintf(w, "loading %d customers into %s: %s\n", r.customers, sys, dur(d))
	}
	if r.disk > 0 && r.customers > 0 {
		fmt.Fprintf(w, "herken on disk: %s, %s per customer; resident memory after the warm lookups: %s\n",
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
	fmt.Fprintf(&b, "# herken benchmark\n\nRun %s with `go run ./bench %s`.\n\n", r.started.Format(time.RFC3339), strings.Join(cfg.args, " "))
	fmt.Fprintf(&b, "## Machine\n\n| | |\n|---|---|\n| CPU | %s |\n| cores | %d (GOMAXPROCS %d) |\n| Go | %s, %s/%s |\n| memory | %s |\n| herken store | Badger v4 on disk, group-committed sync writes, profile cache %d customers |\n| customers | %d |\n\n",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, memTotal(), cfg.cache, r.customers)
	if rs := r.ratios(); len(rs) > 0 {
		b.WriteString("## Headline: herken against the alternatives\n\n| operation | peer | herken | peer | ratio |\n|---|---|---|---|---|\n")
		for _, x := range rs {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f× |\n", x.op, x.peer, x.herken, x.other, x.factor)
		}
		b.WriteString("\n")
	}
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
		fmt.Fprintf(&b, "herken on disk: %s, %s per customer. Resident memory after the warm lookups: %s.\n\n", bytesStr(r.disk), bytesStr(r.disk/int64(max(r.customers, 1))), bytesStr(r.rss))
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
	b.WriteString("![lookup latency](lookups.png)\n\n![write latency](writes.png)\n\n")
	if len(r.growth) > 0 {
		b.WriteString("## Growth\n\n| customers | warm p50 | warm p99 | cold p50 | cold p99 | disk per customer |\n|---|---|---|---|---|---|\n")
		for _, g := range r.growth {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", g.customers, dur(g.warm.Quantile(50)), dur(g.warm.Quantile(99)),
				dur(g.cold.Quantile(50)), dur(g.cold.Quantile(99)), bytesStr(g.disk/int64(g.customers)))
		}
		b.WriteString("\n![growth](growth.png)\n")
		if err := r.plotGrowth(filepath.Join(dir, "growth.png")); err != nil {
			return err
		}
	}
	isWrite := func(res *result) bool {
		return strings.Contains(res.Op, "contact") || strings.Contains(res.Op, "remember")
	}
	if err := r.plotLatency(filepath.Join(dir, "lookups.png"), "Lookups and wasm calls: latency percentiles", func(res *result) bool {
		return !isWrite(res) && res.Op != "compile-cached" && res.Op != "instantiate" && res.Op != "open" && res.System != "browser"
	}); err != nil {
		return err
	}
	if err := r.plotLatency(filepath.Join(dir, "writes.png"), "Writes: latency percentiles", isWrite); err != nil {
		return err
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

func (r *report) plotLatency(path, title string, keep func(*result) bool) error {
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
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return err
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return p.Save(10*vg.Inch, 7*vg.Inch, path)
}

func (r *report) plotGrowth(path string) error {
	p := plot.New()
	p.Title.Text = "recognize+brief as the store grows"
	p.X.Label.Text = "customers (log scale)"
	p.Y.Label.Text = "latency (µs, log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{}, plot.LogTicks{}
	series := map[string]plotter.XYs{}
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
			series[s.name] = append(series[s.name], plotter.XY{X: float64(g.customers), Y: max(float64(s.res.Quantile(s.q))/1e3, 0.01)})
		}
	}
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
