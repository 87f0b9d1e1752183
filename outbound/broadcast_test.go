package outbound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
)

// telegramFront answers as Telegram does for blocked chats (403) and for
// a group that became a supergroup (400 with migrate_to_chat_id), and
// passes every other request to api.
func telegramFront(t *testing.T, api *testutil.BotAPI, blocked []int64, migrated map[int64]int64) string {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p struct {
			Chat int64 `json:"chat_id"`
		}
		_ = json.Unmarshal(body, &p)
		w.Header().Set("Content-Type", "application/json")
		switch to, ok := migrated[p.Chat]; {
		case slices.Contains(blocked, p.Chat):
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`)
			return
		case ok:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":%d}}`, to)
			return
		}
		req, _ := http.NewRequest(r.Method, api.URL()+r.URL.Path, bytes.NewReader(body))
		req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestBroadcastHelper: 60 recipients, two of whom blocked the bot and one
// a group that migrated. The run is stopped after 25 recipients and
// resumed from the cursor its Progress reported: every chat gets exactly
// one message, the migrated group's goes to its new id, and the summaries
// add up.
func TestBroadcastHelper(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	blocked := []int64{1007, 1013}
	const oldGroup, newGroup = -1005, -1001000000005
	front := telegramFront(t, api, blocked, map[int64]int64{oldGroup: newGroup})
	th := newThrottle(t, nil, nil, nil)
	var chats []int64
	for i := range 60 {
		chats = append(chats, int64(1000+i))
	}
	chats[5] = oldGroup

	var mu sync.Mutex
	var saved outbound.Cursor // what a bot would persist
	var progress []outbound.Progress
	doneCount := 0
	ctx, cancel := context.WithCancel(context.Background())
	b := outbound.Broadcast{
		Token: token, Server: front, Chats: slices.Values(chats), Workers: 8,
		Message: func(chat int64) (string, map[string]any) {
			return "sendMessage", map[string]any{"text": "news for " + strconv.FormatInt(chat, 10)}
		},
		Progress: func(p outbound.Progress) {
			mu.Lock()
			defer mu.Unlock()
			progress = append(progress, p)
			saved = p.Cursor
			if p.Outcome != outbound.Sending {
				if doneCount++; doneCount == 25 {
					cancel()
				}
			}
		},
	}
	first, err := th.Broadcast(ctx, b)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v, want context.Canceled", err)
	}
	if done := first.Sent + first.Blocked + first.Migrated + first.Failed; done < 25 || first.Cursor.Next > done {
		t.Fatalf("first run: %v, cursor %+v: want at least 25 done and the cursor within them", first, first.Cursor)
	}
	mu.Lock()
	resume := saved
	mu.Unlock()

	b.Resume = resume
	second, err := th.Broadcast(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first run: %v (cursor %+v); resumed: %v", first, resume, second)

	got := map[string]int{}
	for _, c := range api.CallsTo("sendMessage") {
		got[c.Params["chat_id"]]++
	}
	for _, chat := range chats {
		want := 1
		if slices.Contains(blocked, chat) || chat == oldGroup {
			want = 0
		}
		if n := got[strconv.FormatInt(chat, 10)]; n != want {
			t.Errorf("chat %d got %d messages, want %d", chat, n, want)
		}
	}
	if n := got[strconv.FormatInt(newGroup, 10)]; n != 1 {
		t.Errorf("the migrated group's new id got %d messages, want 1", n)
	}
	total := outbound.Summary{
		Sent: first.Sent + second.Sent, Blocked: first.Blocked + second.Blocked,
		Migrated: first.Migrated + second.Migrated, Failed: first.Failed + second.Failed,
	}
	if total.Sent != 57 || total.Blocked != 2 || total.Migrated != 1 || total.Failed != 0 {
		t.Errorf("both runs: %v, want 57 sent, 2 blocked, 1 migrated, 0 failed", total)
	}
	if second.Skipped != resume.Next+len(resume.Done) || second.Cursor.Next != 60 || len(second.Cursor.Done) != 0 {
		t.Errorf("resumed run: %v, cursor %+v; want %d skipped and the cursor at the end", second, second.Cursor,
			resume.Next+len(resume.Done))
	}
	// Each recipient is reported leaving, listed in Cursor.Sending until
	// it is done, then reported done, once each.
	leftAt := map[int]int{}
	for k, p := range progress {
		if p.Outcome == outbound.Sending {
			if _, twice := leftAt[p.Position]; twice || !slices.Contains(p.Cursor.Sending, p.Position) {
				t.Errorf("report %d: %+v: want each position leaving once, listed in Cursor.Sending", k, p)
			}
			leftAt[p.Position] = k
			continue
		}
		if _, ok := leftAt[p.Position]; !ok || slices.Contains(p.Cursor.Sending, p.Position) {
			t.Errorf("report %d: %+v: done without leaving first, or still listed as sending", k, p)
		}
	}
	for _, p := range progress {
		if p.Outcome == outbound.Sending {
			continue
		}
		if p.Chat == oldGroup && (p.Outcome != outbound.Migrated || p.MigratedTo != newGroup) {
			t.Errorf("migrated group: %+v", p)
		}
		if slices.Contains(blocked, p.Chat) && p.Outcome != outbound.Blocked {
			t.Errorf("blocked chat: %+v", p)
		}
	}
}

func TestBroadcastRejects(t *testing.T) {
	t.Parallel()
	th := newThrottle(t, nil, nil, nil)
	msg := func(int64) (string, map[string]any) { return "sendMessage", nil }
	chats := slices.Values([]int64{1})
	for name, b := range map[string]outbound.Broadcast{
		"no token":    {Chats: chats, Message: msg},
		"no chats":    {Token: token, Message: msg},
		"no message":  {Token: token, Chats: chats},
		"workers":     {Token: token, Chats: chats, Message: msg, Workers: -1},
		"bad cursor":  {Token: token, Chats: chats, Message: msg, Resume: outbound.Cursor{Next: 5, Done: []int{3}}},
		"neg. cursor": {Token: token, Chats: chats, Message: msg, Resume: outbound.Cursor{Next: -1}},
		"sending":     {Token: token, Chats: chats, Message: msg, Resume: outbound.Cursor{Next: 5, Sending: []int{4}}},
	} {
		if _, err := th.Broadcast(context.Background(), b); !errors.Is(err, core.ErrInvalidOption) {
			t.Errorf("%s: %v, want core.ErrInvalidOption", name, err)
		}
	}
}

// TestBroadcastResumeSending: a run resumed from a cursor that lists
// positions as sending (their messages left before a crash, their answers
// were lost) does not send them again, and counts them as unconfirmed;
// with ResendUnconfirmed it sends them again.
func TestBroadcastResumeSending(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		resend      bool
		want        []string
		sent, uncon int
	}{
		{false, []string{"3002", "3005"}, 2, 2}, // neither done nor sending
		{true, []string{"3002", "3003", "3005", "3006"}, 4, 0},
	} {
		api := testutil.StartBotAPI(t)
		th := newThrottle(t, nil, nil, nil)
		chats := []int64{3001, 3002, 3003, 3004, 3005, 3006}
		sum, err := th.Broadcast(context.Background(), outbound.Broadcast{
			Token: token, Server: api.URL(), Chats: slices.Values(chats), ResendUnconfirmed: tc.resend,
			Resume:  outbound.Cursor{Next: 1, Done: []int{3}, Sending: []int{2, 5}},
			Message: func(int64) (string, map[string]any) { return "sendMessage", map[string]any{"text": "news"} },
		})
		if err != nil {
			t.Fatal(err)
		}
		var sentTo []string
		for _, c := range api.CallsTo("sendMessage") {
			sentTo = append(sentTo, c.Params["chat_id"])
		}
		slices.Sort(sentTo)
		if !slices.Equal(sentTo, tc.want) {
			t.Errorf("resend %v: sent to %v, want %v", tc.resend, sentTo, tc.want)
		}
		if sum.Sent != tc.sent || sum.Skipped != 2 || sum.Unconfirmed != tc.uncon || sum.Cursor.Next != 6 || len(sum.Cursor.Sending) != 0 {
			t.Errorf("resend %v: summary %v, cursor %+v: want %d sent, 2 skipped, %d unconfirmed, the cursor at the end",
				tc.resend, sum, sum.Cursor, tc.sent, tc.uncon)
		}
	}
}
