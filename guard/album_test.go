package guard_test

import (
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
)

// photo is one item of the album group sent by user in chat.
func photo(user, chat int64, group string) guard.Update {
	u := msg(user, chat, "")
	u.MediaGroupID = group
	return u
}

// A 5-photo album under 1/s is one event: its first item is counted, the
// other four follow it, with no notice; five separate photos are five.
func TestAlbumCountsOnce(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.PerSecond(1))
	check(t, g, photo(1, 1, "100"), true, guard.ReasonAllowed, "album item 1")
	for i := 2; i <= 5; i++ {
		if v := check(t, g, photo(1, 1, "100"), true, guard.ReasonAllowed, "album item"); !v.AlbumItem || v.Notice != "" {
			t.Fatalf("album item %d: %+v, want it to follow the first item", i, v)
		}
	}
	// The album spent one event of the user's 1/s: a second album in the
	// same second is denied, all of it, with one notice at most.
	if v := check(t, g, photo(1, 1, "200"), false, guard.ReasonLimited, "second album, item 1"); v.Notice == "" {
		t.Fatalf("second album's first item: %+v, want the notice", v)
	}
	for range 4 {
		if v := check(t, g, photo(1, 1, "200"), false, guard.ReasonLimited, "second album, later item"); !v.AlbumItem || v.Notice != "" {
			t.Fatalf("second album's later item: %+v, want it dropped silently with the first", v)
		}
	}

	separate, _ := newGuard(t, core.PerSecond(1))
	passed := 0
	for range 5 {
		if separate.Check(t.Context(), msg(1, 1, "")).Pass {
			passed++
		}
	}
	if passed != 1 {
		t.Fatalf("5 separate photos under 1/s: %d passed, want 1", passed)
	}
}

// Album records are per sender, and shared by every Guard over one store:
// the items of one album can reach different instances.
func TestAlbumAcrossInstances(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := newMemory(t, clock)
	a := testutil.NewGuard(t, st, core.PerMinute(1), nil, nil)
	b := testutil.NewGuard(t, st, core.PerMinute(1), nil, nil)
	check(t, a, photo(1, -5, "7"), true, guard.ReasonAllowed, "item 1 on instance A")
	if v := check(t, b, photo(1, -5, "7"), true, guard.ReasonAllowed, "item 2 on instance B"); !v.AlbumItem {
		t.Fatalf("item 2 on B: %+v, want it to follow item 1", v)
	}
	// Another sender's items with the same media_group_id are their own.
	check(t, b, photo(2, -5, "7"), true, guard.ReasonAllowed, "user 2's item")
	check(t, a, photo(1, -5, "8"), false, guard.ReasonLimited, "user 1's next album, first item, on A")
	if v := check(t, b, photo(1, -5, "8"), false, guard.ReasonLimited, "its item 2 on B"); !v.AlbumItem {
		t.Fatalf("item 2 of a denied album on B: %+v, want it to follow", v)
	}
	// The record is short-lived: an album id seen again after it expired
	// is decided anew.
	clock.Advance(3 * time.Minute)
	if v := check(t, b, photo(1, -5, "8"), true, guard.ReasonAllowed, "same album id, minutes later"); v.AlbumItem {
		t.Fatalf("%+v: want a fresh decision", v)
	}
}

// Only new messages group: an edited album item is an event of its own,
// and so is everything under WithAlbums(false). A channel's album is
// recorded per sender chat; an update with no sender is not grouped.
func TestAlbumScope(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.PerMinute(1), guard.WithKey(guard.ByChat))
	check(t, g, photo(1, -5, "9"), true, guard.ReasonAllowed, "item 1")
	edited := photo(1, -5, "9")
	edited.Kind = guard.KindEditedMessage
	if v := check(t, g, edited, false, guard.ReasonLimited, "edit of an album item"); v.AlbumItem {
		t.Fatalf("edit: %+v, want it counted, not grouped", v)
	}
	post := guard.Update{Kind: guard.KindChannelPost, ChatID: -7, SenderChatID: -7, MediaGroupID: "9"}
	check(t, g, post, true, guard.ReasonAllowed, "channel album item 1")
	if v := check(t, g, post, true, guard.ReasonAllowed, "channel album item 2"); !v.AlbumItem {
		t.Fatalf("channel album item 2: %+v, want it to follow", v)
	}
	anon := guard.Update{Kind: guard.KindMessage, ChatID: -8, MediaGroupID: "9"}
	check(t, g, anon, true, guard.ReasonAllowed, "senderless item 1")
	check(t, g, anon, false, guard.ReasonLimited, "senderless item 2: counted")

	off, _ := newGuard(t, core.PerMinute(1), guard.WithAlbums(false))
	check(t, off, photo(1, 1, "9"), true, guard.ReasonAllowed, "item 1, albums off")
	check(t, off, photo(1, 1, "9"), false, guard.ReasonLimited, "item 2, albums off")
}

// An album item is one store call: the record. The first item adds the
// limit's own call; a later one touches nothing else.
func TestAlbumStoreCalls(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := &flakyStore{Store: newMemory(t, clock)}
	g := testutil.NewGuard(t, st, core.PerSecond(1), nil, nil, guard.WithNotice(0, nil))
	check(t, g, photo(1, 1, "5"), true, guard.ReasonAllowed, "item 1")
	if n := st.calls.Load(); n != 2 {
		t.Fatalf("first item: %d store calls, want 2 (record, limit)", n)
	}
	for range 4 {
		check(t, g, photo(1, 1, "5"), true, guard.ReasonAllowed, "later item")
	}
	if n := st.calls.Load(); n != 6 {
		t.Fatalf("after 4 later items: %d store calls, want 6 (one each)", n)
	}
}

// During an outage decided by FailClosed the record says nothing: items
// are decided one by one by the policy, never waved through as followers.
func TestAlbumDuringOutage(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := &flakyStore{Store: newMemory(t, clock)}
	g := testutil.NewGuard(t, resilient(t, st, clock, core.Resilience{Policy: core.FailClosed}), core.PerMinute(10), nil, nil)
	check(t, g, photo(1, 1, "5"), true, guard.ReasonAllowed, "item 1, store up")
	st.down.Store(true)
	for range 3 {
		if v := check(t, g, photo(1, 1, "5"), false, guard.ReasonLimited, "later item, store down"); v.AlbumItem ||
			v.Result.Source != core.SourcePolicy {
			t.Fatalf("%+v: want the policy's denial", v)
		}
	}
}
