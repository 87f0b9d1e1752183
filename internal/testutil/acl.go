package testutil

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// ACLUser creates (or replaces) the Redis ACL user name with password and
// rule, an ACL SETUSER rule such as "~floodgate:* -@all +get" (split on
// spaces), through c, an admin connection. The user starts from reset:
// it has exactly what rule grants.
func ACLUser(t testing.TB, c *redis.Client, name, password, rule string) {
	t.Helper()
	args := []any{"ACL", "SETUSER", name, "reset", "on", ">" + password}
	for _, f := range strings.Fields(rule) {
		args = append(args, f)
	}
	if err := c.Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("ACL SETUSER %s %s: %v", name, rule, err)
	}
}
