// Package metrics exports what floodgate does as Prometheus metrics. It
// implements core.Observer and guard.Observer: give it to the store
// (store.WithObserver, or core.Resilience.Observer), the limiter
// (core.WithObserver) and the guard (guard.WithObserver), and register it
// with a prometheus.Registerer. Package setup does all of it.
//
//	m := metrics.New()
//	prometheus.MustRegister(m)
//	opened, err := store.Open(ctx, cfg, store.WithObserver(m))
//
// # Metrics
//
//	floodgate_decisions_total{prefix,rule,result,source}   counter; result: allowed, denied, shadow_denied,
//	                                                       debounced (a duplicate guard.WithDebounce dropped);
//	                                                       source: store, cache, fallback, policy
//	floodgate_store_errors_total{prefix,kind}              counter: store errors a Resilient store handled;
//	                                                       kind: outage, timeout, key (one key's fault),
//	                                                       config (the deployment's, e.g. a missing ACL permission)
//	floodgate_decision_duration_seconds{prefix,rule}       histogram, 10 µs to 2.5 s
//	floodgate_breaker_open{prefix}                         gauge: 1 while the circuit breaker is open
//	floodgate_breaker_transitions_total{prefix,state}      counter; state: open, closed
//	floodgate_actions_total{action,kind,result}            counter: adapters' Bot API calls on denials
//	                                                       (action="sendMessage" counts notices); result: ok, error,
//	                                                       dropped (not sent in time: guard.WithActions)
//
// The prefix of store errors and of the breaker is the Resilient store's
// Name, which store.Open sets to the key prefix, so the series of one bot
// share a prefix. The first decision of a prefix shows its breaker gauge
// and its four store error counters at 0, so that rate() and alerts see
// the first error.
//
// # Labels are bounded
//
// No metric carries a user id or a chat id: one time series per user would
// grow without bound. prefix and rule come from configuration (a handful
// of values); result, source, state, action and kind from fixed lists. To
// see who is limited, use the ops CLI (floodgate top).
//
// # Cost
//
// The counters of each label combination are looked up once and cached,
// so a decision costs a map lookup and a few atomic adds, with no
// allocation after the first decision of each combination.
package metrics

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is a core.Observer, a guard.Observer and a prometheus.Collector.
// Build it with New. It is safe for concurrent use.
type Metrics struct {
	decisions   *prometheus.CounterVec
	storeErrors *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	breakerOpen *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	actions     *prometheus.CounterVec

	cache sync.Map // decisionKey → *decisionSeries
}

var (
	_ core.Observer        = (*Metrics)(nil)
	_ guard.Observer       = (*Metrics)(nil)
	_ prometheus.Collector = (*Metrics)(nil)
)

// decisionKey is one combination of decision labels.
type decisionKey struct {
	prefix, rule string
	allowed      bool
	shadow       bool
	source       core.Source
}

// decisionSeries holds the series one decisionKey feeds.
type decisionSeries struct {
	decisions prometheus.Counter
	duration  prometheus.Observer
}

// New returns the metrics, not yet registered.
func New() *Metrics {
	return &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "decisions_total",
			Help: "Decisions by limiter prefix, rule, result (allowed, denied, shadow_denied, debounced) and source (store, cache, fallback, policy).",
		}, []string{"prefix", "rule", "result", "source"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "store_errors_total",
			Help: "Store errors by kind: timeout, outage, key (one key's fault), config (the deployment's, e.g. a missing permission).",
		}, []string{"prefix", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floodgate", Name: "decision_duration_seconds",
			Help:    "How long a decision took, store call included.",
			Buckets: []float64{1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5},
		}, []string{"prefix", "rule"}),
		breakerOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "floodgate", Name: "breaker_open",
			Help: "1 while the circuit breaker keeps decisions away from the store, else 0.",
		}, []string{"prefix"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "breaker_transitions_total",
			Help: "Circuit breaker transitions by new state (open, closed).",
		}, []string{"prefix", "state"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "actions_total",
			Help: "Bot API calls adapters made on denials (sendMessage is a notice) by result (ok, error, dropped: not sent in time).",
		}, []string{"action", "kind", "result"}),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.decisions, m.storeErrors, m.duration, m.breakerOpen, m.transitions, m.actions}
}

// Decision implements core.Observer.
func (m *Metrics) Decision(e core.DecisionEvent) {
	k := decisionKey{prefix: e.Prefix, rule: e.Rule, allowed: e.Allowed, shadow: e.Shadow, source: e.Source}
	v, ok := m.cache.Load(k)
	if !ok {
		result := "denied"
		switch {
		case e.Shadow:
			result = "shadow_denied"
		case e.Allowed:
			result = "allowed"
		case guard.IsDebounceRule(e.Rule): // a duplicate, not an update over a limit
			result = "debounced"
		}
		m.show(e.Prefix)
		v, _ = m.cache.LoadOrStore(k, &decisionSeries{
			decisions: m.decisions.WithLabelValues(e.Prefix, e.Rule, result, e.Source.String()),
			duration:  m.duration.WithLabelValues(e.Prefix, e.Rule),
		})
	}
	s := v.(*decisionSeries)
	s.decisions.Inc()
	s.duration.Observe(e.Latency.Seconds())
}

// faultKinds are the values of store_errors_total's kind label.
var faultKinds = [...]string{"outage", "timeout", "key", "config"}

// show creates prefix's breaker gauge and store error counters at 0, so
// they are scraped before any transition or error.
func (m *Metrics) show(prefix string) {
	m.breakerOpen.WithLabelValues(prefix)
	for _, k := range faultKinds {
		m.storeErrors.WithLabelValues(prefix, k)
	}
}

// Fault implements core.Observer. The error's kind (see core.FaultEvent)
// becomes the kind label: key for core.ErrKeyFault, config for
// core.ErrMisconfigured, timeout for context.DeadlineExceeded or a
// net.Error that is a timeout, outage for anything else.
func (m *Metrics) Fault(e core.FaultEvent) {
	kind := "outage"
	var ne net.Error
	switch {
	case errors.Is(e.Err, core.ErrKeyFault):
		kind = "key"
	case errors.Is(e.Err, core.ErrMisconfigured):
		kind = "config"
	case errors.Is(e.Err, context.DeadlineExceeded), errors.As(e.Err, &ne) && ne.Timeout():
		kind = "timeout"
	}
	m.storeErrors.WithLabelValues(e.Name, kind).Inc()
}

// Breaker implements core.Observer.
func (m *Metrics) Breaker(e core.BreakerEvent) {
	state, open := "closed", 0.0
	if e.Open {
		state, open = "open", 1
	}
	m.breakerOpen.WithLabelValues(e.Name).Set(open)
	m.transitions.WithLabelValues(e.Name, state).Inc()
}

// Action implements guard.Observer.
func (m *Metrics) Action(e guard.ActionEvent) {
	result := "ok"
	switch {
	case e.Dropped:
		result = "dropped"
	case e.Err != nil:
		result = "error"
	}
	m.actions.WithLabelValues(e.Action, e.Kind.String(), result).Inc()
}
