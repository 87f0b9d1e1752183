package redisstore_test

// The Redis store behind Redis Sentinel, through a failover: decisions must
// continue on the new master, and the test measures what a failover costs
// the limit: errors, time to recover, admissions lost, and admissions
// doubled because writes acknowledged by the old master never reached the
// new one. That is expected, not a bug: replication is asynchronous, and
// from the replica's promotion until the client hears of the switch
// (+switch-master) the client keeps writing to the old master, which stays
// a master (Sentinel demotes it seconds later) but no longer replicates to
// the promoted replica.

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

const (
	// Every user follows the same script: failoverRequests requests, one
	// per round, under failoverLimit (burst failoverBurst, nothing
	// replenishes within the test), so a user is admitted exactly
	// failoverBurst times when nothing goes wrong.
	failoverBurst    = 3
	failoverRequests = 10
	// failoverNewUsers users start their script every round.
	failoverNewUsers = 20
	// A round lasts at least failoverRound, so a user's script spans
	// failoverRequests × failoverRound = 200 ms.
	failoverRound = 20 * time.Millisecond
	// failoverWorkers goroutines share each round's requests.
	failoverWorkers = 8
	// failoverAfter successful decisions must follow the client's switch to
	// the new master.
	failoverAfter = 500
	// failoverRecovery bounds the time from SENTINEL FAILOVER to decisions
	// on the new master.
	failoverRecovery = 10 * time.Second
)

var failoverLimit = core.Limit{Rate: 1, Period: time.Hour, Burst: failoverBurst}

// userTally is what one user's script got.
type userTally struct{ sent, admitted, denied, errs int }

func TestSentinelFailover(t *testing.T) {
	redisstore.SkipShort(t, "starts a Sentinel and fails the master over")
	t.Parallel()
	s := testutil.StartSentinel(t)
	// The fail-fast settings store.Open uses (store.Config.RedisOptions).
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            s.MasterName(),
		SentinelAddrs:         []string{s.SentinelAddr()},
		DialTimeout:           500 * time.Millisecond,
		ReadTimeout:           250 * time.Millisecond,
		WriteTimeout:          250 * time.Millisecond,
		MaxRetries:            1,
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
		PoolSize:              failoverWorkers,
	})
	t.Cleanup(func() { _ = client.Close() })
	lim, err := core.New(redisstore.New(client), failoverLimit, core.WithPrefix("failover"))
	if err != nil {
		t.Fatal(err)
	}
	// The tally at the end reads the store with no deadline but the
	// client's: it checks what was recorded, not latency.
	audit := lim
	ctx := context.Background()
	newMasterPort := strconv.Itoa(s.Replica().Port)

	var (
		mu             sync.Mutex
		errTimes       []time.Time
		errKinds       = map[string]int{}
		okAfterSwitch  int
		failoverStart  time.Time
		failoverDone   time.Time
		failoverErr    error
		switchedAt     time.Time // when the client's commands first reached the new master
		failoverFinish = make(chan struct{})
	)
	tallies := make([]userTally, 0, 1<<16)

	// decide runs one request of user u and records the outcome.
	decide := func(u int) {
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		res, err := lim.Take(rctx, core.User(int64(1_000_000+u)), 1)
		cancel()
		mu.Lock()
		defer mu.Unlock()
		tally := &tallies[u]
		tally.sent++
		switch {
		case err != nil:
			tally.errs++
			errTimes = append(errTimes, time.Now())
			errKinds[errorKind(err)]++
		case res.Allowed:
			tally.admitted++
		default:
			tally.denied++
		}
		if err == nil && !switchedAt.IsZero() && start.After(switchedAt) {
			okAfterSwitch++
		}
	}

	// Rounds: round r runs request r-s of every user who started in round
	// s, for s in (r-failoverRequests, r]. Users start until the client has
	// switched to the new master and made failoverAfter decisions there;
	// then the last users finish their scripts.
	warmUp := 15 // rounds before the failover: every script runs in full on the old master
	lastStart := -1
	deadline := time.Now().Add(30 * time.Second)
	for r := 0; lastStart < 0 || r < lastStart+failoverRequests; r++ {
		if time.Now().After(deadline) {
			t.Fatalf("the flood did not finish within 30 s (round %d)", r)
		}
		roundStart := time.Now()
		if lastStart < 0 {
			for range failoverNewUsers {
				tallies = append(tallies, userTally{})
			}
		}
		first := max(0, r-failoverRequests+1) * failoverNewUsers
		last := len(tallies) // users of rounds ≤ r, minus those who finished
		if lastStart >= 0 {
			last = (lastStart + 1) * failoverNewUsers
		}
		var wg sync.WaitGroup
		for w := range failoverWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for u := first + w; u < last; u += failoverWorkers {
					decide(u)
				}
			}()
		}
		wg.Wait()

		if r == warmUp {
			failoverStart = time.Now()
			go func() {
				defer close(failoverFinish)
				fctx, cancel := context.WithTimeout(ctx, failoverRecovery)
				defer cancel()
				err := s.Failover(fctx)
				mu.Lock()
				failoverDone, failoverErr = time.Now(), err
				mu.Unlock()
				if err != nil {
					return
				}
				// Watch the client follow the Sentinel's +switch-master.
				for fctx.Err() == nil {
					info, err := client.Info(fctx, "server").Result()
					if err == nil && serverField(info, "tcp_port") == newMasterPort {
						mu.Lock()
						switchedAt = time.Now()
						mu.Unlock()
						return
					}
					time.Sleep(2 * time.Millisecond) // polling the client's view
				}
			}()
		}
		mu.Lock()
		done := okAfterSwitch >= failoverAfter && time.Since(switchedAt) > 2*failoverRequests*failoverRound
		failed := failoverErr != nil || (!failoverStart.IsZero() && time.Since(failoverStart) > failoverRecovery && switchedAt.IsZero())
		mu.Unlock()
		if failed {
			<-failoverFinish
			t.Fatalf("no recovery: failover error %v, client switched: %v, %d errors so far (%v)",
				failoverErr, !switchedAt.IsZero(), len(errTimes), errKinds)
		}
		if done && lastStart < 0 {
			lastStart = r
		}
		time.Sleep(failoverRound - time.Since(roundStart))
	}
	<-failoverFinish

	// Per user: what the limit allowed against what was admitted, and what
	// the new master remembers.
	users := len(tallies)
	var sent, admitted, denied, errs int
	var overUsers, overAdmissions, underUsers, underAdmissions, forgotUsers, forgotAdmissions int
	for u, tally := range tallies {
		if tally.sent != failoverRequests {
			t.Fatalf("user %d sent %d requests, want %d", u, tally.sent, failoverRequests)
		}
		sent += tally.sent
		admitted += tally.admitted
		denied += tally.denied
		errs += tally.errs
		if d := tally.admitted - failoverBurst; d > 0 {
			overUsers++
			overAdmissions += d
		} else if d < 0 {
			underUsers++
			underAdmissions -= d
		}
		res, err := audit.Peek(ctx, core.User(int64(1_000_000+u)))
		if err != nil {
			t.Fatalf("Peek user %d on the new master: %v", u, err)
		}
		// Peek answers as if for one more event: allowed with Remaining
		// left after it, or denied once the burst is spent.
		recorded := failoverBurst
		if res.Allowed {
			recorded = failoverBurst - 1 - res.Remaining
		}
		if recorded < tally.admitted {
			forgotUsers++
			forgotAdmissions += tally.admitted - recorded
		}
	}
	if sent != admitted+denied+errs || sent != users*failoverRequests {
		t.Fatalf("tallies do not add up: %d sent, %d admitted + %d denied + %d errors, %d users × %d",
			sent, admitted, denied, errs, users, failoverRequests)
	}

	mu.Lock()
	defer mu.Unlock()
	since := func(at time.Time) string { return at.Sub(failoverStart).Round(time.Millisecond).String() }
	t.Logf("%d users × %d requests under %v: %d admitted, %d denied, %d errors", users, failoverRequests,
		failoverLimit, admitted, denied, errs)
	t.Logf("SENTINEL FAILOVER → sentinel reports the new master after %s; the client reached it after %s",
		since(failoverDone), since(switchedAt))
	if len(errTimes) > 0 {
		sort.Slice(errTimes, func(i, j int) bool { return errTimes[i].Before(errTimes[j]) })
		t.Logf("errors during the failover: %d, from %s to %s after it began; kinds: %v",
			len(errTimes), since(errTimes[0]), since(errTimes[len(errTimes)-1]), errKinds)
	} else {
		t.Logf("errors during the failover: 0")
	}
	recovered := switchedAt
	if n := len(errTimes); n > 0 && errTimes[n-1].After(recovered) {
		recovered = errTimes[n-1]
	}
	t.Logf("time to recover (decisions succeed on the new master, no more errors): %s; %d decisions succeeded after the switch",
		since(recovered), okAfterSwitch)
	t.Logf("over-admitted (doubled): %d users, %d admissions beyond the burst of %d", overUsers, overAdmissions, failoverBurst)
	t.Logf("lost (admitted fewer than the burst although every user sent %d requests): %d users, %d admissions",
		failoverRequests, underUsers, underAdmissions)
	t.Logf("admissions the new master does not remember (written to the old master after the promotion): %d users, %d admissions",
		forgotUsers, forgotAdmissions)

	if recovered.Sub(failoverStart) > failoverRecovery {
		t.Errorf("recovery took %s, want ≤ %v", since(recovered), failoverRecovery)
	}
	if okAfterSwitch < failoverAfter {
		t.Errorf("%d successful decisions after the switch, want ≥ %d", okAfterSwitch, failoverAfter)
	}
	// Replication is asynchronous: doubles are possible and only reported.
	// But an over-admission must come from a forgotten write.
	if overAdmissions > forgotAdmissions {
		t.Errorf("%d over-admissions but only %d forgotten admissions: something other than lost writes admitted too much",
			overAdmissions, forgotAdmissions)
	}
}

// errorKind shortens an error to its kind, for the report.
func errorKind(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "redisstore: eval: ")
	if i := strings.IndexAny(msg, "0123456789"); i > 0 && strings.Contains(msg, "127.0.0.1") {
		msg = msg[:i] // drop addresses
	}
	if len(msg) > 60 {
		msg = msg[:60]
	}
	return fmt.Sprintf("%q", msg)
}

// serverField returns the value of name in INFO text.
func serverField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
