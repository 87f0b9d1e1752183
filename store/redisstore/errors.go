package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/redis/go-redis/v9"
)

// storeErr returns err, the failure of operation op under ctx, as the
// store returns it: prefixed "redisstore: op: ", wrapping err (so
// errors.Is still finds a go-redis error) and, when it is a fault of one
// key or of the deployment rather than an outage, core.ErrKeyFault or
// core.ErrMisconfigured (see kindOf). When ctx has ended, the error wraps
// ctx's error too: go-redis reports a deadline it set on the socket
// (ContextTimeoutEnabled) as an i/o timeout, and callers (Resilient, its
// metrics) must still see context.DeadlineExceeded.
func storeErr(ctx context.Context, op string, err error) error {
	if cerr := ctxErr(ctx); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	if kind := kindOf(err); kind != nil {
		return fmt.Errorf("redisstore: %s: %w: %w", op, kind, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// ctxErr returns ctx.Err(), or context.DeadlineExceeded once ctx's deadline
// has passed although its timer has not fired yet (a socket deadline set
// from it can expire first).
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// errBadReply is wrapped by the error for a script reply the store cannot
// read: one request's problem, not the server's.
var errBadReply = errors.New("unexpected reply")

// kindOf returns core.ErrKeyFault or core.ErrMisconfigured for an error
// that is one of those kinds, and nil for an outage (or an error already
// of a kind, which wraps it).
//
//   - The deployment (core.ErrMisconfigured): the store's Redis user lacks
//     a permission (NOPERM, or inside a script "The user executing the
//     script can't ..."), is not or wrongly authenticated (NOAUTH,
//     WRONGPASS, "ERR AUTH ..."), or a command the store needs is missing
//     or renamed ("ERR unknown command"), or the script cannot be loaded
//     (a NOSCRIPT that survived the EVAL retry).
//   - One key (core.ErrKeyFault): a value of another type that a script
//     could not heal (WRONGTYPE), keys of one script in different Cluster
//     slots (CROSSSLOT: TakeAll lanes without a common hash tag), a reply
//     the store cannot read.
//   - Everything else is an outage: refused, reset or timed-out
//     connections, a closed client, the caller's context, and the
//     server's LOADING, READONLY, OOM, BUSY, MASTERDOWN, CLUSTERDOWN,
//     TRYAGAIN and any other reply.
func kindOf(err error) error {
	if errors.Is(err, core.ErrKeyFault) || errors.Is(err, core.ErrMisconfigured) {
		return nil // already says its kind
	}
	if errors.Is(err, errBadReply) {
		return core.ErrKeyFault
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return nil
	}
	msg := rerr.Error()
	// Before Redis 7, a failed redis.call surfaced as
	// "ERR Error running script ...: -CODE message": read CODE.
	if rest, ok := strings.CutPrefix(msg, "ERR Error running script"); ok {
		if i := strings.Index(rest, ": -"); i >= 0 {
			msg = rest[i+3:]
		}
	}
	code, _, _ := strings.Cut(msg, " ")
	switch code {
	case "NOPERM", "NOAUTH", "WRONGPASS", "NOSCRIPT":
		return core.ErrMisconfigured
	case "WRONGTYPE", "CROSSSLOT":
		return core.ErrKeyFault
	case "ERR":
		for _, p := range misconfiguredERR {
			if strings.HasPrefix(msg, p) {
				return core.ErrMisconfigured
			}
		}
	}
	return nil
}

// misconfiguredERR are the generic ERR replies that report a fault of the
// deployment: a command a script called that the user may not run or a
// key it may not touch (Redis 7.0 words these as ERR, later versions as
// NOPERM), a failed AUTH, a command renamed away or missing.
var misconfiguredERR = []string{
	"ERR The user executing the script can't",
	"ERR AUTH",
	"ERR unknown command",
	"ERR unknown subcommand",
}
