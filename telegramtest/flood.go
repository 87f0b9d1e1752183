package telegramtest

import (
	"strconv"
	"strings"
	"time"
)

// Span is a sliding-window quota of the fake Bot API: at most N sends in
// any Period.
type Span struct {
	N      int
	Period time.Duration
}

// FloodLimits are the sending limits the fake Bot API enforces after
// WithFloodLimits. TelegramLimits returns Telegram's published ones.
//
// A send that would exceed a limit is answered 429 with an honest
// retry_after: the whole seconds, rounded up, until every limit it hits
// admits it again. Only sends the server accepted count (a 429 counts for
// nothing, as the real server does not deliver it).
type FloodLimits struct {
	// Global caps every send of the bot (Telegram: about 30 per second).
	Global Span
	// Paid replaces Global for sends with allow_paid_broadcast=true
	// (Telegram: up to 1000 per second, for a fee).
	Paid Span
	// Private caps sends to one private chat, a positive chat_id
	// (Telegram: about 1 per second, short bursts tolerated).
	Private Span
	// Group caps sends to one group, supergroup or channel, a negative or
	// @username chat_id (Telegram: 20 per minute).
	Group Span
	// Tolerance shortens each Period when the server counts: a send at t
	// counts against later sends until t + Period - Tolerance. It stands
	// for the jitter between a throttle's decision and the moment its
	// request arrives here (a client decides on Redis' clock, then the
	// request crosses the network and this server's read loop). 0 counts
	// every Period in full; see TelegramLimits for the default.
	Tolerance time.Duration
}

// DefaultFloodTolerance is TelegramLimits' Tolerance: 50 ms, 5% of the
// one-second windows. Loopback requests decided one Period apart arrive
// within a few milliseconds of that, but a race-enabled test run with
// three frameworks in parallel sees scheduler and GC pauses of tens of
// milliseconds; the real server says "about 30 messages per second" and
// tolerates short bursts, so a fake stricter than 5% would be stricter
// than Telegram.
const DefaultFloodTolerance = 50 * time.Millisecond

// TelegramLimits returns Telegram's limits as its Bot FAQ states them:
// 30 sends per second overall (1000 with allow_paid_broadcast), 1 per
// second to one private chat, 20 per minute to one group, with
// DefaultFloodTolerance.
func TelegramLimits() FloodLimits {
	return FloodLimits{
		Global:    Span{30, time.Second},
		Paid:      Span{1000, time.Second},
		Private:   Span{1, time.Second},
		Group:     Span{20, time.Minute},
		Tolerance: DefaultFloodTolerance,
	}
}

// WithFloodLimits makes the server enforce l, per bot (the id before the
// token's colon), on the send methods (see IsSendMethod): a send beyond a limit is answered 429, recorded with
// Call.RateLimited and Call.Flooded set, and not delivered. Spans with
// N < 1 or Period ≤ 0 are not enforced. Without this option the server
// enforces nothing.
func WithFloodLimits(l FloodLimits) Option {
	return func(a *Server) { a.flood = &floodState{limits: l, sent: map[string][]time.Time{}} }
}

// IsSendMethod reports whether the fake counts method (case-insensitive)
// against the flood limits: every send* method but sendChatAction, and
// copyMessage(s) and forwardMessage(s), the methods that put a new message
// in a chat.
func IsSendMethod(method string) bool {
	m := strings.ToLower(method)
	switch m {
	case "sendchataction":
		return false
	case "copymessage", "copymessages", "forwardmessage", "forwardmessages":
		return true
	}
	return strings.HasPrefix(m, "send")
}

// floodState is the enforcement's memory: the accepted send times per
// bot and lane ("<bot id> global", "<bot id> chat:<id>"; Telegram's limits
// are per bot). Guarded by Server.mu.
type floodState struct {
	limits FloodLimits
	sent   map[string][]time.Time
}

// admit decides a call arriving at now. It returns the wait until the call
// would be admitted, the first full lane and true when it is refused;
// otherwise it records it.
func (f *floodState) admit(token, method string, params map[string]string, now time.Time) (time.Duration, string, bool) {
	if !IsSendMethod(method) {
		return 0, "", false
	}
	bot, _, _ := strings.Cut(token, ":")
	type lane struct {
		key  string
		span Span
	}
	lanes := []lane{{"global", f.limits.Global}}
	if params["allow_paid_broadcast"] == "true" {
		lanes[0] = lane{"paid", f.limits.Paid}
	}
	if chat := params["chat_id"]; chat != "" {
		span := f.limits.Group
		if id, err := strconv.ParseInt(chat, 10, 64); err == nil && id > 0 {
			span = f.limits.Private
		}
		lanes = append(lanes, lane{"chat:" + chat, span})
	}
	var wait time.Duration
	full := ""
	for _, ln := range lanes {
		if ln.span.N < 1 || ln.span.Period <= 0 {
			continue
		}
		window := ln.span.Period - f.limits.Tolerance
		times := f.sent[bot+" "+ln.key]
		live := times[:0:0]
		for _, t := range times {
			if now.Sub(t) < window {
				live = append(live, t)
			}
		}
		f.sent[bot+" "+ln.key] = live
		if len(live) >= ln.span.N {
			// The oldest of the last N must leave the window first.
			wait = max(wait, live[len(live)-ln.span.N].Add(window).Sub(now))
			if full == "" {
				full = ln.key
			}
		}
	}
	if wait > 0 {
		return wait, full, true
	}
	for _, ln := range lanes {
		if ln.span.N >= 1 && ln.span.Period > 0 {
			f.sent[bot+" "+ln.key] = append(f.sent[bot+" "+ln.key], now)
		}
	}
	return 0, "", false
}
