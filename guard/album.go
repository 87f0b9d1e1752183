package guard

import (
	"context"
	"strconv"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// albumRule is the rule of the album records; albumWindow is how long one
// lives after its first item: Telegram delivers an album's items within a
// second or two.
const (
	albumRule   = "album"
	albumWindow = time.Minute
)

// WithAlbums sets whether the items of an album count as one event (default
// true). Telegram delivers each photo or video of an album (a media group)
// as an update of its own, all with one media_group_id; with albums on, the
// first item from a sender is decided as usual and the others follow its
// verdict, uncounted and without a notice, on every instance sharing the
// store. See the package documentation, "Albums".
func WithAlbums(on bool) Option { return func(c *config) { c.noAlbums = !on } }

// albumOf returns the scope of u's album record, "<prefix>:{uc:<sender>:
// <album>}:album", when u is an item of an album that counts once: a new
// message, business message or channel post with a media_group_id and a
// sender.
func (g *Guard) albumOf(u Update) (core.Scope, bool) {
	if g.album == nil || u.MediaGroupID == "" ||
		u.Kind != KindMessage && u.Kind != KindBusinessMessage && u.Kind != KindChannelPost {
		return core.Scope{}, false
	}
	sender := u.SenderChatID
	if sender == 0 {
		sender = u.UserID
	}
	if sender == 0 {
		return core.Scope{}, false
	}
	// Telegram's media_group_id is a decimal number. Anything else (only a
	// forged update could carry it) is hashed: no text a client sent
	// enters a key.
	id, err := strconv.ParseInt(u.MediaGroupID, 10, 64)
	if err != nil || id <= 0 {
		id = hash63(0, u.MediaGroupID)
	}
	return core.UserInChat(sender, id), true
}

// checkAlbum decides an item of an album: the first item to reach the
// store decides, the others follow. The album record, one key per sender
// and album, is a GCRA limit of one event per albumWindow: the first Take
// on it is allowed and makes that item the first; a later Take is denied,
// and its wait tells the verdict: a plain denial (at most albumWindow)
// means the album passed, a longer one means the first item was dropped
// and blocked the record. So every item costs one store call for the
// record, and only the first one is counted against the limits.
func (g *Guard) checkAlbum(ctx context.Context, u Update, scope, album core.Scope) Verdict {
	rec, err := g.album.Take(ctx, album, 1)
	switch {
	case err != nil || rec.Source == core.SourcePolicy:
		// No record to go by (the caller's ctx ended, or the store is out
		// and its policy decided): decide the item as a message of its own.
		return g.check(ctx, u, scope)
	case rec.Allowed && !rec.Shadow: // the first item
		v := g.check(ctx, u, scope)
		if !v.Pass {
			// Tell the other items; if this fails, they pass.
			_ = g.album.Block(ctx, album, 2*albumWindow)
		}
		return v
	case blocked(rec):
		return Verdict{Reason: ReasonLimited, AlbumItem: true}
	}
	return Verdict{Pass: true, Reason: ReasonAllowed, AlbumItem: true}
}
