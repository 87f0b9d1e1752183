package redisstore_test

import (
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/redisstore"
)

func TestConformance(t *testing.T) {
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	t.Run("suite", func(t *testing.T) {
		testutil.RunStoreSuite(t, func(t *testing.T, now func() time.Time) core.Store {
			return redisstore.New(client, redisstore.WithClock(now))
		})
	})
	if n := testutil.AssertEveryKeyHasTTL(t, client); n == 0 {
		t.Fatal("the suite left no keys to check")
	}
}
