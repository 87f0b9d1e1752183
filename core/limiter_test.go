package core_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
)

// mapStore is a small correct GCRA Store: a map of TATs behind a mutex,
// deciding with decide.GCRA on a clock the test moves by hand. It counts the
// calls it receives so tests can check what the Limiter sends and what it
// keeps away from the store. It is not a model of Redis.
type mapStore struct {
	mu   sync.Mutex
	now  int64 // microseconds
	tats map[string]int64
	err  error // returned by every call when set

	takes, peeks, resets, blocks atomic.Int64
	lastKey                      atomic.Value // string
}

var _ core.Store = (*mapStore)(nil)

// epoch is an arbitrary fixed instant in microseconds (November 2023).
const epoch int64 = 1_700_000_000_000_000

func newMapStore() *mapStore { return &mapStore{now: epoch, tats: map[string]int64{}} }

func (s *mapStore) advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now += d.Microseconds()
}

func (s *mapStore) calls() int64 { return s.takes.Load() + s.peeks.Load() + s.resets.Load() }

func (s *mapStore) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	s.takes.Add(1)
	s.lastKey.Store(key)
	if s.err != nil {
		return core.Result{}, s.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res, tat := decide.GCRA(l, s.tats[key], s.now, n)
	if res.Allowed {
		s.tats[key] = tat
	}
	return res, nil
}

func (s *mapStore) Peek(ctx context.Context, key string, l core.Limit) (core.Result, error) {
	s.peeks.Add(1)
	s.lastKey.Store(key)
	if s.err != nil {
		return core.Result{}, s.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res, _ := decide.GCRA(l, s.tats[key], s.now, 1)
	return res, nil
}

func (s *mapStore) Reset(ctx context.Context, key string) error {
	s.resets.Add(1)
	s.lastKey.Store(key)
	if s.err != nil {
		return s.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tats, key)
	return nil
}

func (s *mapStore) Block(ctx context.Context, key string, l core.Limit, d time.Duration) error {
	s.blocks.Add(1)
	s.lastKey.Store(key)
	if s.err != nil {
		return s.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tats[key] = decide.BlockGCRA(l, s.tats[key], s.now, d)
	return nil
}

// TakeAll is not used by the Limiter; mapStore keeps no windows.
func (s *mapStore) TakeAll(context.Context, []core.Lane, int) (core.Result, error) {
	return core.Result{}, errors.New("mapStore: no lanes")
}

// Reserve is not used by the Limiter; mapStore keeps no windows.
func (s *mapStore) Reserve(context.Context, []core.Lane, int, time.Duration, time.Duration) (core.Result, error) {
	return core.Result{}, errors.New("mapStore: no lanes")
}

// clock returns the store's clock as a time, for a Resilient's deny cache.
func (s *mapStore) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.UnixMicro(s.now)
}

func mustNew(t *testing.T, st core.Store, l core.Limit, opts ...core.Option) *core.Limiter {
	t.Helper()
	lim, err := core.New(st, l, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return lim
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	t.Cleanup(func() { // after the parallel subtests
		if st.calls() != 0 {
			t.Errorf("New called the store %d times; it must do no I/O", st.calls())
		}
	})
	tests := []struct {
		name    string
		store   core.Store
		limit   core.Limit
		opts    []core.Option
		wantErr error
		mention string
	}{
		{"nil store", nil, core.PerSecond(1), nil, core.ErrInvalidOption, "store"},
		{"zero limit", st, core.Limit{}, nil, core.ErrInvalidLimit, "Rate"},
		{"period under 1ms", st, core.Every(time.Microsecond), nil, core.ErrInvalidLimit, "Period"},
		{"burst 0", st, core.PerSecond(5).WithBurst(0), nil, core.ErrInvalidLimit, "Burst"},
		{"empty prefix", st, core.PerSecond(1), []core.Option{core.WithPrefix("")}, core.ErrInvalidOption, "prefix"},
		{"prefix with space", st, core.PerSecond(1), []core.Option{core.WithPrefix("my bot")}, core.ErrInvalidOption, "prefix"},
		{"prefix with tab", st, core.PerSecond(1), []core.Option{core.WithPrefix("my\tbot")}, core.ErrInvalidOption, "prefix"},
		{"prefix with {", st, core.PerSecond(1), []core.Option{core.WithPrefix("bot{1")}, core.ErrInvalidOption, "prefix"},
		{"prefix with }", st, core.PerSecond(1), []core.Option{core.WithPrefix("bot}1")}, core.ErrInvalidOption, "prefix"},
		{"prefix non-ASCII", st, core.PerSecond(1), []core.Option{core.WithPrefix("бот")}, core.ErrInvalidOption, "prefix"},
		{"prefix with DEL", st, core.PerSecond(1), []core.Option{core.WithPrefix("bot\x7f")}, core.ErrInvalidOption, "prefix"},
		{"prefix too long", st, core.PerSecond(1), []core.Option{core.WithPrefix(strings.Repeat("p", 129))}, core.ErrInvalidOption, "prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lim, err := core.New(tt.store, tt.limit, tt.opts...)
			if err == nil {
				t.Fatalf("New = %v, nil; want an error wrapping %v", lim, tt.wantErr)
			}
			if lim != nil {
				t.Errorf("New returned a Limiter with its error")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("New error %v does not wrap %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("New error %q does not mention %q", err, tt.mention)
			}
		})
	}
}

func TestRuleRejects(t *testing.T) {
	t.Parallel()
	lim := mustNew(t, newMapStore(), core.PerSecond(1))
	for _, name := range []string{"", "my rule", "a:b", "{x}", "/start", "правило", strings.Repeat("r", 65)} {
		r, err := lim.Rule(name, core.PerSecond(1))
		if !errors.Is(err, core.ErrInvalidOption) || !strings.Contains(err.Error(), "rule") || r != nil {
			t.Errorf("Rule(%q) = %v, %v; want an error wrapping ErrInvalidOption that names the rule", name, r, err)
		}
	}
	if _, err := lim.Rule("ok", core.Limit{}); !errors.Is(err, core.ErrInvalidLimit) {
		t.Errorf("Rule with a zero limit: %v, want ErrInvalidLimit", err)
	}
}

func TestNewAccepts(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	for _, opts := range [][]core.Option{
		nil,
		{core.WithPrefix("booking_bot:client1")},
		{core.WithPrefix(strings.Repeat("p", 128))},
		{core.WithPrefix("!#$%&'()*+,-./:;<=>?@[\\]^_`|~")},
		{core.WithShadow(true), core.WithObserver(&recorder{})},
	} {
		lim, err := core.New(st, core.PerSecond(1), opts...)
		if err != nil || lim == nil {
			t.Errorf("New with %d options: %v", len(opts), err)
		}
	}
	lim := mustNew(t, st, core.PerMinute(20))
	for _, name := range []string{"cmd.start", "Report_v2-b", strings.Repeat("r", 64)} {
		if _, err := lim.Rule(name, core.PerSecond(1)); err != nil {
			t.Errorf("Rule(%q): %v", name, err)
		}
	}
	if lim.Limit() != core.PerMinute(20) || lim.Key(core.User(1)) != "floodgate:{u:1}:msg" {
		t.Errorf("defaults: limit %v, key %q; want prefix floodgate and rule msg", lim.Limit(), lim.Key(core.User(1)))
	}
	if st.calls() != 0 {
		t.Errorf("New called the store %d times; it must do no I/O", st.calls())
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	def := mustNew(t, st, core.PerSecond(1))
	rule := func(prefix, name string, l core.Limit) *core.Limiter {
		t.Helper()
		r, err := mustNew(t, st, core.PerSecond(1), core.WithPrefix(prefix)).Rule(name, l)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	long := rule(strings.Repeat("p", 128), strings.Repeat("r", 64), core.PerSecond(1))
	tenant := rule("booking_bot:client1", "report", core.PerSecond(1))
	window := rule("floodgate", "msg", core.Window(20, time.Minute))
	const minS, maxS = "-9223372036854775808", "9223372036854775807"
	tests := []struct {
		lim   *core.Limiter
		scope core.Scope
		want  string
	}{
		{def, core.User(123456789), "floodgate:{u:123456789}:msg"},
		{def, core.User(0), "floodgate:{u:0}:msg"},
		{def, core.User(-1001234567890), "floodgate:{u:-1001234567890}:msg"}, // a sender chat
		{def, core.User(math.MaxInt64), "floodgate:{u:" + maxS + "}:msg"},
		{def, core.User(math.MinInt64), "floodgate:{u:" + minS + "}:msg"},
		{def, core.Chat(-1001234567890), "floodgate:{c:-1001234567890}:msg"},
		{def, core.Chat(-42), "floodgate:{c:-42}:msg"},
		{def, core.Chat(777), "floodgate:{c:777}:msg"},
		{def, core.Chat(math.MinInt64), "floodgate:{c:" + minS + "}:msg"},
		{def, core.Chat(math.MaxInt64), "floodgate:{c:" + maxS + "}:msg"},
		{def, core.UserInChat(42, -100123), "floodgate:{uc:42:-100123}:msg"},
		{def, core.UserInChat(math.MinInt64, math.MaxInt64), "floodgate:{uc:" + minS + ":" + maxS + "}:msg"},
		{def, core.UserInChat(math.MaxInt64, math.MinInt64), "floodgate:{uc:" + maxS + ":" + minS + "}:msg"},
		{def, core.Global(), "floodgate:{g}:msg"},
		{def, core.Scope{}, "floodgate:{g}:msg"},
		{tenant, core.User(123456789), "booking_bot:client1:{u:123456789}:report"},
		{tenant, core.Global(), "booking_bot:client1:{g}:report"},
		// A sliding window never shares a key with GCRA state.
		{window, core.User(123456789), "floodgate:{u:123456789}:msg:win"},
		{long, core.UserInChat(math.MinInt64, math.MinInt64),
			strings.Repeat("p", 128) + ":{uc:" + minS + ":" + minS + "}:" + strings.Repeat("r", 64)},
	}
	for _, tt := range tests {
		got := tt.lim.Key(tt.scope)
		if got != tt.want {
			t.Errorf("Key(%v) = %q, want %q", tt.scope, got, tt.want)
		}
		// The hash tag is exactly the scope: one {, one }, around Scope.String.
		if strings.Count(got, "{") != 1 || strings.Count(got, "}") != 1 {
			t.Errorf("Key(%v) = %q: want exactly one hash tag", tt.scope, got)
		}
		if open, end := strings.IndexByte(got, '{'), strings.IndexByte(got, '}'); got[open+1:end] != tt.scope.String() {
			t.Errorf("Key(%v) = %q: hash tag %q differs from Scope.String %q", tt.scope, got, got[open+1:end], tt.scope.String())
		}
	}
	// Different scopes never share a key.
	seen := map[string]core.Scope{}
	for _, s := range []core.Scope{core.User(1), core.Chat(1), core.UserInChat(1, 1), core.Global(), core.User(-1), core.Chat(-1), core.UserInChat(1, -1), core.UserInChat(-1, 1)} {
		k := def.Key(s)
		if prev, ok := seen[k]; ok {
			t.Errorf("scopes %#v and %#v share the key %q", prev, s, k)
		}
		seen[k] = s
	}
	if st.calls() != 0 {
		t.Errorf("Key called the store")
	}
}

func TestTakeUsesKeyAndLimit(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	lim := mustNew(t, st, core.PerMinute(3))
	ctx := t.Context()
	res, err := lim.Take(ctx, core.User(42), 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := (core.Result{Allowed: true, Remaining: 2, ResetAfter: 20 * time.Second, Limit: core.PerMinute(3)}); res != want {
		t.Errorf("Allow = %+v, want %+v", res, want)
	}
	if k := st.lastKey.Load(); k != "floodgate:{u:42}:msg" {
		t.Errorf("Allow used key %v, want floodgate:{u:42}:msg", k)
	}
	if _, err := lim.Take(ctx, core.User(43), 2); err != nil {
		t.Fatal(err)
	}
	if k := st.lastKey.Load(); k != "floodgate:{u:43}:msg" {
		t.Errorf("AllowN used key %v", k)
	}
	if _, err := lim.Take(ctx, core.UserInChat(42, -100123), 3); err != nil {
		t.Fatal(err)
	}
	if k := st.lastKey.Load(); k != "floodgate:{uc:42:-100123}:msg" {
		t.Errorf("Take used key %v", k)
	}
	// User 42 has two left, user 43 one, the user-in-chat scope none.
	for _, c := range []struct {
		s    core.Scope
		want int
	}{{core.User(42), 2}, {core.User(43), 1}, {core.UserInChat(42, -100123), 0}} {
		res, err := lim.Peek(ctx, c.s)
		if err != nil {
			t.Fatal(err)
		}
		if c.want == 0 && res.Allowed {
			t.Errorf("Peek(%v) allowed an exhausted scope", c.s)
		}
		if c.want > 0 && res.Remaining != c.want-1 {
			t.Errorf("Peek(%v).Remaining = %d, want %d", c.s, res.Remaining, c.want-1)
		}
	}
	if got := st.takes.Load(); got != 3 {
		t.Errorf("store saw %d Takes, want 3", got)
	}
}

func TestDoneContext(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{{"canceled", canceled, context.Canceled}, {"deadline", expired, context.DeadlineExceeded}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := newMapStore()
			lim := mustNew(t, st, core.PerSecond(5))
			calls := map[string]func() (core.Result, error){
				"Take":   func() (core.Result, error) { return lim.Take(c.ctx, core.Chat(-1), 1) },
				"Take 2": func() (core.Result, error) { return lim.Take(c.ctx, core.User(1), 2) },
				"Block":  func() (core.Result, error) { return core.Result{}, lim.Block(c.ctx, core.User(1), time.Second) },
				"Peek":   func() (core.Result, error) { return lim.Peek(c.ctx, core.Global()) },
				"Reset":  func() (core.Result, error) { return core.Result{}, lim.Reset(c.ctx, core.User(1)) },
			}
			for name, call := range calls {
				res, err := call()
				if !errors.Is(err, c.want) {
					t.Errorf("%s with a %s context: error %v, want %v", name, c.name, err, c.want)
				}
				if res != (core.Result{}) {
					t.Errorf("%s with a %s context returned %+v, want the zero Result", name, c.name, res)
				}
			}
			if n := st.calls(); n != 0 {
				t.Errorf("the store was called %d times with a done context", n)
			}
		})
	}
}

func TestInvalidCost(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	lim := mustNew(t, st, core.PerSecond(10).WithBurst(4))
	ctx := t.Context()
	for _, n := range []int{0, -1, math.MinInt, 5, math.MaxInt} {
		res, err := lim.Take(ctx, core.User(1), n)
		if !errors.Is(err, core.ErrInvalidCost) {
			t.Errorf("Take(n=%d) error %v, want ErrInvalidCost", n, err)
		}
		if res != (core.Result{}) {
			t.Errorf("Take(n=%d) = %+v, want the zero Result", n, res)
		}
		if _, err := lim.Take(ctx, core.Chat(-5), n); !errors.Is(err, core.ErrInvalidCost) {
			t.Errorf("Take(chat, n=%d) error %v, want ErrInvalidCost", n, err)
		}
	}
	if n := st.calls(); n != 0 {
		t.Fatalf("the store was called %d times for invalid costs", n)
	}
	// The bounds themselves are valid costs.
	for _, n := range []int{1, 3} {
		if res, err := lim.Take(ctx, core.User(1), n); err != nil || !res.Allowed {
			t.Errorf("Take(n=%d) = %+v, %v; want allowed", n, res, err)
		}
	}
	if res, err := lim.Take(ctx, core.User(2), 4); err != nil || !res.Allowed || res.Remaining != 0 {
		t.Errorf("Take(n=Burst) = %+v, %v; want allowed with Remaining 0", res, err)
	}
	if n := st.takes.Load(); n != 3 {
		t.Errorf("store saw %d Takes, want 3", n)
	}
}

// TestStoreErrorReturned: a Limiter has no failure policy of its own; a
// store's error reaches the caller as it is (core.Resilient decides
// outages instead).
func TestStoreErrorReturned(t *testing.T) {
	t.Parallel()
	boom := errors.New("mapstore: boom")
	st := newMapStore()
	st.err = boom
	lim := mustNew(t, st, core.PerSecond(1))
	ctx := t.Context()
	if res, err := lim.Take(ctx, core.User(1), 1); !errors.Is(err, boom) || res != (core.Result{}) {
		t.Errorf("Take = %+v, %v; want a zero Result and the store's error", res, err)
	}
	if _, err := lim.Peek(ctx, core.User(1)); !errors.Is(err, boom) {
		t.Errorf("Peek error %v, want the store's error", err)
	}
	if err := lim.Reset(ctx, core.User(1)); !errors.Is(err, boom) {
		t.Errorf("Reset error %v, want the store's error", err)
	}
	if err := lim.Block(ctx, core.User(1), time.Minute); !errors.Is(err, boom) {
		t.Errorf("Block error %v, want the store's error", err)
	}
}

// TestBlock: a block denies for exactly d, is bounded, and reaches the
// scope's key under this rule only.
func TestBlock(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	lim := mustNew(t, st, core.PerSecond(5))
	ctx := t.Context()
	if err := lim.Block(ctx, core.User(1), time.Hour); err != nil {
		t.Fatal(err)
	}
	if k := st.lastKey.Load(); k != "floodgate:{u:1}:msg" {
		t.Errorf("Block used key %v", k)
	}
	if res, _ := lim.Take(ctx, core.User(1), 1); res.Allowed || res.RetryAfter != time.Hour {
		t.Errorf("blocked user: %+v, want denied for 1h", res)
	}
	if res, _ := lim.Take(ctx, core.User(2), 1); !res.Allowed {
		t.Error("a block of user 1 denied user 2")
	}
	st.advance(time.Hour)
	if res, _ := lim.Take(ctx, core.User(1), 1); !res.Allowed || res.Remaining != 0 {
		t.Errorf("after the block: %+v, want one event admitted", res)
	}
	for _, d := range []time.Duration{0, -time.Second, core.MaxBlock + time.Microsecond} {
		if err := lim.Block(ctx, core.User(1), d); !errors.Is(err, core.ErrInvalidOption) {
			t.Errorf("Block(%v) error %v, want ErrInvalidOption", d, err)
		}
	}
	if n := st.blocks.Load(); n != 1 {
		t.Errorf("store saw %d Blocks, want 1 (invalid ones must not reach it)", n)
	}
	if err := lim.Block(ctx, core.User(1), core.MaxBlock); err != nil {
		t.Errorf("Block(MaxBlock): %v", err)
	}
}

func TestRule(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	msg := mustNew(t, st, core.PerMinute(2), core.WithPrefix("bot7"))
	report, err := msg.Rule("report", core.Every(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if report.Limit() != core.Every(time.Hour) {
		t.Errorf("Rule: limit %v", report.Limit())
	}
	if msg.Key(core.User(1)) != "bot7:{u:1}:msg" || msg.Limit() != core.PerMinute(2) {
		t.Errorf("Rule changed its parent: key %q limit %v", msg.Key(core.User(1)), msg.Limit())
	}
	u := core.User(99)
	if got, want := report.Key(u), "bot7:{u:99}:report"; got != want {
		t.Errorf("report key %q, want %q", got, want)
	}
	if msg.Key(u) == report.Key(u) {
		t.Fatalf("both rules use the key %q", msg.Key(u))
	}
	ctx := t.Context()
	// Exhaust "report": "msg" is untouched.
	if res, _ := report.Take(ctx, u, 1); !res.Allowed {
		t.Fatal("first report denied")
	}
	if res, _ := report.Take(ctx, u, 1); res.Allowed {
		t.Fatal("second report within the hour allowed")
	}
	for i := range 2 {
		if res, err := msg.Take(ctx, u, 1); err != nil || !res.Allowed {
			t.Fatalf("message %d denied after reports were exhausted: %+v, %v", i, res, err)
		}
	}
	if res, _ := msg.Take(ctx, u, 1); res.Allowed {
		t.Fatal("third message within the minute allowed")
	}
	// The budgets also refill independently.
	st.advance(30 * time.Second)
	if res, _ := msg.Take(ctx, u, 1); !res.Allowed {
		t.Error("message denied after its interval elapsed")
	}
	if res, _ := report.Take(ctx, u, 1); res.Allowed {
		t.Error("report allowed 30 s into its hour")
	}

	for _, bad := range []struct {
		name  string
		limit core.Limit
		want  error
	}{
		{"", core.PerSecond(1), core.ErrInvalidOption},
		{"bad rule", core.PerSecond(1), core.ErrInvalidOption},
		{strings.Repeat("r", 65), core.PerSecond(1), core.ErrInvalidOption},
		{"ok", core.Limit{}, core.ErrInvalidLimit},
		{"ok", core.PerSecond(1).WithBurst(-1), core.ErrInvalidLimit},
	} {
		r, err := msg.Rule(bad.name, bad.limit)
		if !errors.Is(err, bad.want) || r != nil {
			t.Errorf("Rule(%q, %+v) = %v, %v; want nil and %v", bad.name, bad.limit, r, err, bad.want)
		}
	}
}

func TestSharedBudget(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	// Two bot instances: two Limiters over one store share the budget.
	a := mustNew(t, st, core.PerSecond(2), core.WithPrefix("bot"))
	b := mustNew(t, st, core.PerSecond(2), core.WithPrefix("bot"))
	other := mustNew(t, st, core.PerSecond(2), core.WithPrefix("tenant2"))
	ctx := t.Context()
	for _, lim := range []*core.Limiter{a, b} {
		if res, _ := lim.Take(ctx, core.User(5), 1); !res.Allowed {
			t.Fatal("denied within the shared burst")
		}
	}
	if res, _ := a.Take(ctx, core.User(5), 1); res.Allowed {
		t.Error("instance a allowed a third event: the budget is not shared")
	}
	if res, _ := b.Take(ctx, core.User(5), 1); res.Allowed {
		t.Error("instance b allowed a third event: the budget is not shared")
	}
	if res, _ := other.Take(ctx, core.User(5), 1); !res.Allowed {
		t.Error("another prefix shares the budget; tenants must be apart")
	}
}

func TestPeek(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	lim := mustNew(t, st, core.PerSecond(3))
	ctx := t.Context()
	u := core.User(7)

	// A Peek predicts the next Take exactly and records nothing.
	for i := range 4 {
		var peeks [3]core.Result
		for j := range peeks {
			var err error
			if peeks[j], err = lim.Peek(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		if peeks[0] != peeks[1] || peeks[1] != peeks[2] {
			t.Fatalf("round %d: repeated Peeks differ: %+v", i, peeks)
		}
		took, err := lim.Take(ctx, u, 1)
		if err != nil {
			t.Fatal(err)
		}
		if took != peeks[0] {
			t.Fatalf("round %d: Peek said %+v, Take did %+v", i, peeks[0], took)
		}
	}
	if res, _ := lim.Peek(ctx, u); res.Allowed || res.RetryAfter != 333334*time.Microsecond {
		t.Errorf("Peek on an exhausted key = %+v, want denied with RetryAfter 333.334ms", res)
	}
	if got := st.peeks.Load(); got != 13 {
		t.Errorf("store saw %d Peeks, want 13", got)
	}
	// Peeking a fresh key does not create it.
	if _, err := lim.Peek(ctx, core.User(8)); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	_, created := st.tats[lim.Key(core.User(8))]
	st.mu.Unlock()
	if created {
		t.Error("Peek wrote a key")
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	lim := mustNew(t, st, core.PerMinute(1))
	ctx := t.Context()
	for _, id := range []int64{1, 2} {
		if res, _ := lim.Take(ctx, core.User(id), 1); !res.Allowed {
			t.Fatalf("user %d denied at first", id)
		}
		if res, _ := lim.Take(ctx, core.User(id), 1); res.Allowed {
			t.Fatalf("user %d allowed twice in a minute", id)
		}
	}
	if err := lim.Reset(ctx, core.User(1)); err != nil {
		t.Fatal(err)
	}
	if k := st.lastKey.Load(); k != "floodgate:{u:1}:msg" {
		t.Errorf("Reset used key %v", k)
	}
	if res, _ := lim.Take(ctx, core.User(1), 1); !res.Allowed || res.Remaining != 0 || res.ResetAfter != time.Minute {
		t.Errorf("after Reset, Allow = %+v; want a fresh key's result", res)
	}
	if res, _ := lim.Take(ctx, core.User(2), 1); res.Allowed {
		t.Error("Reset of user 1 lifted the limit of user 2")
	}
	if err := lim.Reset(ctx, core.Chat(-404)); err != nil {
		t.Errorf("Reset of an unknown key: %v", err)
	}
}

// TestConcurrentTakes races 64 goroutines on a frozen clock: the Limiter adds
// no state of its own, so exactly Burst events get through.
func TestConcurrentTakes(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	lim := mustNew(t, st, core.PerMinute(10))
	ctx := t.Context()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			res, err := lim.Take(ctx, core.Chat(-100), 1)
			if err != nil {
				t.Error(err)
				return
			}
			if res.Allowed {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 10 {
		t.Errorf("%d of 64 concurrent events admitted, want exactly Burst = 10", got)
	}
}

var discard = slog.New(slog.DiscardHandler)

func TestNewRejectsNilOption(t *testing.T) {
	t.Parallel()
	if _, err := core.New(newMapStore(), core.PerSecond(1), nil); !errors.Is(err, core.ErrInvalidOption) {
		t.Fatalf("nil option: err = %v, want ErrInvalidOption", err)
	}
}
