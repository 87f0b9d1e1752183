package store

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/redis/go-redis/v9"
)

// Backends a Config may name.
const (
	// BackendMemory is the in-process store (store/memorystore): one bot
	// instance only.
	BackendMemory = "memory"
	// BackendRedis is the Redis store (store/redisstore), shared by every
	// instance that uses the same server and prefix.
	BackendRedis = "redis"
)

// DefaultRedisURL is the Redis a Config with Backend "redis" and no RedisURL
// connects to: the replaced Python middleware's default host.
const DefaultRedisURL = "redis://localhost:6379/0"

// ErrInvalidConfig is wrapped by every error that reports a Config, or an
// environment variable, that cannot be used. The message names the field or
// variable at fault and never contains a password.
var ErrInvalidConfig = errors.New("invalid config")

// masked replaces a password wherever a Config is printed.
const masked = "xxxxx"

// Environment variables read by FromLookup. See the package documentation
// for their values, defaults and precedence.
const (
	envStore          = "FLOODGATE_STORE"
	envRedisEnabled   = "REDIS_ENABLED"
	envRedisURL       = "REDIS_URL"
	envRedisHost      = "REDIS_HOST"
	envRedisPort      = "REDIS_PORT"
	envRedisDB        = "REDIS_DB"
	envRedisPassword  = "REDIS_PASSWORD"
	envPrefix         = "FLOODGATE_PREFIX"
	envRedisKeyPrefix = "REDIS_KEY_PREFIX"
	envLimit          = "FLOODGATE_LIMIT"
)

// Config says which store to open and how to limit. The zero Config is
// valid: a memory store, prefix core.DefaultPrefix, one event per second.
//
// RedisURL may hold a password: print a Config with String (every fmt verb
// and log/slog do), or marshal Redacted(), never the raw fields.
type Config struct {
	// Backend is BackendMemory or BackendRedis, in any letter case.
	// Default (""): BackendMemory.
	Backend string
	// RedisURL is where the Redis store connects, in redis.ParseURL syntax:
	// redis://[user:password@]host:port/db, rediss://... for TLS, or
	// unix://[user:password@]/path/to/redis.sock?db=N. Query parameters
	// such as ?dial_timeout=2s override the fail-fast defaults of
	// RedisOptions. Default (""): DefaultRedisURL. It must be empty when
	// Backend is memory, so that a Redis address is never silently ignored.
	RedisURL string
	// Prefix starts every key (see core.WithPrefix), e.g.
	// "booking_bot:client1" to keep tenants apart in one Redis.
	// Default (""): core.DefaultPrefix ("floodgate").
	Prefix string
	// Limit is what Opened.NewLimiter enforces. Default (the zero Limit):
	// core.Every(time.Second), one event per second with a burst of 1, the
	// replaced middleware's default rate_limit=1.0.
	Limit core.Limit
}

// defaultLimit is the Limit a zero Config.Limit stands for.
var defaultLimit = core.Every(time.Second)

// FromEnv reads a Config from the process environment. See FromLookup.
func FromEnv() (Config, error) { return FromLookup(os.LookupEnv) }

// FromLookup reads a Config from the variables lookup returns (os.LookupEnv,
// or a map in tests), as the package documentation's table describes, and
// validates it. The Config it returns has every default filled in, so
// printing it shows what Open will use.
//
// An error starts with "store: ", wraps ErrInvalidConfig and names the
// variable at fault; for FLOODGATE_LIMIT it also wraps core.ErrInvalidLimit.
// It never contains the value of REDIS_URL or REDIS_PASSWORD.
func FromLookup(lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		if !ok {
			return "", false
		}
		if name == envRedisPassword {
			return v, v != "" // verbatim: spaces may be part of a password
		}
		v = strings.TrimSpace(v)
		return v, v != ""
	}
	cfg := Config{Backend: BackendMemory, Prefix: core.DefaultPrefix, Limit: defaultLimit}

	if v, ok := get(envStore); ok {
		switch strings.ToLower(v) {
		case BackendMemory, BackendRedis:
			cfg.Backend = strings.ToLower(v)
		default:
			return Config{}, configErr(envStore, "%q: want memory or redis", v)
		}
	} else if v, ok := get(envRedisEnabled); ok {
		switch strings.ToLower(v) {
		case "true", "1", "yes":
			cfg.Backend = BackendRedis
		case "false", "0", "no":
			cfg.Backend = BackendMemory
		default:
			return Config{}, configErr(envRedisEnabled, "%q: want true, false, 1, 0, yes or no", v)
		}
	} else if _, ok := get(envRedisURL); ok {
		// A REDIS_URL on its own says which store is wanted: silently
		// falling back to memory would split the limit across instances.
		cfg.Backend = BackendRedis
	}

	if cfg.Backend == BackendRedis {
		u, err := redisURLFromLookup(get)
		if err != nil {
			return Config{}, err
		}
		cfg.RedisURL = u
	}

	prefixVar := envPrefix
	p, ok := get(envPrefix)
	if !ok {
		prefixVar = envRedisKeyPrefix
		p, ok = get(envRedisKeyPrefix)
	}
	if ok {
		if err := core.ValidatePrefix(p); err != nil {
			return Config{}, fmt.Errorf("store: %w: %s: %w", ErrInvalidConfig, prefixVar, err)
		}
		cfg.Prefix = p
	}

	if v, ok := get(envLimit); ok {
		l, err := core.ParseLimit(v)
		if err != nil {
			return Config{}, fmt.Errorf("store: %w: %s: %w", ErrInvalidConfig, envLimit, err)
		}
		cfg.Limit = l
	}

	if err := cfg.Validate(); err != nil { // every check above should have caught it
		return Config{}, err
	}
	return cfg, nil
}

// redisURLFromLookup returns REDIS_URL, or the URL REDIS_HOST, REDIS_PORT,
// REDIS_DB and REDIS_PASSWORD describe, or DefaultRedisURL.
func redisURLFromLookup(get func(string) (string, bool)) (string, error) {
	if v, ok := get(envRedisURL); ok {
		if _, err := parseRedisURL(v); err != nil {
			return "", configErr(envRedisURL, "%v", err)
		}
		return v, nil
	}
	host, hostSet := get(envRedisHost)
	port, portSet := get(envRedisPort)
	db, dbSet := get(envRedisDB)
	password, passwordSet := get(envRedisPassword)
	if !hostSet && !portSet && !dbSet && !passwordSet {
		return DefaultRedisURL, nil
	}
	if !hostSet {
		host = "localhost"
	} else if h, ok := checkHost(host); ok {
		host = h
	} else {
		return "", configErr(envRedisHost, "%q: want a host name or an IP address (the port goes in %s)", host, envRedisPort)
	}
	if !portSet {
		port = "6379"
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", configErr(envRedisPort, "%q: want a port number 1..65535", port)
	} else {
		port = strconv.Itoa(n)
	}
	if !dbSet {
		db = "0"
	} else if n, err := strconv.Atoi(db); err != nil || n < 0 {
		return "", configErr(envRedisDB, "%q: want a database number ≥ 0", db)
	} else {
		db = strconv.Itoa(n)
	}
	u := url.URL{Scheme: "redis", Host: net.JoinHostPort(host, port), Path: "/" + db}
	if passwordSet {
		u.User = url.UserPassword("", password)
	}
	s := u.String()
	if _, err := parseRedisURL(s); err != nil { // unreachable with the checks above
		return "", configErr(envRedisHost, "with %s, %s and %s: %v", envRedisPort, envRedisDB, envRedisPassword, err)
	}
	return s, nil
}

// checkHost reports whether h is a host name or an IP address (an IPv6
// address with or without brackets), and returns it without brackets.
func checkHost(h string) (string, bool) {
	if ip := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"); strings.Contains(ip, ":") {
		return ip, net.ParseIP(ip) != nil
	}
	if len(h) > 253 {
		return "", false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", false
		}
	}
	return h, true
}

// configErr returns "store: invalid config: NAME: message".
func configErr(name, format string, args ...any) error {
	return fmt.Errorf("store: %w: %s: %s", ErrInvalidConfig, name, fmt.Sprintf(format, args...))
}

// parseRedisURL is redis.ParseURL with errors that never hold a password:
// net/url's errors quote the whole URL (and a password containing "/" or
// "@" turns into a "host" or "port" they quote), so a URL net/url rejects
// is reported without its text; go-redis' own messages name only the
// scheme, path and query, and any password in them is masked anyway.
func parseRedisURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a valid URL; want redis://[user:password@]host:port/db, " +
			"rediss://... or unix:///path/to/redis.sock, with / ? # @ : % percent-encoded in the " +
			"user and password (the value is not shown as it may hold a password)")
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
	default:
		return nil, fmt.Errorf("scheme %q: want redis://, rediss:// (TLS) or unix://, e.g. redis://localhost:6379/0", u.Scheme)
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		msg := err.Error()
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, masked)
		}
		return nil, errors.New(msg)
	}
	if opt.DB < 0 {
		return nil, fmt.Errorf("database number %d: want ≥ 0", opt.DB)
	}
	if opt.Network == "tcp" {
		if _, p, err := net.SplitHostPort(opt.Addr); err == nil {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("port %q: want 1..65535", p)
			}
		}
	}
	return opt, nil
}

// Validate reports why c cannot be opened, or nil. The error starts with
// "store: ", wraps ErrInvalidConfig (and core.ErrInvalidLimit for a bad
// Limit), names the field at fault and never contains a password.
func (c Config) Validate() error {
	switch c.backend() {
	case BackendMemory:
		if c.RedisURL != "" {
			return configErr("RedisURL", "set, but Backend is %q: set Backend to %q, or clear RedisURL", c.backend(), BackendRedis)
		}
	case BackendRedis:
		if c.RedisURL != "" {
			if _, err := parseRedisURL(c.RedisURL); err != nil {
				return configErr("RedisURL", "%v", err)
			}
		}
	default:
		return configErr("Backend", "%q: want %q or %q", c.Backend, BackendMemory, BackendRedis)
	}
	if c.Prefix != "" {
		if err := core.ValidatePrefix(c.Prefix); err != nil {
			return fmt.Errorf("store: %w: Prefix: %w", ErrInvalidConfig, err)
		}
	}
	if c.Limit != (core.Limit{}) {
		if err := c.Limit.Validate(); err != nil {
			return fmt.Errorf("store: %w: Limit: %w", ErrInvalidConfig, err)
		}
	}
	return nil
}

// backend returns Backend in lower case, "" as BackendMemory.
func (c Config) backend() string {
	if c.Backend == "" {
		return BackendMemory
	}
	return strings.ToLower(c.Backend)
}

func (c Config) redisURL() string {
	if c.RedisURL == "" {
		return DefaultRedisURL
	}
	return c.RedisURL
}

func (c Config) prefix() string {
	if c.Prefix == "" {
		return core.DefaultPrefix
	}
	return c.Prefix
}

func (c Config) limit() core.Limit {
	if c.Limit == (core.Limit{}) {
		return defaultLimit
	}
	return c.Limit
}

// withDefaults returns c with every default filled in.
func (c Config) withDefaults() Config {
	c.Backend = c.backend()
	if c.Backend == BackendRedis {
		c.RedisURL = c.redisURL()
	}
	c.Prefix, c.Limit = c.prefix(), c.limit()
	return c
}

// String returns c on one line, defaults filled in and any password shown
// as "xxxxx", e.g.
//
//	backend=redis addr=rediss://:xxxxx@cache.internal:6380 db=2 prefix=floodgate limit=1/s
//	backend=memory prefix=floodgate limit=20/m burst 5
//
// A RedisURL that does not parse is shown as "addr=invalid", without its
// text.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("backend=")
	b.WriteString(c.backend())
	if c.backend() == BackendRedis {
		if opt, err := parseRedisURL(c.redisURL()); err == nil {
			fmt.Fprintf(&b, " addr=%s db=%d", maskedAddr(opt), opt.DB)
		} else {
			b.WriteString(" addr=invalid")
		}
	}
	b.WriteString(" prefix=")
	b.WriteString(c.prefix())
	b.WriteString(" limit=")
	b.WriteString(c.limit().String())
	return b.String()
}

// maskedAddr returns scheme://[user[:xxxxx]@]address for opt: no database (String prints it apart), no query, no password.
func maskedAddr(opt *redis.Options) string {
	scheme := "redis"
	if opt.Network == "unix" {
		scheme = "unix"
	} else if opt.TLSConfig != nil {
		scheme = "rediss"
	}
	u := url.URL{Scheme: scheme, Host: opt.Addr}
	if opt.Network == "unix" {
		u = url.URL{Scheme: scheme, Path: opt.Addr}
	}
	switch {
	case opt.Password != "":
		u.User = url.UserPassword(opt.Username, masked)
	case opt.Username != "":
		u.User = url.User(opt.Username)
	}
	s := u.String()
	if opt.Network == "unix" && u.User == nil {
		s = "unix://" + opt.Addr // url.URL writes "unix:/path" for an empty host
	}
	return s
}

// Format makes every fmt verb print String (quoted for %q), so no verb,
// not even %#v or %d, prints RedisURL's password.
func (c Config) Format(f fmt.State, verb rune) {
	s := c.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = f.Write([]byte(s))
}

// LogValue makes log/slog (text and JSON handlers alike) log String.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Redacted returns a copy of c whose RedisURL has its password replaced by
// "xxxxx" (or, if the URL does not parse, is "xxxxx" as a whole), for
// marshalling or showing the fields. The copy cannot authenticate: open the
// original.
func (c Config) Redacted() Config {
	if c.RedisURL == "" {
		return c
	}
	u, err := url.Parse(c.RedisURL)
	if err != nil {
		c.RedisURL = masked
		return c
	}
	c.RedisURL = u.Redacted()
	return c
}

// Fail-fast client settings applied by RedisOptions.
const (
	dialTimeout   = 500 * time.Millisecond
	readTimeout   = 250 * time.Millisecond
	writeTimeout  = 250 * time.Millisecond
	maxRetries    = 1
	dialerRetries = 1
)

// RedisOptions returns the go-redis options Open uses for the Redis store:
// c.RedisURL (or DefaultRedisURL) parsed by redis.ParseURL, with these
// deliberate fail-fast settings unless the URL's query sets them (e.g.
// ?dial_timeout=2s&read_timeout=1s&max_retries=3):
//
//   - DialTimeout 500 ms (go-redis default 5 s);
//   - ReadTimeout and WriteTimeout 250 ms (default 3 s): a decision is one
//     small EVALSHA, so a slow reply means Redis is in trouble;
//   - MaxRetries 1 (default 3): one retry of a failed command;
//   - DialerRetries 1: despite its name, go-redis v9.23 treats it as the
//     number of dial attempts per new connection, and 0 or less means the
//     default of 5, spaced by DialerRetryTimeout (100 ms). That default makes
//     one call against a dead server take about 1.7 s even with MaxRetries
//     0. With 1, each attempt dials once; MaxRetries bounds the rest. The URL
//     cannot set it;
//   - ContextTimeoutEnabled true: a deadline on the ctx of a decision bounds
//     the socket reads and writes too (go-redis ignores it by default).
//
// So against a refused port Open fails in milliseconds, and against a host
// that never answers within about a second at most (500 ms per dial
// attempt, 250 ms per read, one retry), unless ctx expires first. Use the result to build your own client for redisstore.New
// if you need to change more.
func (c Config) RedisOptions() (*redis.Options, error) {
	opt, err := parseRedisURL(c.redisURL())
	if err != nil {
		return nil, configErr("RedisURL", "%v", err)
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = dialTimeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = readTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = writeTimeout
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = maxRetries
	}
	opt.DialerRetries = dialerRetries
	opt.ContextTimeoutEnabled = true
	return opt, nil
}
