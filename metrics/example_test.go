package metrics_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/metrics"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

func ExampleNew() {
	m := metrics.New()
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	reg.MustRegister(m)

	st := memorystore.New()
	defer st.Close()
	lim, err := core.New(st, core.PerMinute(2), core.WithObserver(m), core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	for i := 0; i < 3; i++ {
		lim.Allow(context.Background(), 123456789)
	}
	n, err := testutil.GatherAndCount(reg, "floodgate_decisions_total")
	if err != nil {
		panic(err)
	}
	fmt.Println("series:", n) // allowed and denied, for rule msg
	// Output:
	// series: 2
}
