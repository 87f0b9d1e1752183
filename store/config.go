package store

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"sort"
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
	envPolicy         = "FLOODGATE_FAILURE_POLICY"
	envTimeout        = "FLOODGATE_TIMEOUT"
	envTLSCAFile      = "REDIS_TLS_CA_FILE"
	envTLSCertFile    = "REDIS_TLS_CERT_FILE"
	envTLSKeyFile     = "REDIS_TLS_KEY_FILE"
	envTLSServerName  = "REDIS_TLS_SERVER_NAME"
)

// redisVars are the variables that describe a Redis connection: any of
// them set selects the Redis store unless FLOODGATE_STORE or REDIS_ENABLED
// says otherwise, and then it is an error (never silently ignored).
var redisVars = []string{envRedisURL, envRedisHost, envRedisPort, envRedisDB, envRedisPassword,
	envTLSCAFile, envTLSCertFile, envTLSKeyFile, envTLSServerName}

// selectBackend sets cfg.Backend from FLOODGATE_STORE, REDIS_ENABLED and
// the Redis variables, as the package documentation's Precedence says.
func selectBackend(get func(string) (string, bool), cfg *Config) error {
	var chosen, by string
	if v, ok := get(envStore); ok {
		switch strings.ToLower(v) {
		case BackendMemory, BackendRedis:
			chosen, by = strings.ToLower(v), envStore
		default:
			return configErr(envStore, "%q: want memory or redis", v)
		}
	}
	if v, ok := get(envRedisEnabled); ok {
		var enabled string
		switch strings.ToLower(v) {
		case "true", "1", "yes":
			enabled = BackendRedis
		case "false", "0", "no":
			enabled = BackendMemory
		default:
			return configErr(envRedisEnabled, "%q: want true, false, 1, 0, yes or no", v)
		}
		if chosen != "" && chosen != enabled {
			return configErr(envRedisEnabled, "%q selects the %s store, but %s selects %s: set one of them, or both alike",
				v, enabled, envStore, chosen)
		}
		chosen, by = enabled, envRedisEnabled
	}
	var set []string
	for _, name := range redisVars {
		if _, ok := get(name); ok {
			set = append(set, name)
		}
	}
	switch {
	case chosen == BackendMemory && len(set) > 0:
		// A Redis address the bot would not use: the limit would be split
		// across instances while the operator believes it is shared.
		return configErr(set[0], "set, but %s selects the memory store, which would ignore %s: "+
			"unset %s, or select redis", by, strings.Join(set, ", "), strings.Join(set, ", "))
	case chosen == "" && len(set) > 0:
		chosen = BackendRedis // whoever describes a Redis wants it used
	case chosen == "":
		chosen = BackendMemory
	}
	cfg.Backend = chosen
	return nil
}

// Config says which store to open and how to limit. The zero Config is
// valid: a memory store, prefix core.DefaultPrefix, one event per second.
//
// RedisURL may hold a password: print a Config with String (every fmt verb
// and log/slog do), or marshal Redacted(), never the raw fields.
type Config struct {
	// Backend is BackendMemory or BackendRedis, in any letter case.
	// Default (""): BackendMemory.
	Backend string
	// RedisURL is where the Redis store connects. One server, in
	// redis.ParseURL syntax: redis://[user:password@]host:port/db,
	// rediss://... for TLS, or unix://[user:password@]/path/to/redis.sock?db=N.
	// Sentinel: redis+sentinel://[[user]:password@]host:port[,host:port...]/master[/db].
	// Cluster: redis+cluster://[[user]:password@]host:port[,host:port...].
	// (rediss+sentinel://, rediss+cluster:// for TLS; the package
	// documentation has the details.) Query parameters such as
	// ?dial_timeout=2s override the fail-fast defaults of RedisOptions.
	// Default (""): DefaultRedisURL. It must be empty when Backend is
	// memory, so that a Redis address is never silently ignored.
	RedisURL string
	// Prefix starts every key (see core.WithPrefix), e.g.
	// "booking_bot:client1" to keep tenants apart in one Redis.
	// Default (""): core.DefaultPrefix ("floodgate").
	Prefix string
	// Limit is what Opened.NewLimiter enforces. Default (the zero Limit):
	// core.Every(time.Second), one event per second with a burst of 1, the
	// replaced middleware's default rate_limit=1.0.
	Limit core.Limit
	// Policy is what decides while Redis fails or does not answer in time
	// (core.Resilience.Policy). Default (the zero value): core.FailLocal,
	// with an in-process memorystore as the fallback. The memory store
	// cannot fail, so it ignores Policy.
	Policy core.FailurePolicy
	// Timeout bounds each Redis call (core.Resilience.Timeout); past it the
	// decision follows Policy. Default (0): 50 ms. Negative is invalid. It also raises the client's
	// read, write and dial timeouts to at least Timeout (see RedisOptions),
	// so a Redis far away works with a Timeout to match.
	Timeout time.Duration

	// TLSCAFile is a PEM file of the certificate authorities that sign the
	// Redis server's certificate (a private or managed-service CA). They
	// replace the system's roots. Default (""): the system's roots.
	// TLSCAFile, TLSCertFile, TLSKeyFile and TLSServerName need a TLS
	// RedisURL (rediss://, rediss+sentinel://, rediss+cluster://): with
	// any other URL, or the memory store, they are an error.
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are the PEM files of a client
	// certificate and its key, for servers that require one (mutual TLS,
	// tls-auth-clients yes). Set both or neither.
	TLSCertFile, TLSKeyFile string
	// TLSServerName is the name the server's certificate must carry.
	// Default (""): the host of each address dialled (every Sentinel,
	// master and cluster node by its own name). Set it when you connect
	// by IP address or through a tunnel.
	TLSServerName string
}

// tlsNames name the TLS settings in errors: Config fields, or environment
// variables.
type tlsNames struct{ url, ca, cert, key, serverName, store string }

var (
	fieldNames = tlsNames{"RedisURL", "TLSCAFile", "TLSCertFile", "TLSKeyFile", "TLSServerName", "Backend"}
	envNames   = tlsNames{envRedisURL, envTLSCAFile, envTLSCertFile, envTLSKeyFile, envTLSServerName, envStore}
)

// tlsConfig returns the TLS settings of c's TLS fields, read from their
// files, or nil when none is set. Errors name the setting at fault by n.
func (c Config) tlsConfig(n tlsNames) (*tls.Config, error) {
	first := ""
	for _, f := range [][2]string{{c.TLSCAFile, n.ca}, {c.TLSCertFile, n.cert}, {c.TLSKeyFile, n.key},
		{c.TLSServerName, n.serverName}} {
		if f[0] != "" && first == "" {
			first = f[1]
		}
	}
	if first == "" {
		return nil, nil
	}
	if c.backend() != BackendRedis {
		return nil, configErr(first, "set, but %s is %q: TLS settings are for the Redis store", n.store, c.backend())
	}
	if !isTLSURL(c.redisURL()) {
		return nil, configErr(first, "set, but %s is not a TLS URL: use rediss://, rediss+sentinel:// or "+
			"rediss+cluster://, or unset %s", n.url, first)
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, configErr(n.ca, "%v", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, configErr(n.ca, "%s holds no PEM certificate", c.TLSCAFile)
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		missing := n.key
		if c.TLSCertFile == "" {
			missing = n.cert
		}
		return nil, configErr(missing, "unset: a client certificate needs both %s and %s", n.cert, n.key)
	}
	if c.TLSCertFile != "" {
		pair, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, configErr(n.cert, "with %s: %v", n.key, err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	return t, nil
}

// isTLSURL reports whether raw's scheme turns TLS on.
func isTLSURL(raw string) bool {
	scheme, _, _ := strings.Cut(raw, "://")
	scheme = strings.ToLower(scheme)
	return scheme == "rediss" || strings.HasPrefix(scheme, "rediss+")
}

// applyTLS sets the TLS fields of c on base, the TLS settings the URL
// gave (nil for a URL without TLS, which tlsConfig refused).
func (c Config) applyTLS(base *tls.Config) (*tls.Config, error) {
	t, err := c.tlsConfig(fieldNames)
	if err != nil || t == nil {
		return base, err
	}
	if base == nil {
		base = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	base = base.Clone()
	if t.RootCAs != nil {
		base.RootCAs = t.RootCAs
	}
	base.Certificates = t.Certificates
	if t.ServerName != "" {
		base.ServerName = t.ServerName
	}
	return base, nil
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

	if err := selectBackend(get, &cfg); err != nil {
		return Config{}, err
	}
	if cfg.Backend == BackendRedis {
		u, err := redisURLFromLookup(get)
		if err != nil {
			return Config{}, err
		}
		cfg.RedisURL = u
		cfg.TLSCAFile, _ = get(envTLSCAFile)
		cfg.TLSCertFile, _ = get(envTLSCertFile)
		cfg.TLSKeyFile, _ = get(envTLSKeyFile)
		cfg.TLSServerName, _ = get(envTLSServerName)
		if _, err := cfg.tlsConfig(envNames); err != nil {
			return Config{}, err
		}
	}

	prefixVar := envPrefix
	p, ok := get(envPrefix)
	if old, oldSet := get(envRedisKeyPrefix); oldSet && ok && old != p {
		return Config{}, configErr(envRedisKeyPrefix, "%q, but %s is %q: set one of them (or both to the same prefix)",
			old, envPrefix, p)
	} else if !ok {
		prefixVar = envRedisKeyPrefix
		p, ok = old, oldSet
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

	if v, ok := get(envPolicy); ok {
		p, ok := parsePolicy(v)
		if !ok {
			return Config{}, configErr(envPolicy, "%q: want local, open or closed", v)
		}
		cfg.Policy = p
	}

	if v, ok := get(envTimeout); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Config{}, configErr(envTimeout, "%q: want a positive duration such as 50ms or 1s", v)
		}
		cfg.Timeout = d
	}

	if err := cfg.Validate(); err != nil { // every check above should have caught it
		return Config{}, err
	}
	return cfg, nil
}

// parsePolicy reads "local", "open" or "closed" (any case).
func parsePolicy(s string) (core.FailurePolicy, bool) {
	for _, p := range []core.FailurePolicy{core.FailLocal, core.FailOpen, core.FailClosed} {
		if strings.EqualFold(s, p.String()) {
			return p, true
		}
	}
	return 0, false
}

// redisURLFromLookup returns REDIS_URL (with REDIS_PASSWORD added when
// the URL has none), or the URL REDIS_HOST, REDIS_PORT, REDIS_DB and
// REDIS_PASSWORD describe, or DefaultRedisURL.
func redisURLFromLookup(get func(string) (string, bool)) (string, error) {
	if v, ok := get(envRedisURL); ok {
		for _, name := range []string{envRedisHost, envRedisPort, envRedisDB} {
			if _, set := get(name); set {
				return "", configErr(name, "set, and so is %s, which names the address and database itself: "+
					"unset %s, or unset %s and use %s, %s and %s", envRedisURL, name, envRedisURL,
					envRedisHost, envRedisPort, envRedisDB)
			}
		}
		if err := checkRedisURL(v); err != nil {
			return "", configErr(envRedisURL, "%v", err)
		}
		if password, ok := get(envRedisPassword); ok {
			withPassword, err := addPassword(v, password)
			if err != nil {
				return "", err
			}
			v = withPassword
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

// addPassword returns raw, a valid RedisURL of any topology, with
// password as its password, keeping its user name. A URL that has a
// password already is an error naming both variables: which one is meant
// cannot be guessed.
func addPassword(raw, password string) (string, error) {
	both := configErr(envRedisPassword, "set, and %s holds a password too: keep one of them "+
		"(%s is added to a %s without a password)", envRedisURL, envRedisPassword, envRedisURL)
	if topologyOf(raw) != standalone {
		_, info, hasInfo, _, _, err := splitMultiURL(raw)
		if err != nil {
			return "", configErr(envRedisURL, "%v", err)
		}
		user, _, hasPassword := strings.Cut(info, ":")
		if hasPassword {
			return "", both
		}
		if user, err = url.PathUnescape(user); err != nil {
			return "", configErr(envRedisURL, "%v", errHiddenURL)
		}
		i := strings.Index(raw, "://") + len("://")
		rest := raw[i:]
		if hasInfo {
			rest = rest[len(info)+1:]
		}
		return raw[:i] + url.UserPassword(user, password).String() + "@" + rest, nil
	}
	u, err := url.Parse(raw)
	if err != nil { // checkRedisURL passed: not expected
		return "", configErr(envRedisURL, "not a valid URL")
	}
	if _, has := u.User.Password(); has {
		return "", both
	}
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String(), nil
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
		return nil, fmt.Errorf("scheme %q: want redis://, rediss:// (TLS) or unix:// for one server, "+
			"redis+sentinel:// for Sentinel or redis+cluster:// for a cluster, e.g. redis://localhost:6379/0", u.Scheme)
	}
	if u.Query().Has("skip_verify") {
		return nil, errors.New("option \"skip_verify\" turns certificate verification off and is not supported: " +
			"trust your CA with REDIS_TLS_CA_FILE (Config.TLSCAFile), and set REDIS_TLS_SERVER_NAME " +
			"(Config.TLSServerName) if the certificate names another host")
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
		if _, err := c.tlsConfig(fieldNames); err != nil {
			return err
		}
	case BackendRedis:
		if c.RedisURL != "" {
			if err := checkRedisURL(c.RedisURL); err != nil {
				return configErr("RedisURL", "%v", err)
			}
		}
		if _, err := c.tlsConfig(fieldNames); err != nil {
			return err
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
	if c.Policy > core.FailClosed {
		return configErr("Policy", "%v: want core.FailLocal, core.FailOpen or core.FailClosed", c.Policy)
	}
	if c.Timeout < 0 {
		return configErr("Timeout", "%v: must not be negative", c.Timeout)
	}
	return nil
}

// defaultTimeout is the Timeout a zero Config.Timeout stands for.
const defaultTimeout = 50 * time.Millisecond

// timeout returns Timeout, 0 as defaultTimeout.
func (c Config) timeout() time.Duration {
	if c.Timeout == 0 {
		return defaultTimeout
	}
	return c.Timeout
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
//	backend=redis addr=redis+sentinel://:xxxxx@10.0.0.1:26379,10.0.0.2:26379 master=mymaster db=0 prefix=floodgate limit=1/s
//	backend=redis addr=redis+cluster://10.0.0.1:7000,10.0.0.2:7000 prefix=floodgate limit=1/s
//	backend=memory prefix=floodgate limit=20/m burst 5
//	backend=redis addr=redis://redis:6379 db=0 prefix=floodgate limit=1/s policy=closed timeout=200ms
//
// For Redis, "policy=… timeout=…" is appended, both together, when either
// differs from its default (FailLocal, 50 ms); the memory store ignores
// them and never shows them.
//
// A RedisURL that does not parse is shown as "addr=invalid", without its
// text.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("backend=")
	b.WriteString(c.backend())
	if c.backend() == BackendRedis {
		if topologyOf(c.redisURL()) != standalone {
			if m, err := parseMultiURL(c.redisURL()); err == nil {
				b.WriteString(" addr=")
				b.WriteString(m.String())
			} else {
				b.WriteString(" addr=invalid")
			}
		} else if opt, err := parseRedisURL(c.redisURL()); err == nil {
			fmt.Fprintf(&b, " addr=%s db=%d", maskedAddr(opt), opt.DB)
		} else {
			b.WriteString(" addr=invalid")
		}
	}
	b.WriteString(" prefix=")
	b.WriteString(c.prefix())
	b.WriteString(" limit=")
	b.WriteString(c.limit().String())
	if c.backend() == BackendRedis && (c.Policy != core.FailLocal || c.timeout() != defaultTimeout) {
		fmt.Fprintf(&b, " policy=%v timeout=%v", c.Policy, c.timeout())
	}
	if c.backend() == BackendRedis {
		for _, f := range [][2]string{{"tls_ca", c.TLSCAFile}, {"tls_cert", c.TLSCertFile}, {"tls_server_name", c.TLSServerName}} {
			if f[1] != "" {
				fmt.Fprintf(&b, " %s=%s", f[0], f[1])
			}
		}
	}
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
		// redis://SECRET@host: a password without its colon reads as a
		// user name, so a lone user name is masked too.
		u.User = url.User(masked)
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
	if topologyOf(c.RedisURL) != standalone {
		c.RedisURL = redactMultiURL(c.RedisURL)
		return c
	}
	u, err := url.Parse(c.RedisURL)
	if err != nil {
		c.RedisURL = masked
		return c
	}
	if _, has := u.User.Password(); u.User != nil && !has {
		u.User = url.User(masked) // a lone user name may be a password without its colon
	}
	c.RedisURL = u.Redacted()
	return c
}

// Fail-fast client settings applied by RedisOptions.
const (
	dialTimeout   = 500 * time.Millisecond
	readTimeout   = 250 * time.Millisecond
	writeTimeout  = 250 * time.Millisecond
	maxRetries    = -1 // go-redis: -1 disables retries
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
//   - MaxRetries -1, no retries (default 3): a retried EVALSHA whose first
//     attempt did run would count the event twice, so a failed decision
//     follows the limiter's failure policy instead;
//   - DialerRetries 1: despite its name, go-redis v9.23 treats it as the
//     number of dial attempts per new connection, and 0 or less means the
//     default of 5, spaced by DialerRetryTimeout (100 ms). That default makes
//     one call against a dead server take about 1.7 s even with no
//     retries. With 1, each call dials once. The URL cannot set it;
//   - ContextTimeoutEnabled true: a deadline on the ctx of a decision bounds
//     the socket reads and writes too (go-redis ignores it by default).
//
// So against a refused port Open fails in milliseconds, and against a host
// that never answers within about a second at most (500 ms per dial
// attempt, 250 ms per read), unless ctx expires first. Use the result to
// build your own client for redisstore.New if you need to change more.
//
// RedisOptions is for one server: for a redis+sentinel:// or
// redis+cluster:// RedisURL it returns an error; use FailoverOptions or
// ClusterOptions.
func (c Config) RedisOptions() (*redis.Options, error) {
	if t := topologyOf(c.redisURL()); t != standalone {
		return nil, configErr("RedisURL", "a %s URL names no single server: use %s", t, t.optionsMethod())
	}
	opt, err := parseRedisURL(c.redisURL())
	if err != nil {
		return nil, configErr("RedisURL", "%v", err)
	}
	failFast(c.timeout(), &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries)
	opt.DialerRetries = dialerRetries
	opt.ContextTimeoutEnabled = true
	opt.DisableIdentity = true
	if opt.TLSConfig, err = c.applyTLS(opt.TLSConfig); err != nil {
		return nil, err
	}
	return opt, nil
}

// topology is the Redis deployment a RedisURL names.
type topology int

const (
	standalone topology = iota // redis://, rediss://, unix://
	sentinel                   // redis+sentinel://, rediss+sentinel://
	cluster                    // redis+cluster://, rediss+cluster://
)

func (t topology) String() string {
	switch t {
	case sentinel:
		return "redis+sentinel://"
	case cluster:
		return "redis+cluster://"
	}
	return "redis://"
}

// optionsMethod names the Config method that returns t's go-redis options.
func (t topology) optionsMethod() string {
	switch t {
	case sentinel:
		return "FailoverOptions"
	case cluster:
		return "ClusterOptions"
	}
	return "RedisOptions"
}

// topologyOf returns the topology raw's scheme names (any letter case);
// anything else, valid or not, counts as standalone.
func topologyOf(raw string) topology {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return standalone
	}
	switch strings.ToLower(scheme) {
	case "redis+sentinel", "rediss+sentinel":
		return sentinel
	case "redis+cluster", "rediss+cluster":
		return cluster
	}
	return standalone
}

// checkRedisURL reports why raw is not a usable RedisURL of any topology.
// Its errors never hold a password.
func checkRedisURL(raw string) error {
	if topologyOf(raw) != standalone {
		_, err := parseMultiURL(raw)
		return err
	}
	_, err := parseRedisURL(raw)
	return err
}

// multiURL is a parsed redis+sentinel:// or redis+cluster:// URL:
//
//	redis+sentinel://[[user]:password@]host:port[,host:port...]/mastername[/db][?option=value...]
//	redis+cluster://[[user]:password@]host:port[,host:port...][/][?option=value...]
//
// rediss+ instead of redis+ turns TLS on for every connection.
type multiURL struct {
	topo           topology
	tls            bool
	user, password string
	addrs          []string
	master         string // sentinel only
	db             int    // sentinel only
	query          url.Values
}

// multiQueryOptions are the query options a redis+sentinel:// or
// redis+cluster:// URL may set: go-redis' names, as for redis:// URLs.
// Addresses, the master name, the database and credentials come from the
// URL itself; dialer retries and context deadlines are fixed (see
// RedisOptions); read-only and replica routing do not suit a limiter, whose
// every decision writes.
var multiQueryOptions = []string{
	"client_name", "conn_max_idle_time", "conn_max_lifetime", "conn_max_lifetime_jitter",
	"dial_timeout", "max_active_conns", "max_concurrent_dials", "max_idle_conns", "max_retries",
	"max_retry_backoff", "min_idle_conns", "min_retry_backoff", "pool_fifo", "pool_size",
	"pool_timeout", "protocol", "read_timeout", "write_timeout",
}

// clusterQueryOptions are the query options only redis+cluster:// takes.
var clusterQueryOptions = []string{"max_redirects"}

// errHiddenURL reports a URL whose password may be misplaced, without its
// text.
var errHiddenURL = errors.New("not a valid URL; want redis+sentinel://[[user]:password@]host:port[,host:port...]/mastername[/db] " +
	"or redis+cluster://[[user]:password@]host:port[,host:port...], with / ? # @ : % percent-encoded in the " +
	"user and password (the value is not shown as it may hold a password)")

// splitMultiURL splits a redis+sentinel:// or redis+cluster:// URL the way
// net/url would split a URL: the authority ends at the first / ? or #, the
// user info at its last @. It returns the scheme in lower case, the raw
// user info (and whether there is one), the host list, and the rest. It
// fails when an @ follows the authority: a password with an unescaped / ?
// or #.
func splitMultiURL(raw string) (scheme, info string, hasInfo bool, hosts, rest string, err error) {
	scheme, after, _ := strings.Cut(raw, "://")
	scheme = strings.ToLower(scheme)
	end := strings.IndexAny(after, "/?#")
	if end < 0 {
		end = len(after)
	}
	auth, rest := after[:end], after[end:]
	if strings.Contains(rest, "@") {
		return "", "", false, "", "", errHiddenURL
	}
	hosts = auth
	if at := strings.LastIndex(auth, "@"); at >= 0 {
		info, hasInfo, hosts = auth[:at], true, auth[at+1:]
	}
	return scheme, info, hasInfo, hosts, rest, nil
}

// parseMultiURL parses a redis+sentinel:// or redis+cluster:// URL. Its
// errors quote host names, ports, paths and option names, never the user
// info.
func parseMultiURL(raw string) (*multiURL, error) {
	scheme, info, hasInfo, hosts, rest, err := splitMultiURL(raw)
	if err != nil {
		return nil, err
	}
	m := &multiURL{topo: topologyOf(raw), tls: strings.HasPrefix(scheme, "rediss+")}
	if hasInfo {
		user, password, _ := strings.Cut(info, ":")
		var err1, err2 error
		m.user, err1 = url.PathUnescape(user)
		m.password, err2 = url.PathUnescape(password)
		if err1 != nil || err2 != nil {
			return nil, errHiddenURL
		}
	}

	example := "redis+cluster://10.0.0.1:7000,10.0.0.2:7000"
	if m.topo == sentinel {
		example = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0"
	}
	if hosts == "" {
		return nil, fmt.Errorf("no address: want host:port[,host:port...], e.g. %s", example)
	}
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return nil, fmt.Errorf("address %q: want host:port (every address needs its port), e.g. %s", h, example)
		}
		if _, ok := checkHost(host); !ok {
			return nil, fmt.Errorf("address %q: %q is not a host name or an IP address", h, host)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("address %q: port %q: want 1..65535", h, port)
		}
		m.addrs = append(m.addrs, net.JoinHostPort(host, port))
	}

	if strings.Contains(rest, "#") {
		return nil, errors.New("a # fragment is not allowed")
	}
	path, rawQuery, _ := strings.Cut(rest, "?")
	switch m.topo {
	case sentinel:
		segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
		if segs[0] == "" {
			return nil, fmt.Errorf("no master name: want the name Sentinel monitors as the path, e.g. %s", example)
		}
		if len(segs) > 2 {
			return nil, fmt.Errorf("path %q: want /mastername or /mastername/db", path)
		}
		name, err := url.PathUnescape(segs[0])
		if err != nil || !printableNoSpace(name) {
			return nil, fmt.Errorf("master name %q: want printable ASCII without spaces", segs[0])
		}
		m.master = name
		if len(segs) == 2 {
			if m.db, err = strconv.Atoi(segs[1]); err != nil || m.db < 0 {
				return nil, fmt.Errorf("database number %q: want an integer ≥ 0", segs[1])
			}
		}
	case cluster:
		if path != "" && path != "/" {
			return nil, fmt.Errorf("path %q: a cluster URL has no path (Redis Cluster has no master name "+
				"and only database 0), e.g. %s", path, example)
		}
	}

	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("query: %v", err)
	}
	allowed := multiQueryOptions
	if m.topo == cluster {
		allowed = append(append([]string(nil), allowed...), clusterQueryOptions...)
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			return nil, fmt.Errorf("option %q is not supported in a %s URL; supported: %s",
				name, m.topo, strings.Join(allowed, ", "))
		}
	}
	m.query = q
	// Let go-redis check the option values now, so that a Config that
	// validates also opens.
	if m.topo == sentinel {
		_, err = m.failoverOptions()
	} else {
		_, err = m.clusterOptions()
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// printableNoSpace reports whether s is non-empty printable ASCII without
// spaces.
func printableNoSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}

// goRedisURL returns a redis:// URL go-redis' ParseFailoverURL or
// ParseClusterURL reads as m's addresses and options (no credentials: they
// are set apart).
func (m *multiURL) goRedisURL(path string, extra url.Values) string {
	q := url.Values{}
	for k, v := range m.query {
		q[k] = v
	}
	for k, v := range extra {
		q[k] = v
	}
	q["addr"] = m.addrs[1:]
	return "redis://" + m.addrs[0] + path + "?" + q.Encode()
}

// goRedisErr returns err's message with m's password (if any) masked.
func (m *multiURL) goRedisErr(err error) error {
	msg := strings.TrimPrefix(err.Error(), "redis: ")
	if m.password != "" {
		msg = strings.ReplaceAll(msg, m.password, masked)
	}
	return errors.New(msg)
}

func (m *multiURL) tlsConfig() *tls.Config {
	if !m.tls {
		return nil
	}
	// No ServerName: crypto/tls takes it from each address dialled, so
	// every sentinel, master and cluster node is verified by its own name.
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// failoverOptions returns go-redis options for m, a Sentinel URL, before
// the fail-fast defaults.
func (m *multiURL) failoverOptions() (*redis.FailoverOptions, error) {
	opt, err := redis.ParseFailoverURL(m.goRedisURL("/"+strconv.Itoa(m.db),
		url.Values{"master_name": {m.master}}))
	if err != nil {
		return nil, m.goRedisErr(err)
	}
	opt.Username, opt.Password = m.user, m.password
	opt.TLSConfig = m.tlsConfig()
	return opt, nil
}

// clusterOptions returns go-redis options for m, a cluster URL, before the
// fail-fast defaults.
func (m *multiURL) clusterOptions() (*redis.ClusterOptions, error) {
	opt, err := redis.ParseClusterURL(m.goRedisURL("", nil))
	if err != nil {
		return nil, m.goRedisErr(err)
	}
	opt.Username, opt.Password = m.user, m.password
	opt.TLSConfig = m.tlsConfig()
	return opt, nil
}

// String returns m with the password masked and without options:
// scheme://[user[:xxxxx]@]host:port,... and, for Sentinel, " master=NAME
// db=N".
func (m *multiURL) String() string {
	scheme := strings.TrimSuffix(m.topo.String(), "://")
	if m.tls {
		scheme = "rediss" + strings.TrimPrefix(scheme, "redis")
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	switch {
	case m.password != "":
		b.WriteString(url.UserPassword(m.user, masked).String())
		b.WriteString("@")
	case m.user != "":
		b.WriteString(masked) // a lone user name may be a password without its colon
		b.WriteString("@")
	}
	b.WriteString(strings.Join(m.addrs, ","))
	if m.topo == sentinel {
		fmt.Fprintf(&b, " master=%s db=%d", m.master, m.db)
	}
	return b.String()
}

// redactMultiURL returns raw, a redis+sentinel:// or redis+cluster:// URL,
// with its password replaced by "xxxxx", or "xxxxx" if raw cannot be split
// safely.
func redactMultiURL(raw string) string {
	_, info, hasInfo, _, _, err := splitMultiURL(raw)
	if err != nil {
		return masked
	}
	if !hasInfo {
		return raw
	}
	user, _, hasPassword := strings.Cut(info, ":")
	i := strings.Index(raw, "://") + len("://") // info starts the authority
	if !hasPassword {
		return raw[:i] + masked + raw[i+len(info):] // a lone user name may be a password without its colon
	}
	return raw[:i] + user + ":" + masked + raw[i+len(info):]
}

// FailoverOptions returns the go-redis options Open uses for a
// redis+sentinel:// (or rediss+sentinel://) RedisURL, to pass to
// redis.NewFailoverClient, with the fail-fast settings RedisOptions
// describes unless the URL's query sets them. The URL's user and password
// authenticate to the master and its replicas; the Sentinels are asked
// without credentials (set SentinelUsername and SentinelPassword on the
// result if yours need them). For any other RedisURL it returns an error.
func (c Config) FailoverOptions() (*redis.FailoverOptions, error) {
	if t := topologyOf(c.redisURL()); t != sentinel {
		return nil, configErr("RedisURL", "not a redis+sentinel:// URL: use %s", t.optionsMethod())
	}
	m, err := parseMultiURL(c.redisURL())
	if err != nil {
		return nil, configErr("RedisURL", "%v", err)
	}
	opt, err := m.failoverOptions()
	if err != nil {
		return nil, configErr("RedisURL", "%v", err)
	}
	failFast(c.timeout(), &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries)
	opt.DialerRetries = dialerRetries
	opt.ContextTimeoutEnabled = true
	opt.DisableIdentity = true
	if opt.TLSConfig, err = c.applyTLS(opt.TLSConfig); err != nil {
		return nil, err
	}
	return opt, nil
}

// ClusterOptions returns the go-redis options Open uses for a
// redis+cluster:// (or rediss+cluster://) RedisURL, to pass to
// redis.NewClusterClient, with the fail-fast settings RedisOptions
// describes unless the URL's query sets them. The addresses are seeds: the
// client learns the other nodes from the cluster. For any other RedisURL it
// returns an error.
func (c Config) ClusterOptions() (*redis.ClusterOptions, error) {
	if t := topologyOf(c.redisURL()); t != cluster {
		return nil, configErr("RedisURL", "not a redis+cluster:// URL: use %s", t.optionsMethod())
	}
	m, err := parseMultiURL(c.redisURL())
	if err != nil {
		return nil, configErr("RedisURL", "%v", err)
	}
	opt, err := m.clusterOptions()
	if err != nil {
		return nil, configErr("RedisURL", "%v", err)
	}
	failFast(c.timeout(), &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries)
	opt.DialerRetries = dialerRetries
	opt.ContextTimeoutEnabled = true
	opt.DisableIdentity = true
	if opt.TLSConfig, err = c.applyTLS(opt.TLSConfig); err != nil {
		return nil, err
	}
	return opt, nil
}

// failFast fills in the fail-fast defaults where the URL set nothing: the
// floors below, raised to the decision timeout t, so that no timeout of
// the client cuts a call shorter than a decision may wait.
func failFast(t time.Duration, dial, read, write *time.Duration, retries *int) {
	if *dial == 0 {
		*dial = max(dialTimeout, t)
	}
	if *read == 0 {
		*read = max(readTimeout, t)
	}
	if *write == 0 {
		*write = max(writeTimeout, t)
	}
	if *retries == 0 {
		*retries = maxRetries
	}
}
