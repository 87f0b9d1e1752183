// Command demo shows floodgate at work without a Telegram token or a Redis
// server: it starts a local fake Bot API server (package telegramtest) for
// each of the five supported frameworks (telebot, telego, tgbotapi,
// go-telegram/bot, gotgbot), runs a small bot on each
// with floodgate's adapter in front of its handlers, floods it with a
// scripted mix of updates, and prints what got through, next to what the
// limit says should:
//
//	go run ./examples/demo
//
// The flood, the same for every bot:
//
//   - a spammer sends 30 messages;
//   - three ordinary users send 2 messages each;
//   - a user pages through a list: 6 presses of inline buttons, each for
//     another page;
//   - another user double-taps a button: the same button twice at once;
//   - an anonymous administrator of a supergroup sends 6 messages (counted
//     against the group, not the shared @GroupAnonymousBot account).
//
// The limit is 3 per minute per sender, unless FLOODGATE_LIMIT says
// otherwise; with a burst of 3, each sender gets 3 messages through and the
// rest are dropped. Button presses have a budget of their own, 20 per
// minute unless FLOODGATE_LIMIT_CALLBACK says otherwise, so the paging
// passes while the spammer's text is throttled; and a tap repeated within
// 2 s (FLOODGATE_DEBOUNCE) reaches the handler once. A throttled sender is
// told to slow down once (a message, or the answer to a button press), and
// every button press is answered, so no button keeps spinning.
//
// The store comes from the environment, as in every floodgate bot (see
// package store): memory by default, or Redis:
//
//	REDIS_URL=redis://localhost:6379/0 go run ./examples/demo
//
// Each bot gets its floodgate from one setup.Open call, as a real bot
// does, with keys under a prefix unique to the run and the framework, so
// runs against one Redis never share counts; they expire on their own.
// METRICS_ADDR is ignored (five bots cannot serve one address). The exit
// status is 1 when any number differs from the expected one.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/setup"
	"github.com/floodgate-go/floodgate/store"
	"github.com/floodgate-go/floodgate/telegramtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

const (
	// demoLimit is the limit the demo uses unless FLOODGATE_LIMIT is set.
	demoLimit = "3/m"
	// demoCallbackLimit is the button presses' own budget unless
	// FLOODGATE_LIMIT_CALLBACK is set.
	demoCallbackLimit = "20/m"
	// demoDebounce is the debounce window unless FLOODGATE_DEBOUNCE is set
	// ("off" turns it off).
	demoDebounce = "2s"
	// waitFor bounds how long the demo waits for a bot to handle its flood.
	waitFor = 10 * time.Second
	// grace is how long the demo keeps listening once the expected numbers
	// are reached, to catch calls that should not happen.
	grace = 300 * time.Millisecond
	// storeTimeout bounds each Redis call, unless FLOODGATE_TIMEOUT says
	// otherwise. The default (50 ms) suits a Redis with CPU of its own;
	// here a burst of 52 decisions at once shares a small machine with
	// Redis, the bots and the fake Telegram, and some would take longer.
	// Past the timeout a decision falls back to a local store (the local
	// failure policy), which knows nothing of the flood so far, and the
	// numbers would drift.
	storeTimeout = time.Second
	// demoPrefix starts the demo's keys unless FLOODGATE_PREFIX or
	// REDIS_KEY_PREFIX says otherwise.
	demoPrefix = "floodgate-demo"
	// noticePrefix starts guard.DefaultNoticeText, the "slow down" reply.
	noticePrefix = "Too many requests"
)

// errMismatch is returned by run when a number differs from the expected one.
var errMismatch = errors.New("some numbers differ from the expected ones (see above)")

// run runs the demo with the configuration lookup returns (os.LookupEnv in
// main). It writes the report to out and library warnings to logOut, and
// returns errMismatch when a number is not as expected.
func run(ctx context.Context, lookup func(string) (string, bool), out, logOut io.Writer) error {
	warnings := &countingHandler{n: new(atomic.Int64), Handler: slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn})}
	log := slog.New(warnings)
	isSet := func(name string) bool { v, ok := lookup(name); return ok && strings.TrimSpace(v) != "" }

	env := demoEnv(lookup)
	cfg, err := store.FromLookup(env) // what every bot's setup.Open reads, bar the prefix
	if err != nil {
		return err
	}
	limitNote := "the demo's own; set FLOODGATE_LIMIT to try another"
	if isSet("FLOODGATE_LIMIT") {
		limitNote = "from FLOODGATE_LIMIT"
	}
	// Each run and framework gets keys of its own under cfg.Prefix.
	runID := strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := core.ValidatePrefix(cfg.Prefix + ":" + runID + ":go-telegram"); err != nil { // the longest name
		return fmt.Errorf("FLOODGATE_PREFIX is too long for the demo's keys: %w", err)
	}

	gs, err := setup.GuardFromLookup(env) // the same for every bot
	if err != nil {
		return err
	}
	limit := cfg.Limit
	cbLimit := gs.Kinds.Callback
	if cbLimit == (core.Limit{}) {
		cbLimit = limit
	}
	want := expect(limit.Burst, cbLimit.Burst, gs.Debounce > 0)
	fmt.Fprintf(out, "floodgate demo: store %v\n", cfg)
	fmt.Fprintf(out, "limit %v (%s): each sender may send %d at once, then one more every %v\n",
		limit, limitNote, limit.Burst, limit.Interval())
	refills := isSet("FLOODGATE_LIMIT") && limit.Interval() < 30*time.Second
	if refills {
		fmt.Fprintf(out, "warning: this limit refills one update every %v, which may be less than the flood lasts;\n"+
			"         the expected numbers assume no refill, so more updates may pass than expected.\n",
			limit.Interval())
	}
	if cfg.Backend == store.BackendRedis {
		fmt.Fprintf(out, "keys: %s:%s:<framework>:{<sender>}:<rule>, unique to this run; they expire on their own\n",
			cfg.Prefix, runID)
		if !isSet("FLOODGATE_TIMEOUT") {
			fmt.Fprintf(out, "store timeout %v per call (FLOODGATE_TIMEOUT; the default, 50ms, can be too short for\n"+
				"              a burst of decisions on a machine that Redis shares with the bots)\n", storeTimeout)
		}
	}
	fmt.Fprintf(out, "button presses: %v per sender (FLOODGATE_LIMIT_CALLBACK)", cbLimit)
	if gs.Debounce > 0 {
		fmt.Fprintf(out, "; the same tap again within %v is dropped (FLOODGATE_DEBOUNCE)", gs.Debounce)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "flood per bot: %d messages from a spammer, %d from each of %d users, %d presses of a pager's buttons,\n"+
		"               a double tap on one button, %d messages from an anonymous admin of a supergroup: %d updates\n",
		spamMessages, userMessages, users, buttonPresses, adminMessages, want.sent)

	// One bot after the other, each against its own fake Bot API server:
	// at once, they would compete for the CPU with one another.
	var reports []report
	for _, fw := range frameworks {
		r, err := demo(ctx, fw, withPrefix(env, cfg.Prefix+":"+runID+":"+fw.name), want, log)
		if err != nil {
			return err
		}
		reports = append(reports, r)
		if err := ctx.Err(); err != nil {
			return err
		}
	}

	var problems []string
	noticeText := ""
	for _, r := range reports {
		fmt.Fprintln(out)
		problems = append(problems, r.print(out)...)
		if noticeText == "" {
			noticeText = r.noticeText
		}
	}
	fmt.Fprintln(out)
	if len(problems) > 0 {
		fmt.Fprintf(out, "✗ %d problem(s):\n", len(problems))
		for _, p := range problems {
			fmt.Fprintf(out, "  - %s\n", p)
		}
		if refills {
			fmt.Fprintf(out, "  (the limit refills every %v: see the warning at the top)\n", limit.Interval())
		}
		if n := warnings.count(); n > 0 {
			fmt.Fprintf(out, "  (floodgate or a framework logged %d warning(s) on stderr)\n", n)
		}
		return errMismatch
	}
	fmt.Fprintf(out, "✓ every number as expected on all %d frameworks: on each, %d of %d updates passed, %d were dropped,\n"+
		"  all %d button presses were answered, and %d notices went out.\n",
		len(frameworks), want.passed(), want.sent, want.sent-want.passed(), buttonPresses+doubleTaps, want.notices())
	if want.pages == buttonPresses && spamMessages > limit.Burst {
		fmt.Fprintf(out, "  The pager's %d presses all passed on their own budget while the spammer's text was cut to %d.\n",
			buttonPresses, limit.Burst)
	}
	if gs.Debounce > 0 {
		fmt.Fprintf(out, "  The double tap reached the handler once; both presses were answered.\n")
	}
	if userMessages <= limit.Burst {
		fmt.Fprintf(out, "  The %d ordinary users got every message through, flood or not.\n", users)
	}
	if noticeText != "" {
		fmt.Fprintf(out, "  The notice: %q\n", noticeText)
	}
	return nil
}

// demoEnv returns lookup with the demo's defaults for what it leaves unset
// (the limits, the debounce window, the key prefix, the store timeout), and
// without METRICS_ADDR.
func demoEnv(lookup func(string) (string, bool)) func(string) (string, bool) {
	set := func(name string) (string, bool) {
		v, ok := lookup(name)
		return v, ok && strings.TrimSpace(v) != ""
	}
	return func(name string) (string, bool) {
		if name == "METRICS_ADDR" {
			return "", false
		}
		if v, ok := set(name); ok {
			return v, true
		}
		switch name {
		case "FLOODGATE_LIMIT":
			return demoLimit, true // instead of store's default, 1/s
		case "FLOODGATE_LIMIT_CALLBACK":
			return demoCallbackLimit, true // instead of FLOODGATE_LIMIT's
		case "FLOODGATE_DEBOUNCE":
			return demoDebounce, true // instead of none
		case "FLOODGATE_TIMEOUT":
			return storeTimeout.String(), true
		case "FLOODGATE_PREFIX":
			if _, ok := set("REDIS_KEY_PREFIX"); !ok {
				return demoPrefix, true
			}
		}
		return "", false
	}
}

// withPrefix returns env with FLOODGATE_PREFIX set to prefix and
// REDIS_KEY_PREFIX unset (store refuses the two set apart).
func withPrefix(env func(string) (string, bool), prefix string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		switch name {
		case "FLOODGATE_PREFIX":
			return prefix, true
		case "REDIS_KEY_PREFIX":
			return "", false
		}
		return env(name)
	}
}

// The scripted flood. Every framework gets the same.
const (
	spamMessages  = 30
	users         = 3
	userMessages  = 2
	buttonPresses = 6 // the pager's, one per page
	doubleTaps    = 2 // the same button, twice at once
	adminMessages = 6

	spammerID    int64 = 1001
	firstUserID  int64 = 2001
	presserID    int64 = 3001
	tapperID     int64 = 3002
	supergroupID int64 = -1001234567890
	tapCallback        = "buy"
)

// counts are the numbers the report compares.
type counts struct {
	sent           int // updates that reached the bot
	passedMessages int // messages that reached the echo handler
	passedPresses  int // button presses that reached the callback handler
	pages          int // the pager's presses among them (expected counts only)
	answeredByBot  int // answerCallbackQuery "pong", by the handler
	answeredByGate int // other answerCallbackQuery, by the adapter
	noticeMessages int // sendMessage "Too many requests…"
	noticeAnswers  int // answerCallbackQuery "Too many requests…"
	echoes         int // other sendMessage, by the echo handler
	userEchoes     int // echoes to the ordinary users
}

func (c counts) passed() int  { return c.passedMessages + c.passedPresses }
func (c counts) notices() int { return c.noticeMessages + c.noticeAnswers }

// expect returns the counts limits with these bursts (messages', button
// presses') must give, assuming they do not refill during the flood: each
// sender's first burst updates pass, and a sender with more than that is
// told once. With debounce, the second tap of the double tap is dropped
// before any limit counts it, and no one is told.
func expect(burst, cbBurst int, debounce bool) counts {
	pass := func(n int) int { return min(n, burst) }
	told := func(n, burst int) int {
		if n > burst {
			return 1
		}
		return 0
	}
	taps := doubleTaps
	if debounce {
		taps = 1
	}
	presses := min(buttonPresses, cbBurst) + min(taps, cbBurst)
	return counts{
		sent:           spamMessages + users*userMessages + buttonPresses + doubleTaps + adminMessages,
		passedMessages: pass(spamMessages) + users*pass(userMessages) + pass(adminMessages),
		passedPresses:  presses,
		pages:          min(buttonPresses, cbBurst),
		answeredByBot:  presses,
		answeredByGate: buttonPresses + doubleTaps - presses,
		noticeMessages: told(spamMessages, burst) + users*told(userMessages, burst) + told(adminMessages, burst),
		noticeAnswers:  told(buttonPresses, cbBurst) + told(taps, cbBurst),
		echoes:         pass(spamMessages) + users*pass(userMessages) + pass(adminMessages),
		userEchoes:     users * pass(userMessages),
	}
}

// flood pushes the scripted updates to api, interleaved as they might
// arrive, and returns how many it pushed.
func flood(api *telegramtest.Server) int {
	// A double tap: one message, one button, two callback queries.
	tap := telegramtest.CallbackQuery(tapperID, tapperID, tapCallback)["callback_query"].(map[string]any)
	n := 0
	push := func(u map[string]any) { api.Push(u); n++ }
	for i := range max(spamMessages, userMessages, buttonPresses, adminMessages) {
		if i < spamMessages {
			push(telegramtest.Message(spammerID, spammerID, "private", fmt.Sprintf("spam %d", i+1)))
		}
		for u := range int64(users) {
			if i < userMessages {
				id := firstUserID + u
				push(telegramtest.Message(id, id, "private", fmt.Sprintf("hello %d", i+1)))
			}
		}
		if i < buttonPresses { // "next page" on page i+1, then on page i+2, ...
			push(telegramtest.CallbackQuery(presserID, presserID, fmt.Sprintf("page %d", i+2)))
		}
		if i < doubleTaps {
			q := maps.Clone(tap)
			q["id"] = fmt.Sprintf("%d-%d", tapperID, i+1)
			push(map[string]any{"callback_query": q})
		}
		if i < adminMessages {
			push(telegramtest.AnonymousAdminMessage(supergroupID, fmt.Sprintf("announcement %d", i+1)))
		}
	}
	return n
}

// tally is what a bot counts itself: updates that reached it, and those
// that reached a handler.
type tally struct {
	mu                              sync.Mutex
	seen, passedMessages, passedCbs int
}

func (t *tally) add(f *int) { t.mu.Lock(); *f++; t.mu.Unlock() }

func (t *tally) get() (seen, messages, callbacks int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen, t.passedMessages, t.passedCbs
}

// framework starts a bot on one framework against a Bot API server at
// apiURL, with g in front of its handlers (an echo for text and "pong" for
// button presses) and its sends paced by th. The bot counts into t. stop
// shuts it down and returns once it is down.
type framework struct {
	name, module string
	start        func(ctx context.Context, apiURL string, g *guard.Guard, th *outbound.Throttle, t *tally, log *slog.Logger) (stop func(), err error)
}

var frameworks = []framework{
	{"telebot", "gopkg.in/telebot.v3", startTelebot},
	{"telego", "github.com/mymmrac/telego", startTelego},
	{"tgbotapi", "github.com/go-telegram-bot-api/telegram-bot-api/v5", startTgbotapi},
	{"go-telegram", "github.com/go-telegram/bot", startGotelegram},
	{"gotgbot", "github.com/PaulSonOfLars/gotgbot/v2", startGotgbot},
}

// demoLanes are Telegram's outbound limits 100× faster: the demo's flood
// lasts about a second instead of minutes, and its fake server enforces
// nothing, so at Telegram's pace (1 message per second to a private chat)
// the replies to an unthrottled spammer would take half a minute. A real
// bot uses outbound.New's defaults.
var demoLanes = outbound.Limits{
	Global:  core.Window(30, 10*time.Millisecond),
	Private: core.Window(1, 10*time.Millisecond),
	Group:   core.Window(20, 600*time.Millisecond),
}

// report is one framework's result.
type report struct {
	fw         framework
	got, want  counts
	err        error  // the bot did not start, or similar
	waitErr    string // the expected numbers were not reached in time
	noticeText string // the first notice seen
	broadcast  string // the broadcast's summary, or its error
	bcastErr   bool
}

// demo opens floodgate for fw's bot from env (one setup.Open, as a real
// bot does), runs the bot against a fresh fake Bot API server, floods it,
// and counts what happened. It returns an error only when floodgate could
// not be set up (a Redis that does not answer, say); a bot that fails is
// in the report.
func demo(ctx context.Context, fw framework, env func(string) (string, bool), want counts, log *slog.Logger) (report, error) {
	r := report{fw: fw, want: want}
	openCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	fg, err := setup.Open(openCtx, setup.Options{Lookup: env, Logger: log,
		Outbound: []outbound.Option{outbound.WithLimits(demoLanes)}}) // the bot's replies keep the lanes
	cancel()
	if err != nil {
		return r, err
	}
	defer fg.Close()
	api, err := telegramtest.NewServer()
	if err != nil {
		r.err = err
		return r, nil
	}
	defer api.Close()
	var t tally
	botCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop, err := fw.start(botCtx, api.URL(), fg.Guard, fg.Throttle, &t, log)
	if err != nil {
		r.err = err
		return r, nil
	}
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			stop()
		}
	}()
	// Flood once the bot is polling.
	waitCtx, cancelWait := context.WithTimeout(ctx, waitFor)
	defer cancelWait()
	if _, err := api.WaitCalls(waitCtx, "getUpdates", 1); err != nil {
		r.err = fmt.Errorf("the bot did not poll for updates: %w", err)
		return r, nil
	}
	flood(api)

	// Wait for the expected numbers, then a little more for extra calls.
	reached := func() bool {
		seen, msgs, cbs := t.get()
		return seen >= want.sent && msgs >= want.passedMessages && cbs >= want.passedPresses &&
			len(api.CallsTo("answerCallbackQuery")) >= want.answeredByBot+want.answeredByGate &&
			len(api.CallsTo("sendMessage")) >= want.echoes+want.noticeMessages
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !reached() && waitCtx.Err() == nil {
		select {
		case <-tick.C:
		case <-waitCtx.Done():
		}
	}
	if !reached() {
		r.waitErr = fmt.Sprintf("%s: the expected numbers were not all reached within %v", fw.name, waitFor)
	} else {
		select {
		case <-time.After(grace):
		case <-ctx.Done():
		}
	}
	cancel()
	stop()
	stopped = true

	seen, msgs, cbs := t.get()
	r.got = counts{sent: seen, passedMessages: msgs, passedPresses: cbs}
	for _, c := range api.CallsTo("answerCallbackQuery") {
		switch text := c.Params["text"]; {
		case text == "pong":
			r.got.answeredByBot++
		case strings.HasPrefix(text, noticePrefix):
			r.got.noticeAnswers++
			r.got.answeredByGate++
		default:
			r.got.answeredByGate++
		}
	}
	for _, c := range api.CallsTo("sendMessage") {
		if text := c.Params["text"]; strings.HasPrefix(text, noticePrefix) {
			r.got.noticeMessages++
			if r.noticeText == "" {
				r.noticeText = text
			}
		} else {
			r.got.echoes++
			if id, _ := strconv.ParseInt(c.Params["chat_id"], 10, 64); id >= firstUserID && id < firstUserID+users {
				r.got.userEchoes++
			}
		}
	}
	r.broadcast, r.bcastErr = broadcast(ctx, fg.Throttle, api.URL())
	return r, nil
}

// broadcast sends an announcement to the bot's subscribers through the
// same throttle, as a bot's newsletter job would (docs/outbound.md,
// "Broadcasts"), and returns its summary.
func broadcast(ctx context.Context, th *outbound.Throttle, apiURL string) (string, bool) {
	subscribers := make([]int64, 20)
	for i := range subscribers {
		subscribers[i] = 5_000_000 + int64(i)
	}
	sum, err := th.Broadcast(ctx, outbound.Broadcast{
		Token: token, Server: apiURL, Chats: slices.Values(subscribers),
		Message: func(int64) (string, map[string]any) {
			return "sendMessage", map[string]any{"text": "floodgate demo: news for every subscriber"}
		},
	})
	if err != nil || sum.Sent != len(subscribers) {
		return fmt.Sprintf("%v (error: %v)", sum, err), true
	}
	return sum.String(), false
}

// print writes r's table to out and returns its problems.
func (r report) print(out io.Writer) []string {
	fmt.Fprintf(out, "%s (%s)\n", r.fw.name, r.fw.module)
	if r.err != nil {
		fmt.Fprintf(out, "  ✗ %v\n", r.err)
		return []string{r.fw.name + ": " + r.err.Error()}
	}
	var problems []string
	if r.waitErr != "" {
		problems = append(problems, r.waitErr)
	}
	row := func(label string, got, want []int, parts ...string) {
		sum := func(xs []int) (s int) {
			for _, x := range xs {
				s += x
			}
			return s
		}
		ok := true
		for i := range got {
			ok = ok && got[i] == want[i]
		}
		detail, gotText, wantText := "", strconv.Itoa(sum(got)), strconv.Itoa(sum(want))
		if len(parts) > 0 {
			var ds, gs, ws []string
			for i, p := range parts {
				ds = append(ds, fmt.Sprintf("%d %s", got[i], p))
				gs = append(gs, strconv.Itoa(got[i]))
				ws = append(ws, strconv.Itoa(want[i]))
			}
			detail = strings.Join(ds, " + ")
			gotText, wantText = strings.Join(gs, " + "), strings.Join(ws, " + ")
			if !ok {
				detail += " (expected " + wantText + ")"
			}
		}
		mark := "✓"
		if !ok {
			mark = "✗"
			problems = append(problems, fmt.Sprintf("%s: %s %s, expected %s", r.fw.name, label, gotText, wantText))
		}
		line := fmt.Sprintf("  %-28s %3d (expected %3d) %s  %s", label, sum(got), sum(want), mark, detail)
		fmt.Fprintln(out, strings.TrimRight(line, " "))
	}
	g, w := r.got, r.want
	row("updates sent", []int{g.sent}, []int{w.sent})
	row("passed (reached a handler)", []int{g.passedMessages, g.passedPresses}, []int{w.passedMessages, w.passedPresses},
		"messages echoed", "button presses")
	row("dropped by floodgate", []int{g.sent - g.passed()}, []int{w.sent - w.passed()})
	row("button presses answered", []int{g.answeredByBot, g.answeredByGate}, []int{w.answeredByBot, w.answeredByGate},
		`"pong" by the handler`, "by floodgate")
	row("notices sent", []int{g.noticeMessages, g.noticeAnswers}, []int{w.noticeMessages, w.noticeAnswers},
		"by sendMessage", "in a button answer")
	fmt.Fprintf(out, "  broadcast to 20 subscribers: %s\n", r.broadcast)
	if r.bcastErr {
		problems = append(problems, r.fw.name+": broadcast: "+r.broadcast)
	}
	if g.echoes != g.passedMessages {
		problems = append(problems, fmt.Sprintf("%s: %d messages reached the echo handler but %d other messages were sent",
			r.fw.name, g.passedMessages, g.echoes))
	}
	if g.userEchoes != w.userEchoes {
		problems = append(problems, fmt.Sprintf("%s: the ordinary users got %d echoes, expected %d",
			r.fw.name, g.userEchoes, w.userEchoes))
	}
	return problems
}

// countingHandler counts the records it lets through.
type countingHandler struct {
	slog.Handler
	n *atomic.Int64
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.n.Add(1)
	return h.Handler.Handle(ctx, r)
}

func (h *countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &countingHandler{Handler: h.Handler.WithAttrs(as), n: h.n}
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	return &countingHandler{Handler: h.Handler.WithGroup(name), n: h.n}
}

func (h *countingHandler) count() int64 { return h.n.Load() }
