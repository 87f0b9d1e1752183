package storetest

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// steps is how many calls a random case makes.
func steps() int {
	if testing.Short() {
		return 150
	}
	return 600
}

// randomCases drive a store through long seeded sequences of every call,
// each checked against package decide by the model (see checked). The
// seeds are fixed: a failure repeats on every run, at the same step.
var randomCases = []suiteCase{
	{
		name: "GCRARandomMatchesDecide",
		why: "every store must give the Result package decide computes, step by step, for any history of " +
			"costs, limits, peeks, blocks, resets and clock moves, or two stores would disagree about a user",
		run: func(t *testing.T, s *suiteRun) {
			rng := rand.New(rand.NewPCG(1, 2))
			// Intervals of 4s or more (times are scaled by slow): a store
			// whose TTLs run on a real clock (Redis) must not forget a key
			// while the case's frozen clock stands still, however slowly a
			// busy machine runs the steps.
			limits := []core.Limit{
				{Rate: 5, Period: slow * time.Second, Burst: 5},
				core.PerMinute(3).WithBurst(5),
				{Rate: 3, Period: slow * time.Second, Burst: 1}, // interval 6666667µs
				{Rate: 2, Period: slow * time.Second, Burst: 4},
			}
			keys := []string{s.key("r0"), s.key("r1"), s.key("r2")}
			for range steps() {
				k := keys[rng.IntN(len(keys))]
				l := limits[rng.IntN(len(limits))] // a key's Limit changes too
				switch op := rng.IntN(100); {
				case op < 55:
					s.take(t, k, l, 1+rng.IntN(l.Burst))
				case op < 70:
					s.peek(t, k, l)
				case op < 75:
					s.block(t, k, l, randomDuration(rng, slow*3*time.Second))
				case op < 78:
					s.reset(t, k)
				default:
					s.clock.Advance(randomDuration(rng, slow*1500*time.Millisecond))
				}
			}
		},
	},
	{
		name: "WindowRandomMatchesDecide",
		why: "sliding windows and lanes must give the Result package decide computes, step by step, for any " +
			"history of takes, multi-lane takes, peeks, blocks, resets and clock moves",
		run: func(t *testing.T, s *suiteRun) {
			rng := rand.New(rand.NewPCG(3, 4))
			lanes := []core.Lane{
				{Key: s.laneKey("global"), Limit: core.Window(5, slow*700*time.Millisecond)},
				{Key: s.laneKey("chat:a"), Limit: core.Window(3, slow*time.Second)},
				{Key: s.laneKey("chat:b"), Limit: core.Window(2, slow*500*time.Millisecond)},
			}
			for range steps() {
				ln := lanes[rng.IntN(len(lanes))]
				switch op := rng.IntN(100); {
				case op < 35:
					s.take(t, ln.Key, ln.Limit, 1+rng.IntN(ln.Limit.Rate))
				case op < 60:
					set := rng.Perm(len(lanes))[:2+rng.IntN(len(lanes)-1)]
					all := make([]core.Lane, len(set))
					minRate := lanes[set[0]].Limit.Rate // every lane's Rate bounds the cost
					for i, j := range set {
						all[i] = lanes[j]
						minRate = min(minRate, lanes[j].Limit.Rate)
					}
					s.takeAll(t, 1+rng.IntN(minRate), all...)
				case op < 70:
					s.peek(t, ln.Key, ln.Limit)
				case op < 75:
					s.block(t, ln.Key, ln.Limit, randomDuration(rng, slow*2*time.Second))
				case op < 78:
					s.reset(t, ln.Key)
				default:
					s.clock.Advance(randomDuration(rng, slow*600*time.Millisecond))
				}
			}
		},
	},
}

// slow scales the random cases' times. A real-clock store (Redis) counts
// its TTLs in real time while a case's clock moves only when told; with
// times in seconds a key outlives any pause of a busy machine between
// two steps, where with milliseconds it expired and read as fresh.
const slow = 20

// randomDuration returns a duration in (0, upTo]: whole milliseconds
// mostly, odd microseconds sometimes, to hit the edges of intervals.
func randomDuration(rng *rand.Rand, upTo time.Duration) time.Duration {
	if rng.IntN(4) == 0 {
		return time.Duration(1+rng.Int64N(upTo.Microseconds())) * time.Microsecond
	}
	return time.Duration(1+rng.Int64N(upTo.Milliseconds())) * time.Millisecond
}
