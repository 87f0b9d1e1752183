package memorystore_test

import (
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

func TestConformance(t *testing.T) {
	testutil.RunStoreSuite(t, func(t *testing.T, now func() time.Time) core.Store {
		s := memorystore.New(memorystore.WithClock(now))
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
