package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/floodgate-go/floodgate/store"
)

// fuzzVars are the variables FuzzFromLookup sets, in argument order.
var fuzzVars = []string{"FLOODGATE_STORE", "REDIS_ENABLED", "REDIS_URL", "REDIS_HOST", "REDIS_PORT",
	"REDIS_DB", "REDIS_PASSWORD", "FLOODGATE_PREFIX", "REDIS_KEY_PREFIX", "FLOODGATE_LIMIT",
	"FLOODGATE_FAILURE_POLICY", "FLOODGATE_TIMEOUT"}

// FuzzFromLookup feeds random values to every variable. FromLookup must not
// panic; an error must start with "store: " and wrap ErrInvalidConfig; a
// Config it returns must validate; and no error, String, %#v or JSON of
// Redacted may contain a password of 6 characters or more, whether given
// as REDIS_PASSWORD or inside REDIS_URL. The same holds for a Config built
// from the raw values. A FLOODGATE_FAILURE_POLICY that is accepted is the
// policy of that name.
//
// "Contains the password" is judged against a twin input whose password is
// replaced by other characters: if the twin's output still contains the
// password text, that text came from another variable (REDIS_HOST equal to
// the password, say) or from fixed wording, not from a leak.
func FuzzFromLookup(f *testing.F) {
	f.Add("", "", "", "", "", "", "", "", "", "", "", "")
	f.Add("memory", "", "", "", "", "", "", "", "", "", "", "")
	f.Add("redis", "", "redis://alice:s3cr3t-PW@cache:6379/0", "", "", "", "", "", "", "20/m burst 5", "", "")
	f.Add("", "true", "", "redis.internal", "6380", "2", "s3cr3t-PW", "", "booking_bot:client1", "1/s", "", "")
	f.Add("", "yes", "", "::1", "65535", "0", "p@ss/w:rd?#%", "tenant7", "ignored", "1/500ms", "", "")
	f.Add("REDIS", "no", "rediss://:s3cr3t-PW@cache.example.com:abc/0", "", "", "", "", "", "", "", "", "")
	f.Add("", "1", "unix://:s3cr3t-PW@/run/redis.sock?db=2", "", "", "", "", "", "", "", "", "")
	f.Add("", "TRUE", "redis://u:s3cr3t/PW@h/0", "", "", "", "", "", "", "", "", "")
	f.Add("", "true", "redis://u:s3cr3t-PW@h/0?max_retries=s3cr3t-PW", "", "", "", "", "", "", "", "", "")
	f.Add("", "true", "redis://u:s3cr3t%zz-PW@h/0", "", "", "", "", "", "", "", "", "")
	f.Add("", "true", "", "cache", "0", "-1", "      ", "a{b}", "", "0/s", "", "")
	f.Add("", "true", "", "s3cr3t-PW", "", "", "s3cr3t-PW", "", "", "", "", "")
	f.Add("postgres", "maybe", "http://x", "a b", "x", "y", "pw", "bad prefix", "{", "fast", "", "")
	f.Add("redis", "", "", "", "", "", "", "", "", "", " Closed ", "200ms")
	f.Add("", "", "redis://h/0", "", "", "", "", "", "", "", "fallback", "-5ms")
	f.Fuzz(func(t *testing.T, st, enabled, rawURL, host, port, db, password, prefix, keyPrefix, limit, policy, timeout string) {
		env := map[string]string{}
		for i, v := range []string{st, enabled, rawURL, host, port, db, password, prefix, keyPrefix, limit, policy, timeout} {
			env[fuzzVars[i]] = v
		}
		if cfg, err := store.FromLookup(lookup(env)); err == nil && strings.TrimSpace(policy) != "" &&
			!strings.EqualFold(cfg.Policy.String(), strings.TrimSpace(policy)) {
			t.Fatalf("FLOODGATE_FAILURE_POLICY %q read as %v", policy, cfg.Policy)
		}
		render := func(env map[string]string) string { return renderFromLookup(t, env) }

		// REDIS_PASSWORD, as given and as escaped in the URL built from it.
		if utf8.RuneCountInString(password) >= 6 {
			twin := clone(env)
			twin["REDIS_PASSWORD"] = other(password)
			escaped := strings.TrimPrefix(url.UserPassword("", password).String(), ":")
			checkNoLeak(t, render(env), render(twin), password, escaped)
		}
		// The password inside REDIS_URL, raw and decoded.
		if i, j, ok := rawPasswordSpan(rawURL); ok {
			raw := rawURL[i:j]
			secrets := []string{raw}
			if dec, err := url.PathUnescape(raw); err == nil {
				secrets = append(secrets, dec)
			}
			twinURL := rawURL[:i] + other(raw) + rawURL[j:]
			twin := clone(env)
			twin["REDIS_URL"] = twinURL
			checkNoLeak(t, render(env), render(twin), secrets...)

			// A Config written in code, with the raw values.
			cfg := store.Config{Backend: st, RedisURL: rawURL, Prefix: prefix}
			cfgTwin := cfg
			cfgTwin.RedisURL = twinURL
			checkNoLeak(t, renderConfig(cfg), renderConfig(cfgTwin), secrets...)
		} else {
			renderConfig(store.Config{Backend: st, RedisURL: rawURL, Prefix: prefix})
		}
	})
}

// renderFromLookup returns everything FromLookup's result lets a program
// print, checking the result's invariants on the way.
func renderFromLookup(t *testing.T, env map[string]string) string {
	cfg, err := store.FromLookup(lookup(env))
	if err != nil {
		if !strings.HasPrefix(err.Error(), "store: ") || !errors.Is(err, store.ErrInvalidConfig) {
			t.Fatalf("error %q does not start with store: or wrap ErrInvalidConfig", err)
		}
		if cfg != (store.Config{}) {
			t.Fatalf("FromLookup returned a Config with its error")
		}
		return "error: " + err.Error()
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("FromLookup returned a Config that does not validate: %v", err)
	}
	if cfg.Backend == store.BackendRedis {
		_, err := cfg.RedisOptions()
		switch {
		case strings.Contains(cfg.RedisURL, "+sentinel://"):
			_, err = cfg.FailoverOptions()
		case strings.Contains(cfg.RedisURL, "+cluster://"):
			_, err = cfg.ClusterOptions()
		}
		if err != nil {
			t.Fatalf("FromLookup returned a redis Config without options: %v", err)
		}
	}
	return renderConfig(cfg)
}

// renderConfig returns what a program may print of cfg.
func renderConfig(cfg store.Config) string {
	out := []string{cfg.String(), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%d", cfg)}
	if err := cfg.Validate(); err != nil {
		out = append(out, err.Error())
	}
	if _, err := cfg.RedisOptions(); err != nil {
		out = append(out, err.Error())
	}
	js, err := json.Marshal(cfg.Redacted())
	if err != nil {
		panic(err)
	}
	return strings.Join(append(out, string(js)), "\n")
}

// checkNoLeak fails if out contains a secret that twin (the output for the
// input with that secret replaced) does not.
func checkNoLeak(t *testing.T, out, twin string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if utf8.RuneCountInString(s) < 6 || strings.Contains(twin, s) {
			continue
		}
		if strings.Contains(out, s) {
			t.Fatalf("password %q leaked:\n%s", s, out)
		}
	}
}

// rawPasswordSpan returns where the password of raw's user info is, the
// way net/url splits a URL: after "scheme://", the authority ends at the
// first / ? or #, the user info at its last @, the user at the first colon.
func rawPasswordSpan(raw string) (i, j int, ok bool) {
	k := strings.Index(raw, "://")
	if k < 0 {
		return 0, 0, false
	}
	start := k + 3
	auth := raw[start:]
	if end := strings.IndexAny(auth, "/?#"); end >= 0 {
		auth = auth[:end]
	}
	at := strings.LastIndex(auth, "@")
	if at < 0 {
		return 0, 0, false
	}
	colon := strings.Index(auth[:at], ":")
	if colon < 0 {
		return 0, 0, false
	}
	return start + colon + 1, start + at, true
}

// other returns a string as long as s (in runes) made of a letter s lacks.
func other(s string) string {
	for _, c := range "QZqzJj" {
		if !strings.ContainsRune(s, c) {
			return strings.Repeat(string(c), utf8.RuneCountInString(s))
		}
	}
	return strings.Repeat("K", utf8.RuneCountInString(s)) // s holds all six: still differs
}

func clone(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
