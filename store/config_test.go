package store_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store"
)

// secret is the password every test uses: long and distinctive, so finding
// it (or its first part) in any output means it leaked.
const secret = "s3cr3t-PW"

// lookup turns a map into a FromLookup argument.
func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// assertNoSecret fails if s holds the test password or its first part.
func assertNoSecret(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, p := range append([]string{secret, "s3cr3t"}, secrets...) {
		if strings.Contains(s, p) {
			t.Errorf("%s leaks the password %q: %s", what, p, s)
		}
	}
}

var defaultLimit = core.Every(time.Second)

func TestFromLookup(t *testing.T) {
	t.Parallel()
	memory := func(prefix string, l core.Limit) store.Config {
		return store.Config{Backend: "memory", Prefix: prefix, Limit: l}
	}
	redisAt := func(url string) store.Config {
		return store.Config{Backend: "redis", RedisURL: url, Prefix: "floodgate", Limit: defaultLimit}
	}
	def := memory("floodgate", defaultLimit)
	tests := []struct {
		name string
		env  map[string]string
		want store.Config
	}{
		// Defaults.
		{"nothing set: memory, floodgate, 1/s", nil, def},
		{"empty values count as unset", map[string]string{
			"FLOODGATE_STORE": "", "REDIS_ENABLED": " ", "REDIS_URL": "", "FLOODGATE_PREFIX": "",
			"REDIS_KEY_PREFIX": "\t", "FLOODGATE_LIMIT": " "}, def},

		// FLOODGATE_STORE.
		{"FLOODGATE_STORE=memory", map[string]string{"FLOODGATE_STORE": "memory"}, def},
		{"FLOODGATE_STORE=redis: default URL", map[string]string{"FLOODGATE_STORE": "redis"}, redisAt("redis://localhost:6379/0")},
		{"FLOODGATE_STORE any case, trimmed", map[string]string{"FLOODGATE_STORE": " ReDiS "}, redisAt("redis://localhost:6379/0")},
		{"FLOODGATE_STORE=MEMORY", map[string]string{"FLOODGATE_STORE": "MEMORY"}, def},

		// REDIS_ENABLED.
		{"REDIS_ENABLED=true", map[string]string{"REDIS_ENABLED": "true"}, redisAt("redis://localhost:6379/0")},
		{"REDIS_ENABLED=TRUE", map[string]string{"REDIS_ENABLED": "TRUE"}, redisAt("redis://localhost:6379/0")},
		{"REDIS_ENABLED=1", map[string]string{"REDIS_ENABLED": "1"}, redisAt("redis://localhost:6379/0")},
		{"REDIS_ENABLED=Yes", map[string]string{"REDIS_ENABLED": "Yes"}, redisAt("redis://localhost:6379/0")},
		{"REDIS_ENABLED=false", map[string]string{"REDIS_ENABLED": "false"}, def},
		{"REDIS_ENABLED=0", map[string]string{"REDIS_ENABLED": "0"}, def},
		{"REDIS_ENABLED=no", map[string]string{"REDIS_ENABLED": "no"}, def},

		// Precedence of the backend.
		{"REDIS_URL alone selects redis", map[string]string{"REDIS_URL": "redis://cache:6379/0"}, redisAt("redis://cache:6379/0")},

		// REDIS_URL.
		{"REDIS_URL", map[string]string{"FLOODGATE_STORE": "redis", "REDIS_URL": "redis://cache.internal:6380/2"},
			redisAt("redis://cache.internal:6380/2")},
		{"REDIS_URL trimmed", map[string]string{"REDIS_ENABLED": "yes", "REDIS_URL": "  redis://cache:6379/1\n"},
			redisAt("redis://cache:6379/1")},
		{"REDIS_URL with user and password", map[string]string{"REDIS_ENABLED": "1", "REDIS_URL": "redis://alice:" + secret + "@cache:6379/0"},
			redisAt("redis://alice:" + secret + "@cache:6379/0")},
		{"REDIS_URL rediss", map[string]string{"REDIS_ENABLED": "1", "REDIS_URL": "rediss://:" + secret + "@cache.example.com:6380/0"},
			redisAt("rediss://:" + secret + "@cache.example.com:6380/0")},
		{"REDIS_URL unix socket", map[string]string{"REDIS_ENABLED": "1", "REDIS_URL": "unix:///run/redis/redis.sock?db=3"},
			redisAt("unix:///run/redis/redis.sock?db=3")},
		{"REDIS_URL with client options", map[string]string{"REDIS_ENABLED": "1", "REDIS_URL": "redis://cache/0?dial_timeout=2s&max_retries=3"},
			redisAt("redis://cache/0?dial_timeout=2s&max_retries=3")},
		{"REDIS_URL sentinel", map[string]string{"REDIS_URL": "redis+sentinel://:" + secret + "@10.0.0.1:26379,10.0.0.2:26379/mymaster/2"},
			redisAt("redis+sentinel://:" + secret + "@10.0.0.1:26379,10.0.0.2:26379/mymaster/2")},
		{"REDIS_URL sentinel, one sentinel, default db", map[string]string{"FLOODGATE_STORE": "redis", "REDIS_URL": "redis+sentinel://sentinel:26379/mymaster"},
			redisAt("redis+sentinel://sentinel:26379/mymaster")},
		{"REDIS_URL sentinel TLS with options", map[string]string{"REDIS_ENABLED": "1", "REDIS_URL": "rediss+sentinel://alice:" + secret + "@[fd00::1]:26379/m?dial_timeout=2s"},
			redisAt("rediss+sentinel://alice:" + secret + "@[fd00::1]:26379/m?dial_timeout=2s")},
		{"REDIS_URL cluster", map[string]string{"REDIS_URL": "redis+cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000"},
			redisAt("redis+cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000")},
		{"REDIS_URL cluster TLS, password, max_redirects", map[string]string{"REDIS_ENABLED": "yes", "REDIS_URL": "rediss+cluster://:" + secret + "@node:7000/?max_redirects=5"},
			redisAt("rediss+cluster://:" + secret + "@node:7000/?max_redirects=5")},

		// One rule set: whatever is set is used, or is an error.
		{"FLOODGATE_STORE and REDIS_ENABLED agreeing", map[string]string{
			"FLOODGATE_STORE": "redis", "REDIS_ENABLED": "true"}, redisAt("redis://localhost:6379/0")},
		{"REDIS_ENABLED=false alone", map[string]string{"REDIS_ENABLED": "false"}, def},
		{"REDIS_HOST alone selects redis", map[string]string{"REDIS_HOST": "cache"}, redisAt("redis://cache:6379/0")},
		{"REDIS_PASSWORD alone selects redis", map[string]string{"REDIS_PASSWORD": secret},
			redisAt("redis://:" + secret + "@localhost:6379/0")},
		{"REDIS_URL + REDIS_PASSWORD combine", map[string]string{"REDIS_URL": "redis://cache:6379/2", "REDIS_PASSWORD": "p@ss/w:rd"},
			redisAt("redis://:p%40ss%2Fw%3Ard@cache:6379/2")},
		{"REDIS_URL with user + REDIS_PASSWORD combine", map[string]string{"REDIS_URL": "rediss://bot@cache:6380/0", "REDIS_PASSWORD": secret},
			redisAt("rediss://bot:" + secret + "@cache:6380/0")},
		{"sentinel REDIS_URL + REDIS_PASSWORD combine", map[string]string{"REDIS_URL": "redis+sentinel://s1:26379,s2:26379/m", "REDIS_PASSWORD": secret},
			redisAt("redis+sentinel://:" + secret + "@s1:26379,s2:26379/m")},
		{"cluster REDIS_URL with user + REDIS_PASSWORD combine", map[string]string{"REDIS_URL": "redis+cluster://bot@n1:7000", "REDIS_PASSWORD": secret},
			redisAt("redis+cluster://bot:" + secret + "@n1:7000")},
		{"FLOODGATE_PREFIX and REDIS_KEY_PREFIX alike", map[string]string{
			"FLOODGATE_PREFIX": "tenant7", "REDIS_KEY_PREFIX": "tenant7"}, memory("tenant7", defaultLimit)},
		// REDIS_HOST, REDIS_PORT, REDIS_DB, REDIS_PASSWORD.
		{"REDIS_HOST", map[string]string{"REDIS_ENABLED": "true", "REDIS_HOST": "redis.internal"},
			redisAt("redis://redis.internal:6379/0")},
		{"REDIS_HOST IPv4", map[string]string{"REDIS_ENABLED": "true", "REDIS_HOST": "10.0.0.7"},
			redisAt("redis://10.0.0.7:6379/0")},
		{"REDIS_HOST IPv6", map[string]string{"REDIS_ENABLED": "true", "REDIS_HOST": "::1"},
			redisAt("redis://[::1]:6379/0")},
		{"REDIS_HOST IPv6 in brackets", map[string]string{"REDIS_ENABLED": "true", "REDIS_HOST": "[fd00::7]"},
			redisAt("redis://[fd00::7]:6379/0")},
		{"REDIS_PORT", map[string]string{"REDIS_ENABLED": "true", "REDIS_PORT": "6380"},
			redisAt("redis://localhost:6380/0")},
		{"REDIS_PORT 1 and 65535 are ports", map[string]string{"REDIS_ENABLED": "true", "REDIS_HOST": "h", "REDIS_PORT": "65535"},
			redisAt("redis://h:65535/0")},
		{"REDIS_PORT lowest", map[string]string{"REDIS_ENABLED": "true", "REDIS_PORT": "1"},
			redisAt("redis://localhost:1/0")},
		{"REDIS_DB", map[string]string{"REDIS_ENABLED": "true", "REDIS_DB": "3"},
			redisAt("redis://localhost:6379/3")},
		{"REDIS_DB 0", map[string]string{"REDIS_ENABLED": "true", "REDIS_DB": "0"},
			redisAt("redis://localhost:6379/0")},
		{"REDIS_PASSWORD", map[string]string{"REDIS_ENABLED": "true", "REDIS_PASSWORD": secret},
			redisAt("redis://:" + secret + "@localhost:6379/0")},
		{"REDIS_PASSWORD escaped", map[string]string{"REDIS_ENABLED": "true", "REDIS_PASSWORD": "p@ss/w:rd?#%"},
			redisAt("redis://:p%40ss%2Fw%3Ard%3F%23%25@localhost:6379/0")},
		{"all four, as in the replaced middleware's .env", map[string]string{
			"REDIS_ENABLED": "true", "REDIS_HOST": "redis", "REDIS_PORT": "6380", "REDIS_DB": "2",
			"REDIS_PASSWORD": secret, "REDIS_KEY_PREFIX": "booking_bot:client1"},
			store.Config{Backend: "redis", RedisURL: "redis://:" + secret + "@redis:6380/2",
				Prefix: "booking_bot:client1", Limit: defaultLimit}},

		// Prefix.
		{"REDIS_KEY_PREFIX", map[string]string{"REDIS_KEY_PREFIX": "booking_bot:client1"}, memory("booking_bot:client1", defaultLimit)},
		{"FLOODGATE_PREFIX", map[string]string{"FLOODGATE_PREFIX": "tenant7"}, memory("tenant7", defaultLimit)},

		// Limit.
		{"FLOODGATE_LIMIT", map[string]string{"FLOODGATE_LIMIT": "20/m burst 5"},
			memory("floodgate", core.Limit{Rate: 20, Period: time.Minute, Burst: 5})},
		{"FLOODGATE_LIMIT sub-second", map[string]string{"FLOODGATE_LIMIT": "1/500ms"},
			memory("floodgate", core.Every(500*time.Millisecond))},
		{"FLOODGATE_LIMIT 1.5s, the period the old middleware rounded to 2 s", map[string]string{"FLOODGATE_LIMIT": "1/1.5s"},
			memory("floodgate", core.Every(1500*time.Millisecond))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := store.FromLookup(lookup(tt.env))
			if err != nil {
				t.Fatalf("FromLookup: %v", err)
			}
			if got != tt.want {
				t.Errorf("FromLookup =\n  %#v\nwant\n  %#v", got.Redacted(), tt.want.Redacted())
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			assertNoSecret(t, "String()", got.String())
			assertNoSecret(t, "Redacted()", fmt.Sprintf("%+v", struct{ URL string }{got.Redacted().RedisURL}))
			switch {
			case strings.Contains(got.RedisURL, "+sentinel://"):
				if _, err := got.FailoverOptions(); err != nil {
					t.Fatalf("FailoverOptions: %v", err)
				}
			case strings.Contains(got.RedisURL, "+cluster://"):
				if _, err := got.ClusterOptions(); err != nil {
					t.Fatalf("ClusterOptions: %v", err)
				}
			case got.Backend == "redis":
				opt, err := got.RedisOptions()
				if err != nil {
					t.Fatalf("RedisOptions: %v", err)
				}
				if pw := tt.env["REDIS_PASSWORD"]; pw != "" && tt.env["REDIS_URL"] == "" && opt.Password != pw {
					t.Errorf("password %q reached go-redis as %q", pw, opt.Password)
				}
			}
		})
	}
}

func TestFromLookupErrors(t *testing.T) {
	t.Parallel()
	redis := func(kv ...string) map[string]string {
		env := map[string]string{"FLOODGATE_STORE": "redis"}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	tests := []struct {
		name     string
		env      map[string]string
		variable string   // the error must name it
		mention  []string // and say these
	}{
		// One rule set: a variable set but not used is an error naming it.
		{"FLOODGATE_STORE=memory + REDIS_URL", map[string]string{"FLOODGATE_STORE": "memory", "REDIS_URL": "redis://cache/0"},
			"REDIS_URL", []string{"FLOODGATE_STORE", "memory"}},
		{"REDIS_ENABLED=false + REDIS_HOST, REDIS_PORT", map[string]string{"REDIS_ENABLED": "false", "REDIS_HOST": "h", "REDIS_PORT": "1"},
			"REDIS_HOST", []string{"REDIS_ENABLED", "REDIS_PORT"}},
		{"FLOODGATE_STORE=memory + REDIS_ENABLED=true", map[string]string{"FLOODGATE_STORE": "memory", "REDIS_ENABLED": "true"},
			"REDIS_ENABLED", []string{"FLOODGATE_STORE"}},
		{"FLOODGATE_STORE + a bad REDIS_ENABLED", map[string]string{"FLOODGATE_STORE": "memory", "REDIS_ENABLED": "maybe"},
			"REDIS_ENABLED", []string{"maybe"}},
		{"REDIS_URL + REDIS_HOST", redis("REDIS_URL", "redis://cache/0", "REDIS_HOST", "other"), "REDIS_HOST", []string{"REDIS_URL"}},
		{"REDIS_URL + REDIS_DB", redis("REDIS_URL", "redis+cluster://n1:7000", "REDIS_DB", "1"), "REDIS_DB", []string{"REDIS_URL"}},
		{"REDIS_URL with password + REDIS_PASSWORD", redis("REDIS_URL", "redis://:"+secret+"@cache/0", "REDIS_PASSWORD", "other"),
			"REDIS_PASSWORD", []string{"REDIS_URL"}},
		{"sentinel REDIS_URL with password + REDIS_PASSWORD", redis("REDIS_URL", "redis+sentinel://:"+secret+"@s1:1/m", "REDIS_PASSWORD", "x"),
			"REDIS_PASSWORD", []string{"REDIS_URL"}},
		{"REDIS_KEY_PREFIX differs from FLOODGATE_PREFIX", map[string]string{"FLOODGATE_PREFIX": "a", "REDIS_KEY_PREFIX": "b"},
			"REDIS_KEY_PREFIX", []string{"FLOODGATE_PREFIX"}},
		{"skip_verify refused", redis("REDIS_URL", "rediss://cache/0?skip_verify=true"), "REDIS_URL", []string{"skip_verify", "REDIS_TLS_CA_FILE"}},
		{"TLS CA with a plain URL", redis("REDIS_URL", "redis://cache/0", "REDIS_TLS_CA_FILE", "/ca.pem"), "REDIS_TLS_CA_FILE", []string{"rediss://"}},
		{"TLS CA missing file", redis("REDIS_URL", "rediss://cache/0", "REDIS_TLS_CA_FILE", "/nonexistent/ca.pem"), "REDIS_TLS_CA_FILE", []string{"/nonexistent/ca.pem"}},
		{"TLS cert without key", redis("REDIS_URL", "rediss://cache/0", "REDIS_TLS_CERT_FILE", "/c.pem"), "REDIS_TLS_KEY_FILE", []string{"REDIS_TLS_CERT_FILE"}},
		{"TLS server name on memory", map[string]string{"FLOODGATE_STORE": "memory", "REDIS_TLS_SERVER_NAME": "x"}, "REDIS_TLS_SERVER_NAME", []string{"memory"}},
		{"FLOODGATE_STORE unknown", map[string]string{"FLOODGATE_STORE": "postgres"}, "FLOODGATE_STORE", []string{"postgres", "memory", "redis"}},
		{"FLOODGATE_STORE given a URL", map[string]string{"FLOODGATE_STORE": "redis://x"}, "FLOODGATE_STORE", []string{"memory", "redis"}},
		{"REDIS_ENABLED unknown", map[string]string{"REDIS_ENABLED": "ture"}, "REDIS_ENABLED", []string{"ture", "true", "false", "yes", "no"}},
		{"REDIS_ENABLED=on is not accepted", map[string]string{"REDIS_ENABLED": "on"}, "REDIS_ENABLED", []string{`"on"`}},

		{"REDIS_URL without scheme", redis("REDIS_URL", "localhost:6379"), "REDIS_URL", []string{"redis://", "rediss://", "unix://"}},
		{"REDIS_URL http", redis("REDIS_URL", "http://cache:6379/0"), "REDIS_URL", []string{`"http"`}},
		{"REDIS_URL bad port with password", redis("REDIS_URL", "redis://alice:"+secret+"@cache:abc/0"), "REDIS_URL", []string{"not a valid URL"}},
		{"REDIS_URL unescaped / in password", redis("REDIS_URL", "redis://alice:s3cr3t/PW@cache:6379/0"), "REDIS_URL", []string{"percent-encoded"}},
		{"REDIS_URL unescaped @ in password", redis("REDIS_URL", "redis://alice:s3cr3t@PW@cache:6379/0/1"), "REDIS_URL", []string{"path"}},
		{"REDIS_URL bad escape in password", redis("REDIS_URL", "redis://alice:"+secret+"%zz@cache:6379/0"), "REDIS_URL", []string{"not a valid URL"}},
		{"REDIS_URL bad db with password", redis("REDIS_URL", "redis://alice:"+secret+"@cache:6379/zero"), "REDIS_URL", []string{"database"}},
		{"REDIS_URL negative db", redis("REDIS_URL", "redis://:"+secret+"@cache:6379/-1"), "REDIS_URL", []string{"-1"}},
		{"REDIS_URL port out of range", redis("REDIS_URL", "redis://:"+secret+"@cache:70000/0"), "REDIS_URL", []string{"70000"}},
		{"REDIS_URL unknown option", redis("REDIS_URL", "redis://cache:6379/0?password="+secret), "REDIS_URL", []string{"password"}},
		{"REDIS_URL bad option value", redis("REDIS_URL", "redis://:"+secret+"@cache:6379/0?max_retries=many"), "REDIS_URL", []string{"max_retries"}},
		{"REDIS_URL unix without path", redis("REDIS_URL", "unix://:"+secret+"@"), "REDIS_URL", []string{"unix"}},

		// Sentinel.
		{"sentinel without master name", redis("REDIS_URL", "redis+sentinel://:"+secret+"@s1:26379"), "REDIS_URL", []string{"master name", "/mymaster"}},
		{"sentinel without master name, trailing slash", redis("REDIS_URL", "redis+sentinel://s1:26379/"), "REDIS_URL", []string{"master name"}},
		{"sentinel address without port", redis("REDIS_URL", "redis+sentinel://:"+secret+"@s1:26379,s2/m"), "REDIS_URL", []string{`"s2"`, "port"}},
		{"sentinel empty address", redis("REDIS_URL", "redis+sentinel://s1:26379,,s2:26379/m"), "REDIS_URL", []string{`address ""`}},
		{"sentinel no address", redis("REDIS_URL", "redis+sentinel://:"+secret+"@/m"), "REDIS_URL", []string{"no address"}},
		{"sentinel port out of range", redis("REDIS_URL", "redis+sentinel://s1:0/m"), "REDIS_URL", []string{`"0"`, "1..65535"}},
		{"sentinel bad host", redis("REDIS_URL", "redis+sentinel://s_1!:26379/m"), "REDIS_URL", []string{"s_1!"}},
		{"sentinel bad db", redis("REDIS_URL", "redis+sentinel://:"+secret+"@s1:26379/m/zero"), "REDIS_URL", []string{"database", `"zero"`}},
		{"sentinel negative db", redis("REDIS_URL", "redis+sentinel://s1:26379/m/-1"), "REDIS_URL", []string{"database", "≥ 0"}},
		{"sentinel path too long", redis("REDIS_URL", "redis+sentinel://s1:26379/m/0/1"), "REDIS_URL", []string{"/mastername/db"}},
		{"sentinel master name with space", redis("REDIS_URL", "redis+sentinel://s1:26379/my%20master"), "REDIS_URL", []string{"master name"}},
		{"sentinel master_name option", redis("REDIS_URL", "redis+sentinel://s1:26379/m?master_name=x"), "REDIS_URL", []string{`"master_name"`, "dial_timeout"}},
		{"sentinel password option", redis("REDIS_URL", "redis+sentinel://s1:26379/m?password="+secret), "REDIS_URL", []string{`"password"`}},
		{"sentinel replica_only option", redis("REDIS_URL", "redis+sentinel://s1:26379/m?replica_only=true"), "REDIS_URL", []string{`"replica_only"`}},
		{"sentinel max_redirects option", redis("REDIS_URL", "redis+sentinel://s1:26379/m?max_redirects=3"), "REDIS_URL", []string{`"max_redirects"`}},
		{"sentinel bad option value", redis("REDIS_URL", "redis+sentinel://:"+secret+"@s1:26379/m?max_retries=many"), "REDIS_URL", []string{"max_retries"}},
		{"sentinel bad query escape", redis("REDIS_URL", "redis+sentinel://s1:26379/m?%zz"), "REDIS_URL", []string{"query"}},
		{"sentinel fragment", redis("REDIS_URL", "redis+sentinel://s1:26379/m#x"), "REDIS_URL", []string{"fragment"}},
		{"sentinel unescaped / in password", redis("REDIS_URL", "redis+sentinel://:s3cr3t/PW@s1:26379/m"), "REDIS_URL", []string{"percent-encoded"}},
		{"sentinel unescaped ? in password", redis("REDIS_URL", "redis+sentinel://alice:s3cr3t?PW@s1:26379/m"), "REDIS_URL", []string{"percent-encoded"}},
		{"sentinel bad escape in password", redis("REDIS_URL", "redis+sentinel://alice:"+secret+"%zz@s1:26379/m"), "REDIS_URL", []string{"percent-encoded"}},

		// Cluster.
		{"cluster with db", redis("REDIS_URL", "redis+cluster://:"+secret+"@n1:7000/0"), "REDIS_URL", []string{`"/0"`, "no path"}},
		{"cluster with master name", redis("REDIS_URL", "redis+cluster://n1:7000/mymaster"), "REDIS_URL", []string{"no path"}},
		{"cluster address without port", redis("REDIS_URL", "redis+cluster://n1:7000,n2"), "REDIS_URL", []string{`"n2"`, "port"}},
		{"cluster no address", redis("REDIS_URL", "redis+cluster://"), "REDIS_URL", []string{"no address"}},
		{"cluster port out of range", redis("REDIS_URL", "redis+cluster://:"+secret+"@n1:70000"), "REDIS_URL", []string{"70000"}},
		{"cluster IPv6 without brackets", redis("REDIS_URL", "redis+cluster://::1:7000"), "REDIS_URL", []string{"::1:7000"}},
		{"cluster addr option", redis("REDIS_URL", "redis+cluster://n1:7000?addr=n2:7000"), "REDIS_URL", []string{`"addr"`, "max_redirects"}},
		{"cluster read_only option", redis("REDIS_URL", "redis+cluster://n1:7000?read_only=true"), "REDIS_URL", []string{`"read_only"`}},
		{"cluster dialer_retries option", redis("REDIS_URL", "redis+cluster://n1:7000?dialer_retries=5"), "REDIS_URL", []string{`"dialer_retries"`}},
		{"cluster bad option value", redis("REDIS_URL", "redis+cluster://:"+secret+"@n1:7000?dial_timeout=soon"), "REDIS_URL", []string{"dial_timeout"}},
		{"cluster unescaped / in password", redis("REDIS_URL", "redis+cluster://alice:s3cr3t/PW@n1:7000"), "REDIS_URL", []string{"percent-encoded"}},
		{"cluster unescaped # in password", redis("REDIS_URL", "rediss+cluster://:s3cr3t#PW@n1:7000"), "REDIS_URL", []string{"percent-encoded"}},
		{"unknown + scheme", redis("REDIS_URL", "redis+shard://n1:7000"), "REDIS_URL", []string{"redis+sentinel://", "redis+cluster://"}},

		{"REDIS_HOST with port", redis("REDIS_HOST", "cache:6379"), "REDIS_HOST", []string{"REDIS_PORT"}},
		{"REDIS_HOST as URL", redis("REDIS_HOST", "redis://cache"), "REDIS_HOST", nil},
		{"REDIS_HOST with space", redis("REDIS_HOST", "ca che"), "REDIS_HOST", nil},
		{"REDIS_HOST with user", redis("REDIS_HOST", "alice@cache", "REDIS_PASSWORD", secret), "REDIS_HOST", nil},
		{"REDIS_PORT 0", redis("REDIS_PORT", "0"), "REDIS_PORT", []string{"1..65535"}},
		{"REDIS_PORT 65536", redis("REDIS_PORT", "65536"), "REDIS_PORT", []string{"65536"}},
		{"REDIS_PORT negative", redis("REDIS_PORT", "-6379"), "REDIS_PORT", nil},
		{"REDIS_PORT text", redis("REDIS_PORT", "redis"), "REDIS_PORT", nil},
		{"REDIS_PORT with password set", redis("REDIS_PORT", "x", "REDIS_PASSWORD", secret), "REDIS_PORT", nil},
		{"REDIS_DB negative", redis("REDIS_DB", "-1"), "REDIS_DB", []string{"≥ 0"}},
		{"REDIS_DB text", redis("REDIS_DB", "zero", "REDIS_PASSWORD", secret), "REDIS_DB", nil},
		{"REDIS_DB huge", redis("REDIS_DB", "99999999999999999999"), "REDIS_DB", nil},

		{"FLOODGATE_PREFIX with space", map[string]string{"FLOODGATE_PREFIX": "my bot"}, "FLOODGATE_PREFIX", nil},
		{"FLOODGATE_PREFIX with brace", map[string]string{"FLOODGATE_PREFIX": "bot{1}", "REDIS_KEY_PREFIX": "ok"}, "FLOODGATE_PREFIX", nil},
		{"REDIS_KEY_PREFIX too long", map[string]string{"REDIS_KEY_PREFIX": strings.Repeat("p", 129)}, "REDIS_KEY_PREFIX", nil},
		{"REDIS_KEY_PREFIX non-ASCII", map[string]string{"REDIS_KEY_PREFIX": "бот"}, "REDIS_KEY_PREFIX", nil},

		{"FLOODGATE_LIMIT text", map[string]string{"FLOODGATE_LIMIT": "fast"}, "FLOODGATE_LIMIT", []string{"RATE/PERIOD"}},
		{"FLOODGATE_LIMIT rate 0", map[string]string{"FLOODGATE_LIMIT": "0/s"}, "FLOODGATE_LIMIT", nil},
		{"FLOODGATE_LIMIT burst 0", map[string]string{"FLOODGATE_LIMIT": "20/m burst 0"}, "FLOODGATE_LIMIT", []string{"Burst"}},
		{"FLOODGATE_LIMIT the old rate_limit float", map[string]string{"FLOODGATE_LIMIT": "1.0"}, "FLOODGATE_LIMIT", nil},
		{"FLOODGATE_LIMIT period under 1 ms", map[string]string{"FLOODGATE_LIMIT": "1/100us"}, "FLOODGATE_LIMIT", []string{"Period"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := store.FromLookup(lookup(tt.env))
			if err == nil {
				t.Fatalf("FromLookup = %v, want an error naming %s", cfg, tt.variable)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, "store: ") {
				t.Errorf("error does not start with %q", "store: ")
			}
			if !strings.Contains(msg, tt.variable) {
				t.Errorf("error does not name %s", tt.variable)
			}
			for _, m := range tt.mention {
				if !strings.Contains(msg, m) {
					t.Errorf("error does not mention %q", m)
				}
			}
			if !errors.Is(err, store.ErrInvalidConfig) {
				t.Errorf("error does not wrap ErrInvalidConfig")
			}
			if tt.variable == "FLOODGATE_LIMIT" && !errors.Is(err, core.ErrInvalidLimit) {
				t.Errorf("error does not wrap core.ErrInvalidLimit")
			}
			if cfg != (store.Config{}) {
				t.Errorf("FromLookup returned %v with its error, want the zero Config", cfg)
			}
			assertNoSecret(t, "error", msg)
			for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
				assertNoSecret(t, "wrapped error", e.Error())
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	// t.Setenv: not parallel.
	t.Setenv("FLOODGATE_STORE", "redis")
	t.Setenv("REDIS_URL", "redis://:"+secret+"@env-host:6390/1")
	t.Setenv("FLOODGATE_PREFIX", "from_env")
	t.Setenv("FLOODGATE_LIMIT", "3/s")
	cfg, err := store.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := "backend=redis addr=redis://:xxxxx@env-host:6390 db=1 prefix=from_env limit=3/s"
	if got := cfg.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestConfigString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  store.Config
		want string
	}{
		{store.Config{}, "backend=memory prefix=floodgate limit=1/s"},
		{store.Config{Backend: "MEMORY", Prefix: "tenant7", Limit: core.PerMinute(20).WithBurst(5)},
			"backend=memory prefix=tenant7 limit=20/m burst 5"},
		{store.Config{Backend: "redis"}, "backend=redis addr=redis://localhost:6379 db=0 prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "redis://:" + secret + "@redis:6380/2", Prefix: "booking_bot:client1"},
			"backend=redis addr=redis://:xxxxx@redis:6380 db=2 prefix=booking_bot:client1 limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "rediss://alice:" + secret + "@cache.example.com:6380/0?dial_timeout=2s"},
			"backend=redis addr=rediss://alice:xxxxx@cache.example.com:6380 db=0 prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "redis://alice@cache/4"},
			"backend=redis addr=redis://xxxxx@cache:6379 db=4 prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "redis://[::1]:7000"},
			"backend=redis addr=redis://[::1]:7000 db=0 prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "unix:///run/redis.sock?db=3"},
			"backend=redis addr=unix:///run/redis.sock db=3 prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "unix://alice:" + secret + "@/run/redis.sock"},
			"backend=redis addr=unix://alice:xxxxx@/run/redis.sock db=0 prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "redis+sentinel://:" + secret + "@10.0.0.1:26379,10.0.0.2:26379/mymaster/2?dial_timeout=2s"},
			"backend=redis addr=redis+sentinel://:xxxxx@10.0.0.1:26379,10.0.0.2:26379 master=mymaster db=2 prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "REDISS+SENTINEL://alice@[fd00::1]:26379/m"},
			"backend=redis addr=rediss+sentinel://xxxxx@[fd00::1]:26379 master=m db=0 prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "redis+cluster://10.0.0.1:7000,10.0.0.2:7000"},
			"backend=redis addr=redis+cluster://10.0.0.1:7000,10.0.0.2:7000 prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "rediss+cluster://alice:" + secret + "@n1:7000/?max_redirects=2"},
			"backend=redis addr=rediss+cluster://alice:xxxxx@n1:7000 prefix=floodgate limit=1/s"},
		// Invalid Configs still print, without the secret.
		{store.Config{Backend: "redis", RedisURL: "redis://alice:" + secret + "@cache:abc/0"},
			"backend=redis addr=invalid prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "redis://alice:" + secret + "@cache/0?bogus=1"},
			"backend=redis addr=invalid prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "redis+sentinel://alice:" + secret + "@s1:26379"},
			"backend=redis addr=invalid prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", RedisURL: "redis+cluster://alice:" + secret + "/x@n1:7000"},
			"backend=redis addr=invalid prefix=floodgate limit=1/s"},
		// Policy and timeout: for Redis both, when either is not the
		// default; never for memory, which ignores them.
		{store.Config{Backend: "redis", Policy: core.FailLocal, Timeout: 50 * time.Millisecond},
			"backend=redis addr=redis://localhost:6379 db=0 prefix=floodgate limit=1/s"},
		{store.Config{Backend: "redis", Policy: core.FailOpen},
			"backend=redis addr=redis://localhost:6379 db=0 prefix=floodgate limit=1/s policy=open timeout=50ms"},
		{store.Config{Backend: "redis", Timeout: time.Second},
			"backend=redis addr=redis://localhost:6379 db=0 prefix=floodgate limit=1/s policy=local timeout=1s"},
		{store.Config{Policy: core.FailClosed, Timeout: time.Second}, "backend=memory prefix=floodgate limit=1/s"},
	}
	for _, tt := range tests {
		got := tt.cfg.String()
		if got != tt.want {
			t.Errorf("String() =\n  %s\nwant\n  %s", got, tt.want)
		}
		assertNoSecret(t, "String()", got)
	}
}

// TestConfigNeverPrintsPassword prints a Config every way a program might.
func TestConfigNeverPrintsPassword(t *testing.T) {
	t.Parallel()
	cfg := store.Config{Backend: "redis", RedisURL: "redis://alice:" + secret + "@cache:6379/0"}
	want := cfg.String()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%T %v"} {
		got := fmt.Sprintf(verb, cfg)
		assertNoSecret(t, verb, got)
		if verb != "%T %v" && got != want {
			t.Errorf("Sprintf(%s) = %q, want String() %q", verb, got, want)
		}
	}
	assertNoSecret(t, "%v of a pointer", fmt.Sprintf("%v", &cfg))
	assertNoSecret(t, "%v in a struct", fmt.Sprintf("%+v", struct{ C store.Config }{cfg}))
	if got, want := fmt.Sprintf("%q", cfg), fmt.Sprintf("%q", cfg.String()); got != want {
		t.Errorf("%%q = %s, want %s", got, want)
	}

	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("opening store", "config", cfg)
		assertNoSecret(t, "slog", buf.String())
		if !strings.Contains(buf.String(), "xxxxx") {
			t.Errorf("slog output does not show the masked config: %s", buf.String())
		}
	}

	red := cfg.Redacted()
	if red.RedisURL != "redis://alice:xxxxx@cache:6379/0" {
		t.Errorf("Redacted().RedisURL = %q", red.RedisURL)
	}
	js, err := json.Marshal(red)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "json of Redacted()", string(js))
	if cfg.RedisURL != "redis://alice:"+secret+"@cache:6379/0" {
		t.Errorf("Redacted changed the original")
	}
	bad := store.Config{Backend: "redis", RedisURL: "redis://alice:" + secret + "@cache:abc/0"}
	if got := bad.Redacted().RedisURL; got != "xxxxx" {
		t.Errorf("Redacted() of an unparsable URL = %q, want xxxxx", got)
	}
	if got := (store.Config{}).Redacted(); got != (store.Config{}) {
		t.Errorf("Redacted() of the zero Config = %v", got)
	}

	// Sentinel and cluster URLs: the password masked, the rest verbatim.
	for raw, want := range map[string]string{
		"redis+sentinel://:" + secret + "@s1:26379,s2:26379/mymaster/1?dial_timeout=2s": "redis+sentinel://:xxxxx@s1:26379,s2:26379/mymaster/1?dial_timeout=2s",
		"rediss+cluster://alice:" + secret + "@n1:7000,n2:7000":                         "rediss+cluster://alice:xxxxx@n1:7000,n2:7000",
		"redis+cluster://alice@n1:7000":                                                 "redis+cluster://xxxxx@n1:7000",
		"redis+sentinel://" + secret + "@s1:26379/m":                                    "redis+sentinel://xxxxx@s1:26379/m", // a password without its colon
		"redis://" + secret + "@cache:6379/0":                                           "redis://xxxxx@cache:6379/0",
		"rediss://" + secret + "@cache:6380/0":                                          "rediss://xxxxx@cache:6380/0",
		"redis+cluster://n1:7000,n2:7000":                                               "redis+cluster://n1:7000,n2:7000",
		"redis+cluster://:" + secret + "@n1:bad":                                        "redis+cluster://:xxxxx@n1:bad", // invalid, still redacted
		"redis+sentinel://:s3cr3t/PW@s1:26379/m":                                        "xxxxx",                         // the password's end is unknown
	} {
		cfg := store.Config{Backend: "redis", RedisURL: raw}
		if got := cfg.Redacted().RedisURL; got != want {
			t.Errorf("Redacted().RedisURL of %s = %q, want %q", raw, got, want)
		}
		for _, verb := range []string{"%v", "%#v", "%s"} {
			assertNoSecret(t, verb, fmt.Sprintf(verb, cfg))
		}
		js, _ := json.Marshal(cfg.Redacted())
		assertNoSecret(t, "json of Redacted()", string(js))
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := []store.Config{
		{},
		{Backend: "memory"},
		{Backend: "Redis"},
		{Backend: "redis", RedisURL: "rediss://:" + secret + "@cache:6380/1"},
		{Prefix: "booking_bot:client1", Limit: core.Limit{Rate: 100, Period: time.Hour, Burst: 10}},
		{Backend: "redis", RedisURL: "redis+sentinel://:" + secret + "@s1:26379,s2:26379/mymaster/1"},
		{Backend: "redis", RedisURL: "redis+cluster://n1:7000,n2:7000,n3:7000?pool_size=20"},
	}
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("%v: Validate() = %v", c, err)
		}
	}
	bad := []struct {
		cfg   store.Config
		field string
		is    error
	}{
		{store.Config{Backend: "postgres"}, "Backend", nil},
		{store.Config{RedisURL: "redis://cache:6379/0"}, "RedisURL", nil},
		{store.Config{Backend: "memory", RedisURL: "redis://:" + secret + "@cache:6379/0"}, "RedisURL", nil},
		{store.Config{Backend: "redis", RedisURL: "redis://:" + secret + "@cache:x/0"}, "RedisURL", nil},
		{store.Config{Backend: "redis", RedisURL: "memcached://cache"}, "RedisURL", nil},
		{store.Config{Backend: "memory", RedisURL: "redis+cluster://n1:7000"}, "RedisURL", nil},
		{store.Config{Backend: "redis", RedisURL: "redis+sentinel://:" + secret + "@s1:26379"}, "RedisURL", nil},
		{store.Config{Backend: "redis", RedisURL: "redis+cluster://:" + secret + "@n1:7000/1"}, "RedisURL", nil},
		{store.Config{Prefix: "a b"}, "Prefix", core.ErrInvalidOption},
		{store.Config{Limit: core.Limit{Rate: 1, Period: time.Second}}, "Limit", core.ErrInvalidLimit},
		{store.Config{Limit: core.Limit{Rate: 0, Period: time.Second, Burst: 1}}, "Limit", core.ErrInvalidLimit},
	}
	for _, tt := range bad {
		err := tt.cfg.Validate()
		if err == nil {
			t.Errorf("%v: Validate() = nil, want an error naming %s", tt.cfg, tt.field)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "store: ") || !strings.Contains(msg, tt.field) {
			t.Errorf("Validate() = %q, want it to start with %q and name %s", msg, "store: ", tt.field)
		}
		if !errors.Is(err, store.ErrInvalidConfig) {
			t.Errorf("Validate() = %q does not wrap ErrInvalidConfig", msg)
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("Validate() = %q does not wrap %v", msg, tt.is)
		}
		assertNoSecret(t, "Validate()", msg)
	}
}

func TestRedisOptions(t *testing.T) {
	t.Parallel()
	t.Run("fail-fast defaults", func(t *testing.T) {
		opt, err := store.Config{Backend: "redis"}.RedisOptions()
		if err != nil {
			t.Fatal(err)
		}
		if opt.Addr != "localhost:6379" || opt.DB != 0 || opt.Network != "tcp" {
			t.Errorf("address = %s %s db %d, want tcp localhost:6379 db 0", opt.Network, opt.Addr, opt.DB)
		}
		if opt.DialTimeout != 500*time.Millisecond || opt.ReadTimeout != 250*time.Millisecond ||
			opt.WriteTimeout != 250*time.Millisecond || opt.MaxRetries != -1 || opt.DialerRetries != 1 ||
			!opt.ContextTimeoutEnabled {
			t.Errorf("timeouts: dial %v read %v write %v, MaxRetries %d, DialerRetries %d, ContextTimeoutEnabled %v",
				opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.MaxRetries, opt.DialerRetries, opt.ContextTimeoutEnabled)
		}
		if opt.TLSConfig != nil {
			t.Errorf("TLS configured for redis://")
		}
	})
	t.Run("URL query overrides", func(t *testing.T) {
		opt, err := store.Config{Backend: "redis", RedisURL: "redis://cache/0?dial_timeout=2s&read_timeout=1&max_retries=-1"}.RedisOptions()
		if err != nil {
			t.Fatal(err)
		}
		if opt.DialTimeout != 2*time.Second || opt.ReadTimeout != time.Second || opt.MaxRetries != -1 ||
			opt.WriteTimeout != 250*time.Millisecond || opt.DialerRetries != 1 {
			t.Errorf("dial %v read %v write %v MaxRetries %d DialerRetries %d",
				opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.MaxRetries, opt.DialerRetries)
		}
	})
	t.Run("rediss from REDIS_URL sets TLS", func(t *testing.T) {
		cfg, err := store.FromLookup(lookup(map[string]string{
			"FLOODGATE_STORE": "redis", "REDIS_URL": "rediss://alice:" + secret + "@cache.example.com:6380/3"}))
		if err != nil {
			t.Fatal(err)
		}
		opt, err := cfg.RedisOptions()
		if err != nil {
			t.Fatal(err)
		}
		if opt.TLSConfig == nil {
			t.Fatal("rediss:// left TLSConfig nil")
		}
		if opt.TLSConfig.ServerName != "cache.example.com" || opt.TLSConfig.MinVersion != tls.VersionTLS12 ||
			opt.TLSConfig.InsecureSkipVerify {
			t.Errorf("TLSConfig: ServerName %q MinVersion %x InsecureSkipVerify %v",
				opt.TLSConfig.ServerName, opt.TLSConfig.MinVersion, opt.TLSConfig.InsecureSkipVerify)
		}
		if opt.Addr != "cache.example.com:6380" || opt.DB != 3 || opt.Username != "alice" || opt.Password != secret {
			t.Errorf("Addr %s DB %d Username %q, password ok %v", opt.Addr, opt.DB, opt.Username, opt.Password == secret)
		}
	})
	t.Run("unix socket", func(t *testing.T) {
		opt, err := store.Config{Backend: "redis", RedisURL: "unix:///run/redis.sock?db=2"}.RedisOptions()
		if err != nil {
			t.Fatal(err)
		}
		if opt.Network != "unix" || opt.Addr != "/run/redis.sock" || opt.DB != 2 {
			t.Errorf("%s %s db %d", opt.Network, opt.Addr, opt.DB)
		}
	})
	t.Run("invalid URL", func(t *testing.T) {
		_, err := store.Config{Backend: "redis", RedisURL: "redis://:" + secret + "@cache:x"}.RedisOptions()
		if err == nil || !strings.Contains(err.Error(), "RedisURL") || !errors.Is(err, store.ErrInvalidConfig) {
			t.Fatalf("RedisOptions() = %v, want an error naming RedisURL", err)
		}
		assertNoSecret(t, "RedisOptions()", err.Error())
	})
}

func TestFailoverOptions(t *testing.T) {
	t.Parallel()
	t.Run("fail-fast defaults, addresses, master, db, credentials", func(t *testing.T) {
		opt, err := store.Config{Backend: "redis",
			RedisURL: "redis+sentinel://alice:" + secret + "%2F%40@10.0.0.1:26379,[fd00::2]:26380/my%2Dmaster/3"}.FailoverOptions()
		if err != nil {
			t.Fatal(err)
		}
		if opt.MasterName != "my-master" || opt.DB != 3 ||
			strings.Join(opt.SentinelAddrs, ",") != "10.0.0.1:26379,[fd00::2]:26380" {
			t.Errorf("master %q db %d sentinels %v", opt.MasterName, opt.DB, opt.SentinelAddrs)
		}
		if opt.Username != "alice" || opt.Password != secret+"/@" || opt.SentinelUsername != "" || opt.SentinelPassword != "" {
			t.Errorf("Username %q, Password ok %v, SentinelUsername %q, SentinelPassword set %v",
				opt.Username, opt.Password == secret+"/@", opt.SentinelUsername, opt.SentinelPassword != "")
		}
		if opt.DialTimeout != 500*time.Millisecond || opt.ReadTimeout != 250*time.Millisecond ||
			opt.WriteTimeout != 250*time.Millisecond || opt.MaxRetries != -1 || opt.DialerRetries != 1 ||
			!opt.ContextTimeoutEnabled {
			t.Errorf("dial %v read %v write %v, MaxRetries %d, DialerRetries %d, ContextTimeoutEnabled %v",
				opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.MaxRetries, opt.DialerRetries, opt.ContextTimeoutEnabled)
		}
		if opt.TLSConfig != nil || opt.ReplicaOnly || opt.RouteByLatency || opt.RouteRandomly {
			t.Errorf("TLS %v ReplicaOnly %v RouteByLatency %v RouteRandomly %v", opt.TLSConfig != nil,
				opt.ReplicaOnly, opt.RouteByLatency, opt.RouteRandomly)
		}
	})
	t.Run("query overrides, TLS", func(t *testing.T) {
		opt, err := store.Config{Backend: "redis",
			RedisURL: "rediss+sentinel://s1:26379/m?dial_timeout=2s&read_timeout=1&max_retries=-1&pool_size=7"}.FailoverOptions()
		if err != nil {
			t.Fatal(err)
		}
		if opt.DialTimeout != 2*time.Second || opt.ReadTimeout != time.Second || opt.MaxRetries != -1 ||
			opt.WriteTimeout != 250*time.Millisecond || opt.DialerRetries != 1 || opt.PoolSize != 7 || opt.DB != 0 {
			t.Errorf("dial %v read %v write %v MaxRetries %d DialerRetries %d PoolSize %d DB %d", opt.DialTimeout,
				opt.ReadTimeout, opt.WriteTimeout, opt.MaxRetries, opt.DialerRetries, opt.PoolSize, opt.DB)
		}
		if opt.TLSConfig == nil || opt.TLSConfig.MinVersion != tls.VersionTLS12 || opt.TLSConfig.ServerName != "" ||
			opt.TLSConfig.InsecureSkipVerify {
			t.Errorf("TLSConfig %+v: want TLS 1.2+, verified against each dialled name", opt.TLSConfig)
		}
	})
	t.Run("other topologies", func(t *testing.T) {
		for _, u := range []string{"", "redis://cache:6379/0", "redis+cluster://n1:7000"} {
			_, err := store.Config{Backend: "redis", RedisURL: u}.FailoverOptions()
			if err == nil || !errors.Is(err, store.ErrInvalidConfig) || !strings.Contains(err.Error(), "RedisURL") {
				t.Errorf("FailoverOptions() for %q = %v, want an error naming RedisURL", u, err)
			}
		}
	})
}

func TestClusterOptions(t *testing.T) {
	t.Parallel()
	t.Run("fail-fast defaults, seeds, credentials", func(t *testing.T) {
		opt, err := store.Config{Backend: "redis",
			RedisURL: "redis+cluster://:" + secret + "@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002"}.ClusterOptions()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(opt.Addrs, ",") != "10.0.0.1:7000,10.0.0.2:7001,[::1]:7002" {
			t.Errorf("Addrs %v", opt.Addrs)
		}
		if opt.Username != "" || opt.Password != secret {
			t.Errorf("Username %q, Password ok %v", opt.Username, opt.Password == secret)
		}
		if opt.DialTimeout != 500*time.Millisecond || opt.ReadTimeout != 250*time.Millisecond ||
			opt.WriteTimeout != 250*time.Millisecond || opt.MaxRetries != -1 || opt.DialerRetries != 1 ||
			!opt.ContextTimeoutEnabled {
			t.Errorf("dial %v read %v write %v, MaxRetries %d, DialerRetries %d, ContextTimeoutEnabled %v",
				opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.MaxRetries, opt.DialerRetries, opt.ContextTimeoutEnabled)
		}
		if opt.TLSConfig != nil || opt.ReadOnly || opt.RouteByLatency || opt.RouteRandomly {
			t.Errorf("TLS %v ReadOnly %v RouteByLatency %v RouteRandomly %v", opt.TLSConfig != nil,
				opt.ReadOnly, opt.RouteByLatency, opt.RouteRandomly)
		}
	})
	t.Run("query overrides, TLS, trailing slash", func(t *testing.T) {
		opt, err := store.Config{Backend: "redis",
			RedisURL: "rediss+cluster://alice@n1:7000/?max_redirects=5&write_timeout=1s&pool_size=3"}.ClusterOptions()
		if err != nil {
			t.Fatal(err)
		}
		if opt.MaxRedirects != 5 || opt.WriteTimeout != time.Second || opt.PoolSize != 3 || opt.Username != "alice" ||
			opt.ReadTimeout != 250*time.Millisecond {
			t.Errorf("MaxRedirects %d write %v PoolSize %d Username %q read %v", opt.MaxRedirects, opt.WriteTimeout,
				opt.PoolSize, opt.Username, opt.ReadTimeout)
		}
		if opt.TLSConfig == nil || opt.TLSConfig.MinVersion != tls.VersionTLS12 || opt.TLSConfig.ServerName != "" {
			t.Errorf("TLSConfig %+v: want TLS 1.2+, verified against each dialled name", opt.TLSConfig)
		}
	})
	t.Run("other topologies", func(t *testing.T) {
		for _, u := range []string{"", "unix:///run/redis.sock", "redis+sentinel://s1:26379/m"} {
			_, err := store.Config{Backend: "redis", RedisURL: u}.ClusterOptions()
			if err == nil || !errors.Is(err, store.ErrInvalidConfig) || !strings.Contains(err.Error(), "RedisURL") {
				t.Errorf("ClusterOptions() for %q = %v, want an error naming RedisURL", u, err)
			}
		}
	})
	t.Run("RedisOptions refuses both", func(t *testing.T) {
		for u, method := range map[string]string{
			"redis+cluster://:" + secret + "@n1:7000":     "ClusterOptions",
			"redis+sentinel://:" + secret + "@s1:26379/m": "FailoverOptions",
		} {
			_, err := store.Config{Backend: "redis", RedisURL: u}.RedisOptions()
			if err == nil || !strings.Contains(err.Error(), method) || !errors.Is(err, store.ErrInvalidConfig) {
				t.Errorf("RedisOptions() for %s = %v, want an error pointing to %s", u, err, method)
			}
			if err != nil {
				assertNoSecret(t, "RedisOptions()", err.Error())
			}
		}
	})
}

func TestFailurePolicyFromEnv(t *testing.T) {
	t.Parallel()
	cfg := mustFromLookup(t, map[string]string{"REDIS_URL": "redis://cache:6379/0",
		"FLOODGATE_FAILURE_POLICY": "Closed", "FLOODGATE_TIMEOUT": "200ms"})
	if cfg.Policy != core.FailClosed || cfg.Timeout != 200*time.Millisecond {
		t.Fatalf("Policy %v, Timeout %v; want closed, 200ms", cfg.Policy, cfg.Timeout)
	}
	if want := "backend=redis addr=redis://cache:6379 db=0 prefix=floodgate limit=1/s policy=closed timeout=200ms"; cfg.String() != want {
		t.Fatalf("String() = %q, want %q", cfg.String(), want)
	}
	// The names are core.FailurePolicy's, in any case, spaces trimmed.
	for v, want := range map[string]core.FailurePolicy{"local": core.FailLocal, " OPEN ": core.FailOpen,
		"Closed": core.FailClosed, "": core.FailLocal} {
		cfg := mustFromLookup(t, map[string]string{"REDIS_URL": "redis://cache:6379/0", "FLOODGATE_FAILURE_POLICY": v})
		if cfg.Policy != want {
			t.Errorf("FLOODGATE_FAILURE_POLICY=%q: Policy %v, want %v", v, cfg.Policy, want)
		}
	}
	for name, env := range map[string]map[string]string{
		"FLOODGATE_FAILURE_POLICY": {"FLOODGATE_FAILURE_POLICY": "fallback"},
		"FLOODGATE_TIMEOUT":        {"FLOODGATE_TIMEOUT": "-5ms"},
	} {
		_, err := store.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if !errors.Is(err, store.ErrInvalidConfig) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig naming %s", name, err, name)
		}
	}
	if err := (store.Config{Timeout: -time.Second}).Validate(); !errors.Is(err, store.ErrInvalidConfig) {
		t.Errorf("negative Timeout: %v", err)
	}
}
