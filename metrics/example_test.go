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

// The metrics observe a limiter's decisions (and, given to a Resilient
// store or store.Open, its faults and breaker). Package setup wires it all
// when METRICS_ADDR is set.
func ExampleNew() {
	m := metrics.New()
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	reg.MustRegister(m)

	st := memorystore.New()
	defer st.Close()
	lim, err := core.New(st, core.PerMinute(2), core.WithObserver(m))
	if err != nil {
		panic(err)
	}
	for range 3 {
		if _, err := lim.Take(context.Background(), core.User(123456789), 1); err != nil {
			panic(err)
		}
	}
	n, err := testutil.GatherAndCount(reg, "floodgate_decisions_total")
	if err != nil {
		panic(err)
	}
	fmt.Println("series:", n) // allowed and denied, for rule msg
	// Output:
	// series: 2
}

// A store error is counted by kind: here one key's fault, which the
// failure policy decides while the store keeps serving every other key.
func ExampleMetrics_Fault() {
	m := metrics.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)

	st, err := core.Resilient(faultStore{err: fmt.Errorf("unreadable value: %w", core.ErrKeyFault)},
		core.Resilience{Policy: core.FailOpen, Name: "floodgate", Observer: m, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	lim, err := core.New(st, core.PerMinute(2))
	if err != nil {
		panic(err)
	}
	res, err := lim.Take(context.Background(), core.User(123456789), 1)
	if err != nil {
		panic(err)
	}
	fmt.Println("allowed by:", res.Source)

	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		if f.GetName() != "floodgate_store_errors_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				fmt.Printf("%s=%s ", l.GetName(), l.GetValue())
			}
			fmt.Println(s.GetCounter().GetValue())
		}
	}
	// Output:
	// allowed by: policy
	// kind=key prefix=floodgate 1
}
