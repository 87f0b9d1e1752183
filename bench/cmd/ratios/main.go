// Command ratios reads the output of the bench module's benchmarks (go test
// -bench, any -count) and prints the ratios issue 6 sets as targets for
// floodgate, each from the medians of the same run:
//
//   - floodgate's Redis store throughput with 64 callers on 100k keys ÷
//     redis_rate's (target ≥ 3×);
//   - floodgate's Redis store serial ns/op ÷ a bare EVALSHA of the same
//     script with the same arguments (target ≤ 1.1×);
//   - floodgate's allocations per decision on Redis (target ≤ 8);
//   - floodgate's memory store ns/op ÷ sethvargo/go-limiter's memorystore,
//     serial and parallel, hot key and 100k keys (target ≤ 1.0×);
//   - heap bytes per idle key in floodgate's memory store (target ≤ 120).
//
// The ratios of two contenders come from BenchmarkPaired, which runs them
// in alternating slices; the same ratios from the separate benchmarks are
// printed below them for reference.
//
// Usage: go run ./cmd/ratios FILE... (standard input when no FILE). It exits
// non-zero only when it cannot read its input; a missed target is reported,
// not an error.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	var in []io.Reader
	for _, name := range os.Args[1:] {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ratios:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = append(in, f)
	}
	if len(in) == 0 {
		in = append(in, os.Stdin)
	}
	res, err := parse(io.MultiReader(in...))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(1)
	}
	report(os.Stdout, res)
}

// results holds every value of each benchmark (its name without the
// -GOMAXPROCS suffix) and unit.
type results map[string]map[string][]float64

// parse reads benchmark lines: "BenchmarkX/a=b-2  N  v unit  v unit ...".
func parse(r io.Reader) (results, error) {
	res := results{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // not a result line
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if res[name] == nil {
			res[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			res[name][f[i+1]] = append(res[name][f[i+1]], v)
		}
	}
	return res, sc.Err()
}

// median returns the median of name's values in unit, and whether any.
func (r results) median(name, unit string) (float64, bool) {
	vs := slices.Clone(r[name][unit])
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if n := len(vs); n%2 == 0 {
		return (vs[n/2-1] + vs[n/2]) / 2, true
	}
	return vs[len(vs)/2], true
}

// check is one line of the report.
type check struct {
	what   string
	value  float64
	ok     bool // value was available
	suffix string
	target string
	met    func(float64) bool
}

func ratio(r results, what, unit, num, den, target string, met func(float64) bool) check {
	a, ok1 := r.median(num, unit)
	b, ok2 := r.median(den, unit)
	return check{what: what, value: a / b, ok: ok1 && ok2 && b != 0, suffix: "×", target: target, met: met}
}

// inverse turns a time ratio into a throughput ratio.
func inverse(c check) check {
	if c.ok {
		c.value = 1 / c.value
	}
	return c
}

func value(r results, what, unit, name, target string, met func(float64) bool) check {
	v, ok := r.median(name, unit)
	return check{what: what, value: v, ok: ok, target: target, met: met}
}

func report(w io.Writer, r results) {
	atLeast := func(t float64) func(float64) bool { return func(v float64) bool { return v >= t } }
	atMost := func(t float64) func(float64) bool { return func(v float64) bool { return v <= t } }
	redis := func(contender, shape, keys string) string {
		return "BenchmarkRedis/contender=" + contender + "/shape=" + shape + "/keys=" + keys
	}
	memory := func(contender, shape, keys string) string {
		return "BenchmarkMemory/contender=" + contender + "/shape=" + shape + "/keys=" + keys
	}
	paired := func(kind, other, shape, keys string) string {
		return "BenchmarkPaired/pair=" + kind + "-floodgate-vs-" + other + "/shape=" + shape + "/keys=" + keys
	}
	// Targets are read from BenchmarkPaired (floodgate and its peer in
	// alternating slices): far steadier on a shared machine than two
	// separate benchmarks. Its ratio is floodgate's time ÷ the peer's.
	tput := value(r, "redis: floodgate ÷ redis_rate throughput, c64, 100k keys (paired)", "ratio",
		paired("redis", "redis_rate", "c64", "100k"), "≥ 3×", atLeast(3))
	if tput.ok {
		tput.value = 1 / tput.value // time ratio → throughput ratio
	}
	tput.suffix = "×"
	checks := []check{tput}
	for _, keys := range []string{"1", "100k"} {
		c := value(r, "redis: floodgate ÷ evalsha-gcra ns/op, serial, keys="+keys+" (paired)", "ratio",
			paired("redis", "evalsha-gcra", "serial", keys), "≤ 1.1×", atMost(1.1))
		c.suffix = "×"
		checks = append(checks, c)
	}
	for _, keys := range []string{"1", "100k"} {
		checks = append(checks, value(r, "redis: floodgate allocs/op, serial, keys="+keys, "allocs/op",
			redis("floodgate", "serial", keys), "≤ 8", atMost(8)))
	}
	for _, shape := range []string{"serial", "parallel"} {
		for _, keys := range []string{"1", "100k"} {
			c := value(r, "memory: floodgate ÷ sethvargo ns/op, "+shape+", keys="+keys+" (paired)", "ratio",
				paired("memory", "sethvargo", shape, keys), "≤ 1.0×", atMost(1.0))
			c.suffix = "×"
			checks = append(checks, c)
		}
	}
	checks = append(checks, value(r, "memory: floodgate B/key (1M idle keys)", "B/key",
		"BenchmarkMemoryPerKey/contender=floodgate", "≤ 120", atMost(120)))

	fmt.Fprintln(w, "Targets of issue 6 (medians of this run):")
	fmt.Fprintf(w, "%-68s %10s  %-7s %s\n", "ratio", "value", "target", "met")
	for _, c := range checks {
		v, met := "n/a", "n/a"
		if c.ok {
			v = strconv.FormatFloat(c.value, 'f', 2, 64) + c.suffix
			met = map[bool]string{true: "yes", false: "NO"}[c.met(c.value)]
		}
		fmt.Fprintf(w, "%-68s %10s  %-7s %s\n", c.what, v, c.target, met)
	}

	fmt.Fprintln(w, "\nFor reference (no target; the first seven are the same ratios from the")
	fmt.Fprintln(w, "separate BenchmarkRedis and BenchmarkMemory runs, noisier on a shared machine):")
	info := []check{
		inverse(ratio(r, "redis: floodgate ÷ redis_rate throughput, c64, 100k keys", "ns/op",
			redis("floodgate", "c64", "100k"), redis("redis_rate", "c64", "100k"), "", nil)),
	}
	for _, keys := range []string{"1", "100k"} {
		info = append(info, ratio(r, "redis: floodgate ÷ evalsha-gcra ns/op, serial, keys="+keys, "ns/op",
			redis("floodgate", "serial", keys), redis("evalsha-gcra", "serial", keys), "", nil))
	}
	for _, shape := range []string{"serial", "parallel"} {
		for _, keys := range []string{"1", "100k"} {
			info = append(info, ratio(r, "memory: floodgate ÷ sethvargo ns/op, "+shape+", keys="+keys, "ns/op",
				memory("floodgate", shape, keys), memory("sethvargo", shape, keys), "", nil))
		}
	}
	info = append(info,
		ratio(r, "redis: floodgate-limiter ÷ floodgate ns/op, serial, 100k", "ns/op",
			redis("floodgate-limiter", "serial", "100k"), redis("floodgate", "serial", "100k"), "", nil),
		ratio(r, "redis: floodgate ÷ evalsha-return1 ns/op, serial, 100k", "ns/op",
			redis("floodgate", "serial", "100k"), redis("evalsha-return1", "serial", "100k"), "", nil),
		ratio(r, "memory: floodgate-limiter ÷ floodgate ns/op, serial, 100k", "ns/op",
			memory("floodgate-limiter", "serial", "100k"), memory("floodgate", "serial", "100k"), "", nil),
		value(r, "redis: floodgate B/key (used_memory)", "B/key", "BenchmarkRedisPerKey/contender=floodgate", "", nil),
		value(r, "redis: redis_rate B/key (used_memory)", "B/key", "BenchmarkRedisPerKey/contender=redis_rate", "", nil),
		value(r, "redis: ulule B/key (used_memory)", "B/key", "BenchmarkRedisPerKey/contender=ulule", "", nil),
	)
	for _, c := range info {
		v := "n/a"
		if c.ok {
			v = strconv.FormatFloat(c.value, 'f', 2, 64) + c.suffix
		}
		fmt.Fprintf(w, "%-68s %10s\n", c.what, v)
	}
}
