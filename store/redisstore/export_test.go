package redisstore

import "testing"

// skipShort skips a long test (a cluster, a failover, a flood) under
// -short, saying what it would have started.
func skipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: skipping a test that %s", what)
	}
}

// SkipShort is skipShort for the package's external tests.
var SkipShort = skipShort
