// Package setup builds everything a bot needs from floodgate in one call,
// from the environment: the store (store.FromLookup, store.Open), the
// limiter, the Guard adapters take, the outbound Throttle, and, when
// METRICS_ADDR is set, Prometheus metrics served at /metrics.
//
//	fg, err := setup.Open(ctx, setup.Options{})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer fg.Close()
//	b.Use(telebotlimit.Middleware(fg.Guard))
//
// It is the short form of what the packages it calls do one by one; build
// them yourself when you need something it does not offer (two limiters,
// a store client you share). Variables: those of package store, those of
// GuardFromLookup (budgets per kind of update, debounce), and
//
//	METRICS_ADDR   serve /metrics there, e.g. ":9090" (default: no metrics)
package setup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/metrics"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store"
)

// Options adjusts Open. The zero Options reads the process environment
// and logs to slog.Default().
type Options struct {
	// Lookup reads a variable (default os.LookupEnv); tests pass a map's.
	Lookup func(string) (string, bool)
	// Logger receives what floodgate logs (default slog.Default()).
	Logger *slog.Logger
	// Guard options, applied after the logger and the metrics.
	Guard []guard.Option
	// Outbound options, applied after the prefix, logger and metrics.
	Outbound []outbound.Option
}

// Floodgate is floodgate set up for one bot. Close it when the bot stops.
type Floodgate struct {
	// Config is the store configuration read from the environment,
	// defaults filled in; print it (it masks secrets) to say what runs.
	Config store.Config
	// GuardSettings are the Guard's settings read from the environment
	// (GuardFromLookup), before Options.Guard.
	GuardSettings GuardSettings
	// Store is the opened store; Limiter and Throttle share it.
	Store *store.Opened
	// Limiter enforces Config.Limit under Config.Prefix.
	Limiter *core.Limiter
	// Guard applies Limiter to updates: hand it to an adapter.
	Guard *guard.Guard
	// Throttle paces the bot's own Bot API requests (package outbound).
	Throttle *outbound.Throttle
	// Metrics is nil unless METRICS_ADDR is set.
	Metrics *metrics.Metrics

	server *metrics.Server
}

// Open reads the configuration, opens the store, and builds the limiter,
// guard and throttle over it. Errors name the variable at fault (see
// store.FromLookup) and never contain a password; everything already
// opened is closed again.
func Open(ctx context.Context, o Options) (*Floodgate, error) {
	if o.Lookup == nil {
		o.Lookup = os.LookupEnv
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg, err := store.FromLookup(o.Lookup)
	if err != nil {
		return nil, err
	}
	gs, err := GuardFromLookup(o.Lookup)
	if err != nil {
		return nil, err
	}
	fg := &Floodgate{GuardSettings: gs}
	if addr, _ := o.Lookup("METRICS_ADDR"); strings.TrimSpace(addr) != "" {
		fg.Metrics = metrics.New()
		if fg.server, err = metrics.Listen(strings.TrimSpace(addr), fg.Metrics); err != nil {
			return nil, fmt.Errorf("setup: METRICS_ADDR: %w", err)
		}
	}
	if err := fg.build(ctx, cfg, o); err != nil {
		_ = fg.Close()
		return nil, err
	}
	return fg, nil
}

func (fg *Floodgate) build(ctx context.Context, cfg store.Config, o Options) error {
	var obs core.Observer // a nil *metrics.Metrics must not become a non-nil interface
	storeOpts := []store.Option{store.WithLogger(o.Logger)}
	guardOpts := append([]guard.Option{guard.WithLogger(o.Logger)}, fg.GuardSettings.options()...)
	outOpts := []outbound.Option{outbound.WithLogger(o.Logger)}
	if fg.Metrics != nil {
		obs = fg.Metrics
		storeOpts = append(storeOpts, store.WithObserver(obs))
		guardOpts = append(guardOpts, guard.WithObserver(fg.Metrics))
		outOpts = append(outOpts, outbound.WithObserver(obs))
	}
	var err error
	if fg.Store, err = store.Open(ctx, cfg, storeOpts...); err != nil {
		return err
	}
	fg.Config = fg.Store.Config
	if fg.Limiter, err = fg.Store.NewLimiter(); err != nil {
		return err
	}
	if fg.Guard, err = guard.New(fg.Limiter, append(guardOpts, o.Guard...)...); err != nil {
		return err
	}
	outOpts = append([]outbound.Option{outbound.WithPrefix(fg.Config.Prefix)}, append(outOpts, o.Outbound...)...)
	if fg.Throttle, err = outbound.New(fg.Store, outOpts...); err != nil {
		return err
	}
	return nil
}

// Close stops the metrics server and closes the store. It is safe to call
// more than once.
func (fg *Floodgate) Close() error {
	var errs []error
	if fg.server != nil {
		errs = append(errs, fg.server.Close())
		fg.server = nil
	}
	if fg.Store != nil {
		errs = append(errs, fg.Store.Close())
	}
	return errors.Join(errs...)
}
