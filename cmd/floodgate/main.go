// Command floodgate inspects and manages the state of the floodgate flood
// limiter in Redis, with the configuration the bots use: the same
// environment variables (store.FromEnv), and flags that override them.
//
//	floodgate status <scope>     a scope's budget, key, stored TAT or event times, TTL, block
//	floodgate reset <scope>      lift a scope's limit (and, for the main rule, penalties)
//	floodgate top [-n 20]        the keys limited right now, longest wait first
//	floodgate check              connectivity, permissions, eviction, scripts, test decisions
//
// A scope is any the limiter uses: user:42 (or 42), chat:-100123 (or
// -100123), user:42@chat:-100123, sender:-100123, global, or a whole key
// (floodgate:{u:42}:msg, floodgate:{c:-100123}:msg:win).
//
// It never runs KEYS (which blocks Redis): top walks the keyspace with SCAN.
// It decodes no storage format itself: keys are read with
// redisstore.(*Store).Inspect, which reads them as the decision scripts do,
// and changed through core (Limiter.Reset, guard.Guard.Reset). Keys are
// named by a core.Limiter: <prefix>:{<scope>}:<rule>, with ":win" appended
// under a sliding window.
//
// status and top compute under the configured limit; give the one the bots
// use (FLOODGATE_LIMIT or -limit): the stored state is times, and what they
// mean depends on the limit. A key whose value is not a valid state for
// that limit (another Redis type, a corrupt value) is reported as foreign,
// never decoded; the bots' next decision on it overwrites it.
//
// Exit status: 0 ok; 1 an operation failed (Redis unreachable, a check
// failed); 2 a usage or configuration error (unknown command, bad scope,
// bad flag or variable, or a command the memory store cannot serve).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// defaultDeadline bounds a whole command unless -deadline says otherwise.
const defaultDeadline = 30 * time.Second

// defaultTop is how many keys top lists unless -n says otherwise.
const defaultTop = 20

const usageText = `Usage: floodgate [flags] <command> [args]

Inspect and manage the floodgate flood limiter's state in Redis, with the
configuration the bots use (environment variables) and flags overriding it.

Commands:
  status <scope>     the scope's budget under the limit and rule: allowed now,
                     remaining, retry after, reset after; the key, its stored
                     TAT (GCRA) or event times (sliding window), its TTL, and
                     whether it holds a block (a penalty or a ban); reads only
  reset <scope>      forget the scope's state for the rule (deletes the key);
                     for the main rule also the penalty strikes and level
  top [-n 20] [-scope KIND]
                     the keys limited right now, longest retry-after first
                     (SCAN, never KEYS), how many keys were scanned, and
                     the keys skipped for holding no valid state (foreign)
  check              PING round trips, server version and role, the Redis
                     user's permissions (every one missing), the eviction
                     policy, decision scripts, cluster slots, config, a GCRA
                     and a sliding-window test decision, each key with a TTL
  help               this text

Scopes: user:42 (or 42), chat:-100123 (or -100123), user:42@chat:-100123,
sender:-100123 (a sender chat), global; or a whole key as top prints it,
e.g. floodgate:{uc:42:-100123}:msg or floodgate:{c:-100123}:msg:win (its
prefix and rule are used; a :win key needs the window limit in -limit).

Flags (before or after the command):
  -url URL       Redis URL: redis://[user:password@]host:port/db, rediss://,
                 redis+sentinel://, redis+cluster:// (overrides REDIS_URL,
                 REDIS_HOST, REDIS_PORT, REDIS_DB, REDIS_PASSWORD,
                 FLOODGATE_STORE and REDIS_ENABLED)
  -prefix P      key prefix (overrides FLOODGATE_PREFIX and REDIS_KEY_PREFIX)
  -limit L       the bots' limit, e.g. 1/s, "20/m burst 5" or "20/m window"
                 (overrides FLOODGATE_LIMIT); status and top compute under it
  -rule R        rule name, the last part of the key (default: the main
                 limit's, msg), e.g. cmd.report for a command limit
  -deadline D    bound on the whole command, > 0 (default 30s)
  -n N           top: how many keys to list, ≥ 1 (default 20)
  -scope KIND    top: only keys of one kind of scope: user, chat,
                 user-in-chat, sender or global (default: all)

Environment (as the bots read it, see the store package): FLOODGATE_STORE,
REDIS_ENABLED, REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_DB, REDIS_PASSWORD,
REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE,
REDIS_TLS_SERVER_NAME, FLOODGATE_PREFIX, REDIS_KEY_PREFIX, FLOODGATE_LIMIT,
FLOODGATE_TIMEOUT.

Keys look like <prefix>:{<scope>}:<rule>, e.g. floodgate:{u:123456789}:msg,
and <prefix>:{<scope>}:<rule>:win under a sliding window.

Exit status: 0 ok, 1 an operation failed, 2 a usage or configuration error.
`

func main() {
	// go-redis logs each failed dial on its own; the command reports the
	// failure once, with the address (never the password), and exits 1.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// quietLogger drops go-redis' internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// options are the command line's flags.
type options struct {
	url, prefix, limit, rule string
	deadline                 time.Duration
	n                        int
	scope                    string          // top's -scope
	set                      map[string]bool // flags given on the command line
}

// register defines the flags shared by every command on fs, with their
// current values as defaults (so a second FlagSet keeps what the first
// parsed).
func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.url, "url", o.url, "Redis URL (overrides REDIS_URL and the other REDIS_* variables)")
	fs.StringVar(&o.prefix, "prefix", o.prefix, "key prefix (overrides FLOODGATE_PREFIX, REDIS_KEY_PREFIX)")
	fs.StringVar(&o.limit, "limit", o.limit, "limit, e.g. 1/s, \"20/m burst 5\" or \"20/m window\" (overrides FLOODGATE_LIMIT)")
	fs.StringVar(&o.rule, "rule", o.rule, "rule name")
	fs.DurationVar(&o.deadline, "deadline", o.deadline, "bound on the whole command")
}

// usageError is a command line the CLI cannot run: exit 2, usage on stderr.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// cli is what one run works with.
type cli struct {
	stdout, stderr io.Writer
	cfg            store.Config
	rule           string // -rule; "" for the main limit's
	opened         *store.Opened
	client         redis.UniversalClient
	// rs is the bare Redis store over client: the CLI wants Redis' answers
	// and errors, not those of the failure policy Opened wraps it in.
	rs  *redisstore.Store
	lim *core.Limiter // the configured limit, prefix and rule, over rs
}

// run is the whole program: it parses args (without the program name),
// reads the configuration through lookup (os.LookupEnv in main), runs the
// command and returns the exit status.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	o := &options{deadline: defaultDeadline, n: defaultTop, set: map[string]bool{}}
	cmd, rest, err := parseArgs(o, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	if err != nil {
		return usageFail(stderr, err)
	}

	cfg, err := loadConfig(o, lookup)
	if err != nil {
		return usageFail(stderr, err)
	}
	c := &cli{stdout: stdout, stderr: stderr, cfg: cfg, rule: o.rule}

	// Check the prefix, rule and limit together before any I/O, on a
	// throw-away in-process store.
	if _, err := c.limiter(memorystore.New(memorystore.WithCleanupInterval(0)), cfg.Limit); err != nil {
		return usageFail(stderr, fmt.Errorf("-rule: %w", err))
	}

	if o.deadline <= 0 {
		return usageFail(stderr, usagef("-deadline must be positive, got %v", o.deadline))
	}
	var tgt target
	switch cmd {
	case "status", "reset":
		if len(rest) != 1 {
			return usageFail(stderr, usagef("%s takes one scope (%s), got %d arguments", cmd, scopeSyntax, len(rest)))
		}
		if tgt, err = parseTarget(rest[0]); err != nil {
			return usageFail(stderr, fmt.Errorf("%s: %w", cmd, err))
		}
		if tgt.key != "" {
			if err := c.adoptKey(tgt.key); err != nil {
				return usageFail(stderr, fmt.Errorf("%s: %w", cmd, err))
			}
		}
	case "top", "check":
		if len(rest) != 0 {
			return usageFail(stderr, usagef("%s takes no arguments, got %s", cmd, quote(strings.Join(rest, " "))))
		}
		if cmd == "top" && o.n < 1 {
			return usageFail(stderr, usagef("top: -n must be at least 1, got %d", o.n))
		}
		if _, ok := scopeKinds[o.scope]; cmd == "top" && o.scope != "" && !ok {
			return usageFail(stderr, usagef("top: -scope %s: want user, chat, user-in-chat, sender or global", quote(o.scope)))
		}
	}

	if cfg.Backend == store.BackendMemory {
		if cmd == "check" {
			return c.checkMemory()
		}
		fmt.Fprintf(stderr, "floodgate: %s: the memory store (%v) lives inside each bot process: "+
			"its state cannot be read or changed from another process. Point floodgate and the bots "+
			"at a shared Redis (REDIS_URL, or -url) to inspect it.\n", cmd, cfg)
		return exitUsage
	}

	ctx, cancel := context.WithTimeout(ctx, o.deadline)
	defer cancel()
	if err := c.open(ctx); err != nil {
		if cmd == "check" {
			line(stdout, "config", "%v", cfg)
		}
		fmt.Fprintf(stderr, "floodgate: %s: %v\n", cmd, err)
		return exitFail
	}
	defer c.opened.Close()

	switch cmd {
	case "status":
		err = c.status(ctx, tgt.scope)
	case "reset":
		err = c.reset(ctx, tgt.scope)
	case "top":
		err = c.top(ctx, o.n, o.scope)
	case "check":
		err = c.check(ctx)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			err = fmt.Errorf("%w (the whole command may take -deadline %v)", err, o.deadline)
		}
		fmt.Fprintf(stderr, "floodgate: %s: %v\n", cmd, err)
		return exitFail
	}
	return exitOK
}

// parseArgs parses the flags around the command and returns the command and
// its positional arguments. Flags may come before or after the command,
// and between its arguments; "--" ends them.
func parseArgs(o *options, args []string) (cmd string, rest []string, err error) {
	top := newFlagSet("floodgate")
	o.register(top)
	if err := top.Parse(args); err != nil {
		return "", nil, err
	}
	top.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if top.NArg() == 0 {
		return "", nil, usagef("no command given")
	}
	cmd, args = top.Arg(0), top.Args()[1:]
	switch cmd {
	case "help":
		return "", nil, flag.ErrHelp
	case "status", "reset", "top", "check":
	default:
		return "", nil, usagef("unknown command %q", cmd)
	}

	fs := newFlagSet("floodgate " + cmd)
	o.register(fs)
	if cmd == "top" {
		fs.IntVar(&o.n, "n", o.n, "how many keys to list")
		fs.StringVar(&o.scope, "scope", o.scope, "only keys of one kind of scope")
	}
	for {
		if len(args) > 0 && looksNegative(args[0]) { // a chat id, not a flag
			rest = append(rest, args[0])
			args = args[1:]
			continue
		}
		if err := fs.Parse(args); err != nil {
			return "", nil, fmt.Errorf("%s: %w", cmd, err)
		}
		consumed := len(args) - len(fs.Args())
		if consumed > 0 && args[consumed-1] == "--" {
			rest = append(rest, fs.Args()...)
			break
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	return cmd, rest, nil
}

// newFlagSet returns a FlagSet that reports errors to run, not to stderr.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// usageFail prints err and a hint on stderr, not the whole usage text
// (that would scroll the error away), and returns exitUsage.
func usageFail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "floodgate: %v\nRun 'floodgate help' for the commands, scopes and flags.\n", err)
	return exitUsage
}

// tlsVars are the TLS variables, in the order of the Config fields
// loadConfig fills from them under -url.
var tlsVars = []string{"REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE", "REDIS_TLS_SERVER_NAME"}

// loadConfig reads the configuration as the bots do, through lookup, and
// applies the flags over it. A variable a flag overrides is not read (so a
// bad value there does not matter). Errors never contain a password.
func loadConfig(o *options, lookup func(string) (string, bool)) (store.Config, error) {
	hidden := map[string]bool{}
	if o.set["url"] {
		// The TLS variables still apply, to -url: read after it.
		for _, v := range append([]string{"FLOODGATE_STORE", "REDIS_ENABLED", "REDIS_URL", "REDIS_HOST",
			"REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD"}, tlsVars...) {
			hidden[v] = true
		}
	}
	if o.set["prefix"] {
		hidden["FLOODGATE_PREFIX"], hidden["REDIS_KEY_PREFIX"] = true, true
	}
	if o.set["limit"] {
		hidden["FLOODGATE_LIMIT"] = true
	}
	cfg, err := store.FromLookup(func(name string) (string, bool) {
		if hidden[name] {
			return "", false
		}
		return lookup(name)
	})
	if err != nil {
		return store.Config{}, fmt.Errorf("configuration from the environment: %w", err)
	}
	if o.set["prefix"] {
		if err := core.ValidatePrefix(o.prefix); err != nil {
			return store.Config{}, fmt.Errorf("-prefix: %w", err)
		}
		cfg.Prefix = o.prefix
	}
	if o.set["limit"] {
		l, err := core.ParseLimit(o.limit)
		if err != nil {
			return store.Config{}, fmt.Errorf("-limit: %w", err)
		}
		cfg.Limit = l
	}
	if o.set["url"] {
		if strings.TrimSpace(o.url) == "" {
			return store.Config{}, errors.New("-url: empty")
		}
		cfg.Backend, cfg.RedisURL = store.BackendRedis, strings.TrimSpace(o.url)
		for i, f := range []*string{&cfg.TLSCAFile, &cfg.TLSCertFile, &cfg.TLSKeyFile, &cfg.TLSServerName} {
			if v, ok := lookup(tlsVars[i]); ok {
				*f = strings.TrimSpace(v)
			}
		}
		if err := cfg.Validate(); err != nil { // store errors never hold the password
			return store.Config{}, fmt.Errorf("-url: %w", err)
		}
	}
	return cfg, nil
}

// adoptKey makes the command work on key, a whole key given as the
// scope: its prefix and rule replace the configured ones, and a
// sliding-window key (":win") needs a window limit. The key must be one
// core.Limiter names.
func (c *cli) adoptKey(key string) error {
	i := strings.Index(key, "{")
	j := i + strings.Index(key[i:], "}")
	prefix, ok := strings.CutSuffix(key[:i], ":")
	if !ok {
		return usagef("bad key %s: want <prefix>:{<scope>}:<rule>", quote(key))
	}
	tail, ok := strings.CutPrefix(key[j+1:], ":")
	if !ok || tail == "" {
		return usagef("bad key %s: want <prefix>:{<scope>}:<rule>", quote(key))
	}
	rule, window := strings.CutSuffix(tail, ":win")
	if window != (c.cfg.Limit.Algorithm == core.SlidingWindow) {
		if window {
			return usagef("%s is a sliding-window key: give the bots' window limit, e.g. -limit \"20/m window\"", quote(key))
		}
		return usagef("%s is a GCRA key, and the limit %v is a sliding window: give the bots' limit with -limit", quote(key), c.cfg.Limit)
	}
	if err := core.ValidatePrefix(prefix); err != nil {
		return usagef("bad key %s: prefix: %v", quote(key), err)
	}
	c.cfg.Prefix, c.rule = prefix, rule
	lim, err := c.limiter(memorystore.New(memorystore.WithCleanupInterval(0)), c.cfg.Limit)
	if err != nil {
		return usagef("bad key %s: %v", quote(key), err)
	}
	sc, _ := parseScope(key[i+1 : j])
	if got := lim.Key(sc); got != key {
		return usagef("%s is not a key floodgate names (it would be %s)", quote(key), quote(got))
	}
	return nil
}

// open connects to Redis (store.Open: fail-fast settings, one PING) and
// builds the Limiter the commands use over the bare redisstore.Store: no
// decision timeout (the bots' FLOODGATE_TIMEOUT is for live decisions; the
// command's deadline bounds every call) and no failure policy (an error is
// reported as one, not decided by a fallback).
func (c *cli) open(ctx context.Context) error {
	o, err := store.Open(ctx, c.cfg, store.WithoutChecks())
	if err != nil {
		return err // names the address, password masked
	}
	rs := redisstore.New(o.RedisClient())
	lim, err := c.limiter(rs, c.cfg.Limit)
	if err != nil {
		_ = o.Close()
		return err
	}
	c.opened, c.client, c.rs, c.lim = o, o.RedisClient(), rs, lim
	return nil
}

// limiter returns a Limiter over st for limit under the configured prefix
// and rule: it names the keys the bots' limiter names.
func (c *cli) limiter(st core.Store, limit core.Limit) (*core.Limiter, error) {
	lim, err := core.New(st, limit, core.WithPrefix(c.cfg.Prefix))
	if err != nil || c.rule == "" {
		return lim, err
	}
	return lim.Rule(c.rule, limit)
}
