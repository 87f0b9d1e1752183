// Package guard applies a floodgate limit to Telegram updates: which key an
// update counts against, who is never counted, per-command limits, the
// "slow down" notice, and penalties for repeat offenders. It is what the
// adapters (adapters/telebotlimit, telegolimit, tgbotapilimit) share: an
// adapter turns the framework's update into an [Update], asks [Guard.Check],
// and hands a denial to [Guard.Respond].
//
//	lim, err := core.New(st, core.PerMinute(20))
//	g, err := guard.New(lim, guard.WithBypass(adminID))
//
//	u := guard.Update{Kind: guard.KindMessage, UserID: 42, ChatID: 42}
//	if v := g.Check(ctx, u); !v.Pass {
//		g.Respond(ctx, u, v, responder, token) // answer and notify, off this path; drop the update
//	}
//
// # Per update
//
// [Guard.Check] decides one update, in this order:
//
//   - payment queries (pre_checkout_query, shipping_query) and bypassed
//     senders pass uncounted ([ReasonBypass]);
//   - with [WithDebounce], a repeat of a message or button press the
//     sender made within the window is dropped before any limit counts it
//     ([ReasonDebounced]): one store call;
//   - the key function gives the [core.Scope] the update counts against;
//     an update it finds no key for follows [WithUnkeyed] ([ReasonUnkeyed]);
//   - an item of an album takes the album's record: a later item follows
//     the first item's verdict and stops here (see Albums);
//   - the limit of the update's kind ([WithKindLimits]: messages,
//     commands, callback queries, inline queries), or else the Guard's own,
//     takes one event for that scope: one store call;
//   - a command with a limit of its own ([WithCommandLimit]) then takes one
//     event under that limit too: a second store call;
//   - on a denial, a penalty strike may be counted ([WithPenalty]) and a
//     notice may be due ([WithNotice]).
//
// An update that passes costs one store call (two for a limited command,
// one more under WithDebounce); only a denial costs more.
//
// # Keys
//
// [ByUser], the default, counts each sender; a message sent on behalf of a
// chat (a channel post, an anonymous group admin) counts against that
// sender chat, not against the service account Telegram puts in from.
// [ByChat], [ByUserInChat] and [ByGlobal] count otherwise; [WithKey] takes
// any [KeyFunc]. Keys hold numeric ids only.
//
// # Bypass and commands
//
// [WithBypass] lists user and sender-chat ids (a bot's admins) that are
// never counted; [WithBypassFunc] decides by any property of the Update.
// [WithCommandLimit] limits one command (e.g. "/report") under a rule of
// its own, "cmd.report", on top of the Guard's limit: the command must pass
// both. [CommandTo] gives an update's command as the Guard matches it:
// "/report@OtherBot" is not this bot's command once the adapter knows the
// bot's username (the adapters do), so it counts under the Guard's limit
// only.
//
// # Albums
//
// Telegram delivers each photo or video of an album (a media group) as an
// update of its own, all with one media_group_id ([Update].MediaGroupID):
// counted one by one, a 3-photo album under a 1/s limit would lose two
// photos and earn a notice. With [WithAlbums] (on by default) the items of
// one album from one sender are one event: the first item to reach the
// store is decided as any message; the others follow its verdict, are not
// counted, and get no notice ([Verdict].AlbumItem). The verdict is shared
// through the store, so items delivered to different instances agree: a
// record per sender and album under the rule "album", a limit of one event
// a minute whose first Take makes an item the first; a later Take is
// denied, and the denial's wait tells the verdict (a dropped first item
// blocks the record). Each item costs one store call for the record; only
// the first adds the limit's. A later item that reaches the store while
// the first is still being decided (within a store round trip or two)
// passes. Edits of album items, and albums decided by the store's failure
// policy during an outage, count item by item.
//
// # Notices
//
// A denied message may carry a notice, the "slow down" reply, in
// [Verdict.Notice]; for a callback query the notice becomes the answer's
// text ([Verdict.CallbackText]). A key is told at most once per cooldown
// ([DefaultNoticeCooldown]), across every instance sharing the store: the
// cooldown is itself a limit, under the rule "notice". Channel posts and
// updates without a chat get no notice. The texts are [TextFunc]s of the
// update (its LanguageCode, chat, kind) and the wait: [DefaultNoticeText]
// answers in Russian to language_code "ru", in English to the others, and
// [WithNotice] and [WithCallbackText] take your own.
//
// # Penalties
//
// With [WithPenalty], a key denied more than [Penalty].Strikes times within
// Penalty.Window is blocked for the first of Penalty.Blocks, a repeat
// offender for the next. The block is written into the Guard's own limit
// with [core.Limiter.Block], so it is part of the decision Check makes
// anyway: a passing update still costs one store call, and every instance
// sees the block. A denial whose RetryAfter exceeds what the limit alone
// imposes (one interval under GCRA, one period under a sliding window) is
// reported as [ReasonPenalty]. Strikes and offense levels live in the store
// under the rules "pen.strikes" and "pen.level". A denial made by the
// store's failure policy (core.SourcePolicy) is the store's outage, not the
// user's flooding: it is never a strike. A shadowed limiter
// ([core.WithShadow]) denies nothing, so it penalizes no one.
// [Guard.Reset] lifts a block, the limits behind it and the offense count.
//
// # Acting on a denial
//
// [Guard.Respond] makes the Bot API calls a dropped update calls for
// through a [Responder], the adapter's framework-specific part: it answers
// a callback query (so the button stops spinning) or an inline query (no
// results), then sends the notice. It returns at once: the calls run on a
// goroutine of their own, so a slow Bot API, or a notice queued behind a
// busy group's outbound lane (20 sends a minute), never holds the loop
// that decides the next update. [WithActions] bounds them: at most
// [DefaultMaxActions] denials acted on at once, each within
// [DefaultActionTimeout] (its ctx carries the deadline, and an outbound
// throttle refuses at once a send it could not admit in time). A call that
// cannot go out in time is dropped, not delivered late, and reported
// ([ActionEvent].Dropped). Failed calls are logged ([WithLogger]) with the
// bot token cut out, and reported to an [Observer] ([WithObserver]).
// [Guard.Wait] waits for the calls in flight, at shutdown.
//
// # Errors
//
// Check never returns an error and never panics on a partial Update. When
// the limiter returns an error, the Verdict has [ReasonError], the error
// in [Verdict.Err], and follows [WithErrorAction] (default: pass). Over a
// store wrapped by core.Resilient (what store.Open returns for Redis) that
// only happens when the caller's ctx has ended: an outage is decided by
// the failure policy, and [core.Result].Source says so.
//
// # Concurrency
//
// A Guard is safe for concurrent use and keeps no counts of its own (only
// the Bot API calls Respond has in flight): every count lives in the
// store, so Guards of several bot instances over one store and prefix
// share their limits, notices, album verdicts and penalties.
package guard
