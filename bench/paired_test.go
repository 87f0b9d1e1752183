package bench

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkPaired measures the pairs behind issue 6's targets in alternating
// slices: a slice of decisions by floodgate, then the same number by the
// other contender (the order flips every iteration), over and over. Both
// see the machine's load at nearly the same moments, so on a shared machine
// their ratio is far steadier than one taken from two separate benchmarks
// minutes apart. Each reports floodgate-ns/op and other-ns/op (wall time
// per decision, all callers together) and ratio = floodgate ÷ other: below
// 1, floodgate is faster; for throughput, read 1/ratio.
func BenchmarkPaired(b *testing.B) {
	addr := redisAddr(b)
	redisBy := map[string]redisContender{}
	for _, c := range redisContenders(b) {
		redisBy[c.name] = c
	}
	memoryBy := map[string]memoryContender{}
	for _, c := range memoryContenders() {
		memoryBy[c.name] = c
	}
	shapeBy := map[string]shape{}
	for _, sh := range shapes() {
		shapeBy[sh.name] = sh
	}
	type pair struct {
		other string
		redis bool
		shape string
		n     int
		slice int // decisions per slice
	}
	pairs := []pair{
		{"evalsha-gcra", true, "serial", hotKeys, 100},
		{"evalsha-gcra", true, "serial", manyKeys, 100},
		{"redis_rate", true, "c64", manyKeys, 1024},
		{"sethvargo", false, "serial", hotKeys, 20_000},
		{"sethvargo", false, "serial", manyKeys, 20_000},
		{"sethvargo", false, "parallel", hotKeys, 20_000},
		{"sethvargo", false, "parallel", manyKeys, 20_000},
	}
	for _, p := range pairs {
		var fg, other decideFunc
		release := func() {}
		kind := "memory"
		if p.redis {
			kind = "redis"
			fg = redisBy["floodgate"].build(b, newClient(b, addr, 0), p.n)
			other = redisBy[p.other].build(b, newClient(b, addr, 0), p.n)
		} else {
			var r1, r2 func()
			fg, r1 = memoryBy["floodgate"].build(b, p.n)
			other, r2 = memoryBy[p.other].build(b, p.n)
			release = func() { r1(); r2() }
		}
		// Before timing: in memory every key exists (as in BenchmarkMemory);
		// on Redis the pools are dialled (keys there expire within a second
		// or so under this limit, so creating them first would not last).
		warm := p.n
		if p.redis {
			warm = min(p.n, 2*callers)
		}
		for _, d := range []decideFunc{fg, other} {
			for i := range warm {
				if ok, err := d(i); err != nil || !ok {
					b.Fatalf("warm-up decision %d: allowed=%v err=%v", i, ok, err)
				}
			}
		}
		sh := shapeBy[p.shape]
		name := fmt.Sprintf("pair=%s-floodgate-vs-%s/shape=%s/keys=%s", kind, p.other, p.shape, keysName(p.n))
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			a, o := newSlicer(fg, p.n, sh), newSlicer(other, p.n, sh)
			var fgTime, otherTime time.Duration
			var decisions int
			for i := 0; b.Loop(); i++ {
				first, second, t1, t2 := a, o, &fgTime, &otherTime
				if i%2 == 1 {
					first, second, t1, t2 = o, a, &otherTime, &fgTime
				}
				for _, s := range []struct {
					sl *slicer
					t  *time.Duration
				}{{first, t1}, {second, t2}} {
					d, made, err := s.sl.run(p.slice)
					if err != nil {
						b.Fatal(err)
					}
					*s.t += d
					decisions += made
				}
			}
			each := float64(decisions) / 2 // as many by each contender
			b.ReportMetric(float64(fgTime)/each, "floodgate-ns/op")
			b.ReportMetric(float64(otherTime)/each, "other-ns/op")
			b.ReportMetric(float64(fgTime)/float64(otherTime), "ratio")
		})
		release()
	}
}

// slicer runs slices of decisions of one contender in a shape, each of its
// callers walking the keys round-robin where its previous slice stopped.
type slicer struct {
	decide decideFunc
	n      int
	next   []int // per caller: the next key index
}

func newSlicer(d decideFunc, n int, sh shape) *slicer {
	s := &slicer{decide: d, n: n, next: make([]int, sh.callers())}
	for w := range s.next {
		s.next[w] = (w * 7919) % n
	}
	return s
}

// run makes about total decisions (a multiple of the callers, at least one
// each) and returns the wall time they took and how many it made; every
// one must be admitted.
func (s *slicer) run(total int) (time.Duration, int, error) {
	per := max(1, total/len(s.next))
	made := per * len(s.next)
	walk := func(w int) error {
		i := s.next[w]
		for range per {
			ok, err := s.decide(i)
			if err == nil && !ok {
				err = fmt.Errorf("decision on key %d denied", i)
			}
			if err != nil {
				return err
			}
			if i++; i == s.n {
				i = 0
			}
		}
		s.next[w] = i
		return nil
	}
	start := time.Now()
	if len(s.next) == 1 {
		err := walk(0)
		return time.Since(start), made, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(s.next))
	for w := range s.next {
		wg.Go(func() { errs[w] = walk(w) })
	}
	wg.Wait()
	d := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return d, made, err
		}
	}
	return d, made, nil
}
