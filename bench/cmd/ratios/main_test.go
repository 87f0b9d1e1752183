package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkRedis/contender=floodgate/shape=c64/keys=100k-2   	  1000	  10000 ns/op	 300000 decisions/s	 500 B/op	 6 allocs/op
BenchmarkRedis/contender=floodgate/shape=c64/keys=100k-2   	  1000	  30000 ns/op	 100000 decisions/s	 500 B/op	 6 allocs/op
BenchmarkRedis/contender=floodgate/shape=c64/keys=100k-2   	  1000	  20000 ns/op	 200000 decisions/s	 500 B/op	 6 allocs/op
BenchmarkRedis/contender=redis_rate/shape=c64/keys=100k-2  	  1000	  40000 ns/op	 50000 decisions/s	 900 B/op	 20 allocs/op
BenchmarkPaired/pair=redis-floodgate-vs-evalsha-gcra/shape=serial/keys=100k-2	1000	 90000 ns/op	 40000 floodgate-ns/op	 50000 other-ns/op	 0.8 ratio	 1000 B/op	 27 allocs/op
BenchmarkPaired/pair=redis-floodgate-vs-redis_rate/shape=c64/keys=100k-2	10	 90000 ns/op	 40000 floodgate-ns/op	 50000 other-ns/op	 0.25 ratio	 1000 B/op	 27 allocs/op
BenchmarkMemoryPerKey/contender=floodgate-2	1	2796089794 ns/op	 148.6 B/key	249097536 B/op	 2008218 allocs/op
--- FAIL: BenchmarkOther
PASS
`

func TestParseAndReport(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := r.median("BenchmarkRedis/contender=floodgate/shape=c64/keys=100k", "decisions/s"); m != 200000 {
		t.Errorf("median decisions/s = %v, want 200000", m)
	}
	if m, _ := r.median("BenchmarkMemoryPerKey/contender=floodgate", "B/key"); m != 148.6 {
		t.Errorf("B/key = %v, want 148.6", m)
	}
	var out strings.Builder
	report(&out, r)
	got := strings.Join(strings.Fields(out.String()), " ") // spacing aside
	for _, want := range []string{
		"redis: floodgate ÷ redis_rate throughput, c64, 100k keys (paired) 4.00× ≥ 3× yes",
		"redis: floodgate ÷ redis_rate throughput, c64, 100k keys 2.00×", // ns/op 20000 vs 40000
		"memory: floodgate B/key (1M idle keys) 148.60 ≤ 120 NO",
		"redis: floodgate ÷ evalsha-gcra ns/op, serial, keys=1 (paired) n/a ≤ 1.1× n/a",
		"redis: floodgate ÷ evalsha-gcra ns/op, serial, keys=100k (paired) 0.80× ≤ 1.1× yes",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
