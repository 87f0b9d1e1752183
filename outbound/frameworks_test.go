package outbound_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telegolimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/redisstore"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/mymmrac/telego"
	ta "github.com/mymmrac/telego/telegoapi"
	tu "github.com/mymmrac/telego/telegoutil"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"
	tele "gopkg.in/telebot.v3"
)

// sender is one bot instance of some framework: it sends a text message,
// or, with chat 0, calls getMe (not throttled).
type sender func(ctx context.Context, chat int64, text string) error

// framework builds a bot instance whose requests go through th.
type framework struct {
	name string
	bot  func(t testing.TB, api *testutil.BotAPI, th *outbound.Throttle) sender
}

// httpClient returns th's client over a transport of the test's own.
func httpClient(t testing.TB, th *outbound.Throttle) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return th.Client(&http.Client{Transport: tr, Timeout: 2 * time.Minute})
}

var frameworks = []framework{
	{"telebot", func(t testing.TB, api *testutil.BotAPI, th *outbound.Throttle) sender {
		b, err := tele.NewBot(tele.Settings{Token: token, URL: api.URL(), Offline: true,
			Client: httpClient(t, th)}) // the one line
		if err != nil {
			t.Fatal(err)
		}
		return func(_ context.Context, chat int64, text string) error {
			if chat == 0 {
				_, err := b.Raw("getMe", nil)
				return err
			}
			_, err := b.Send(tele.ChatID(chat), text)
			return err
		}
	}},
	{"telego-nethttp", func(t testing.TB, api *testutil.BotAPI, th *outbound.Throttle) sender {
		bot, err := telego.NewBot(token, telego.WithAPIServer(api.URL()), telego.WithDiscardLogger(),
			telego.WithHTTPClient(httpClient(t, th))) // the one line
		if err != nil {
			t.Fatal(err)
		}
		return telegoSender(bot)
	}},
	{"telego-fasthttp", func(t testing.TB, api *testutil.BotAPI, th *outbound.Throttle) sender {
		fc := &fasthttp.Client{}
		t.Cleanup(fc.CloseIdleConnections)
		bot, err := telego.NewBot(token, telego.WithAPIServer(api.URL()), telego.WithDiscardLogger(),
			telego.WithAPICaller(telegolimit.Caller(th, &ta.FastHTTPCaller{Client: fc}))) // the one line
		if err != nil {
			t.Fatal(err)
		}
		return telegoSender(bot)
	}},
	{"tgbotapi", func(t testing.TB, api *testutil.BotAPI, th *outbound.Throttle) sender {
		bot, err := tgbotapi.NewBotAPIWithClient(token, api.URL()+"/bot%s/%s", httpClient(t, th)) // the one line
		if err != nil {
			t.Fatal(err)
		}
		return func(_ context.Context, chat int64, text string) error {
			if chat == 0 {
				_, err := bot.GetMe()
				return err
			}
			_, err := bot.Send(tgbotapi.NewMessage(chat, text))
			return err
		}
	}},
}

// floodLimits are Telegram's limits as the fake enforces them in these
// tests. The tolerance stands for the delay between the throttle's
// admission (on Redis' clock) and the fake's reading of the request: a
// few milliseconds normally (DefaultFloodTolerance allows 50), but with
// the race detector on a two-CPU runner, twelve bot instances and four
// fake servers in one process, scheduling delays past 100 ms were
// measured, and 150 ms stalls when other packages' tests ran beside
// these, so 250 ms then. It forgives lateness, not speed: the tests
// also check that deliveries never beat the minimum the limits allow.
func floodLimits() testutil.FloodLimits {
	l := testutil.TelegramLimits()
	if raceOn {
		l.Tolerance = 250 * time.Millisecond
	}
	return l
}

var warmOnce sync.Once

// warmUp sends one message with each framework, before any timed test
// runs: telego's JSON library (sonic) compiles an encoder and a decoder per
// type on first use, which under the race detector stalls the process for
// seconds and would delay every request in flight, whatever the throttle
// does. Call it before t.Parallel, so it runs alone.
func warmUp(t *testing.T) {
	warmOnce.Do(func() {
		api := testutil.StartBotAPI(t)
		for _, fw := range frameworks {
			if err := fw.bot(t, api, newThrottle(t, nil, nil, nil))(context.Background(), 1, "warm-up"); err != nil {
				t.Fatalf("%s warm-up: %v", fw.name, err)
			}
		}
	})
}

// redisThrottle is one bot instance's throttle: its own Redis client (as
// another process would have) on the shared server.
func redisThrottle(t testing.TB, addr string, ev *events, opts ...outbound.Option) *outbound.Throttle {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64})
	t.Cleanup(func() { _ = client.Close() })
	// Wrapped as store.Open wraps Redis, with a generous timeout: the race
	// detector and three frameworks in parallel slow everything down; a
	// timed-out decision would fall back to this instance's memory and
	// pace it alone.
	st := resilient(t, redisstore.New(client), core.Resilience{Timeout: 2 * time.Second})
	opts = append([]outbound.Option{outbound.WithLogger(discard())}, opts...)
	if ev != nil {
		opts = append(opts, outbound.WithEvents(ev.add))
	}
	th, err := outbound.New(st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// minimum is the shortest time the limits allow for sending counts[lane]
// messages on each lane, from the first send to the last: a lane of N per
// P needs (ceil(m/N)-1)·P for m messages.
func minimum(limits outbound.Limits, total int, private, group map[int64]int) time.Duration {
	span := func(l core.Limit, m int) time.Duration {
		if m == 0 {
			return 0
		}
		return time.Duration(math.Ceil(float64(m)/float64(l.Rate))-1) * l.Period
	}
	worst := span(limits.Global, total)
	for _, m := range private {
		worst = max(worst, span(limits.Private, m))
	}
	for _, m := range group {
		worst = max(worst, span(limits.Group, m))
	}
	return worst
}

// broadcasters are the frameworks TestBroadcast runs (one net/http, one
// fasthttp); TestSharedPause runs the others, so every framework has one
// real-time end-to-end test and the package's tests stay under 10 s.
var broadcasters = []string{"telebot", "telego-fasthttp"}

// TestBroadcast: three instances of a bot, each with its own Throttle over
// one Redis, broadcast 72 messages to 24 chats (19 private, 5 groups;
// each instance sends one message to every chat) against a fake Bot API
// that enforces Telegram's limits, in real time. Every message must arrive
// exactly once, with no 429, within 1.15× the minimum the lanes allow.
// (The long version, 10 000 sends, is BenchmarkScale's.)
//
// Each instance sends like a broadcast job would: 3 workers take the
// chats in order, each instance starting a third of the list further on.
func TestBroadcast(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 2 s per framework")
	}
	warmUp(t)
	t.Parallel()
	const instances, perInstance, privates, workers = 3, 24, 19, 3
	chats := make([]int64, 0, perInstance)
	private, group := map[int64]int{}, map[int64]int{}
	for i := range perInstance {
		if i < privates {
			chats = append(chats, int64(1_000_001+i))
			private[chats[i]] = instances
		} else {
			chats = append(chats, -1_001_000_000_000-int64(i))
			group[chats[i]] = instances
		}
	}
	limits := outbound.DefaultLimits
	// Telegram's limits allow the broadcast in telegramTime at best; the
	// throttle keeps each period longer by its margin (WithMargin), so its
	// own schedule takes minTime.
	telegramTime := minimum(limits, instances*perInstance, private, group)
	for _, l := range []*core.Limit{&limits.Global, &limits.Private, &limits.Group} {
		l.Period += outbound.DefaultMargin
	}
	minTime := minimum(limits, instances*perInstance, private, group)

	for _, fw := range frameworks {
		if !slices.Contains(broadcasters, fw.name) {
			continue
		}
		t.Run(fw.name, func(t *testing.T) {
			// In parallel they take 10 s rather than 40; under the race
			// detector, four broadcasts at once on a small runner stall
			// one another past any honest tolerance, so one at a time.
			if !raceOn {
				t.Parallel()
			}
			fl := floodLimits()
			api := testutil.StartBotAPI(t, testutil.WithFloodLimits(fl))
			rd := testutil.StartRedis(t)
			senders := make([]sender, instances)
			for i := range senders {
				senders[i] = fw.bot(t, api, redisThrottle(t, rd.Addr, nil))
			}
			ctx := context.Background()
			var wg, ready sync.WaitGroup
			errs := make(chan error, instances*perInstance+instances*workers)
			begin := make(chan struct{})
			for k, send := range senders {
				queue := make(chan int64, perInstance)
				for i := range perInstance {
					queue <- chats[(i+k*perInstance/instances)%perInstance]
				}
				close(queue)
				for range workers {
					ready.Add(1)
					wg.Go(func() {
						// Each worker opens its connection with a getMe
						// first, so the clock times sending, not dialing.
						err := send(ctx, 0, "")
						ready.Done()
						if err != nil {
							errs <- err
							return
						}
						<-begin
						for chat := range queue {
							if err := send(ctx, chat, fmt.Sprintf("instance %d to %d", k, chat)); err != nil {
								errs <- fmt.Errorf("instance %d to %d: %v", k, chat, guard.Redact(err.Error(), token))
							}
						}
					})
				}
			}
			ready.Wait()
			start := time.Now()
			close(begin)
			wg.Wait()
			elapsed := time.Since(start)
			close(errs)
			for err := range errs {
				t.Error(err)
			}

			calls := api.CallsTo("sendMessage")
			limited, delivered := 0, map[string]int{}
			var first, last time.Time
			for _, c := range calls {
				if c.RateLimited {
					limited++
					if limited <= 5 {
						t.Logf("429 on %s at +%v", c.FloodLane, c.Time.Sub(start).Round(time.Millisecond))
					}
					continue
				}
				delivered[c.Params["chat_id"]+"|"+c.Params["text"]]++
				if first.IsZero() || c.Time.Before(first) {
					first = c.Time
				}
				if c.Time.After(last) {
					last = c.Time
				}
			}
			twice := 0
			for _, n := range delivered {
				if n != 1 {
					twice++
				}
			}
			ratio := float64(elapsed) / float64(minTime)
			t.Logf("%s broadcast: %d sends, %d 429s, %d distinct messages delivered (%d more than once), "+
				"took %v (first to last delivery %v), minimum the throttle's lanes allow %v, ratio %.3f",
				fw.name, len(calls), limited, len(delivered), twice, elapsed.Round(time.Millisecond),
				last.Sub(first).Round(time.Millisecond), minTime, ratio)
			// A few 429s are jitter: a process stalled on a busy machine
			// sends a slot late, next to the next window's. A throttle
			// that does not pace draws one for about every second send.
			if limited > len(calls)/20+1 {
				t.Errorf("%d of %d requests were answered 429", limited, len(calls))
			}
			if len(delivered) != instances*perInstance || twice != 0 {
				t.Errorf("%d distinct messages delivered, %d of them more than once; want %d, each once",
					len(delivered), twice, instances*perInstance)
			}
			// Generous: a loaded machine may be slow, but a throttle that
			// serializes instances or loses slots takes several times longer.
			if ratio > 2 {
				t.Errorf("took %v, more than twice the minimum %v", elapsed, minTime)
			}
			// The throttle cannot beat the limits: the fake's tolerance
			// forgives jitter, not a faster pace.
			if span := last.Sub(first); span < telegramTime-fl.Tolerance {
				t.Errorf("first to last delivery took %v, less than the minimum %v Telegram's limits allow", span, telegramTime)
			}
		})
	}
}

// TestBroadcastWithoutThrottle shows the fake's flood limits bite: the
// same kind of burst, unthrottled, is answered 429 many times.
func TestBroadcastWithoutThrottle(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t, testutil.WithFloodLimits(floodLimits()))
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() { _, _ = post(c, api, "sendMessage", msg(strconv.Itoa(1+i%20))) })
	}
	wg.Wait()
	limited := 0
	for _, call := range api.CallsTo("sendMessage") {
		if call.Flooded {
			limited++
		}
	}
	if limited < 30 {
		t.Fatalf("60 unthrottled sends at once got %d 429s, want at least 30", limited)
	}
}

// TestSharedPause, per framework (those TestBroadcast does not run): instance A's send is answered 429
// (retry_after 2); A pauses the chat through Redis and retries once,
// delivered once. Instance B, sending to the same chat during the pause,
// waits for it to end; B's send to another chat does not wait. A 502 is
// returned after one attempt.
func TestSharedPause(t *testing.T) {
	warmUp(t)
	t.Parallel()
	for _, fw := range frameworks {
		if slices.Contains(broadcasters, fw.name) {
			continue
		}
		t.Run(fw.name, func(t *testing.T) {
			t.Parallel()
			api := testutil.StartBotAPI(t, testutil.WithFloodLimits(floodLimits()))
			rd := testutil.StartRedis(t)
			evA, evB := newEvents(), newEvents()
			a := fw.bot(t, api, redisThrottle(t, rd.Addr, evA))
			b := fw.bot(t, api, redisThrottle(t, rd.Addr, evB))
			ctx := context.Background()
			const chat, other, broken = 3001, -1003002, 3003

			api.FailNext("sendMessage", 1, 2)
			aDone := make(chan error, 1)
			go func() { aDone <- a(ctx, chat, "from A") }()
			pause := evA.waitFor(t, outbound.Paused)
			if pause.Lane != "chat:"+strconv.Itoa(chat) || pause.Wait != 2*time.Second {
				t.Fatalf("A paused %q for %v, want chat:%d for 2s", pause.Lane, pause.Wait, chat)
			}
			pausedAt := api.CallsTo("sendMessage")[0].Time // when Telegram said 429

			t0 := time.Now()
			if err := b(ctx, other, "from B elsewhere"); err != nil {
				t.Fatal(err)
			}
			otherTook := time.Since(t0)
			if err := b(ctx, chat, "from B"); err != nil {
				t.Fatal(err)
			}
			if err := <-aDone; err != nil {
				t.Fatalf("A: %v", err)
			}

			var aCalls, bAt []time.Time
			aLimited := 0
			for _, c := range api.CallsTo("sendMessage") {
				switch {
				case c.Params["text"] == "from A" && c.RateLimited:
					aLimited++
				case c.Params["text"] == "from A":
					aCalls = append(aCalls, c.Time)
				case c.Params["text"] == "from B":
					bAt = append(bAt, c.Time)
				}
			}
			pauseEnd := pausedAt.Add(2 * time.Second)
			t.Logf("%s: A 429 then %d delivery after %v; B to the paused chat delivered %v after the 429 "+
				"(pause 2s); B to another chat took %v; A retried %d, B waited %d time(s)",
				fw.name, len(aCalls), firstOr(aCalls, pausedAt).Sub(pausedAt).Round(time.Millisecond),
				firstOr(bAt, pausedAt).Sub(pausedAt).Round(time.Millisecond), otherTook.Round(time.Millisecond),
				evA.count(outbound.Retried), evB.count(outbound.Waited))
			if aLimited != 1 || len(aCalls) != 1 || evA.count(outbound.Retried) != 1 {
				t.Errorf("A: %d 429s, %d deliveries, %d retries; want 1, 1, 1", aLimited, len(aCalls), evA.count(outbound.Retried))
			}
			if len(bAt) != 1 || bAt[0].Before(pauseEnd.Add(-floodLimits().Tolerance)) {
				t.Errorf("B's send to the paused chat arrived at %v, before the pause ended at %v", bAt, pauseEnd)
			}
			if evB.count(outbound.Waited) < 1 {
				t.Error("B never waited: the pause was not shared")
			}
			if otherTook > time.Second {
				t.Errorf("B's send to an unrelated chat took %v: it was frozen too", otherTook)
			}
			for _, c := range api.Calls() {
				if c.Flooded {
					t.Errorf("the fake's flood limits answered 429: %+v", c)
				}
			}

			// Not a 429: one attempt, the error reaches the bot.
			api.FailNextError("sendMessage", 1, 502, "Bad Gateway")
			if err := a(ctx, broken, "to a broken server"); err == nil {
				t.Error("a 502 was reported as success")
			}
			n := 0
			for _, c := range api.CallsTo("sendMessage") {
				if c.Params["chat_id"] == strconv.Itoa(broken) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("a 502 was sent %d times, want once", n)
			}
		})
	}
}

func firstOr(ts []time.Time, def time.Time) time.Time {
	if len(ts) == 0 {
		return def
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts[0]
}

// telegoSender sends with a telego bot, whatever its transport; chat 0
// asks getMe (a request the throttle does not pace).
func telegoSender(bot *telego.Bot) sender {
	return func(ctx context.Context, chat int64, text string) error {
		if chat == 0 {
			_, err := bot.GetMe(ctx)
			return err
		}
		_, err := bot.SendMessage(ctx, tu.Message(tu.ID(chat), text))
		return err
	}
}
