package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/mymmrac/telego"
	tu "github.com/mymmrac/telego/telegoutil"
	"go.uber.org/goleak"
	tele "gopkg.in/telebot.v3"
)

// botTestToken matches telego's token check (^\d+:[\w-]{35}$).
const botTestToken = "7000000001:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// botEnvelope is Telegram's answer.
type botEnvelope struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// botClient talks to the fake server with plain net/http, on its own
// transport so its idle connections can be closed before leak checks.
type botClient struct {
	t   testing.TB
	c   *http.Client
	api *Server
}

func newBotClient(t testing.TB, api *Server) *botClient {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &botClient{t: t, c: &http.Client{Transport: tr, Timeout: time.Minute}, api: api}
}

// do sends one request and decodes the botEnvelope.
func (c *botClient) do(req *http.Request) (int, botEnvelope) {
	c.t.Helper()
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	var env botEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		c.t.Fatalf("decode %q: %v", body, err)
	}
	return resp.StatusCode, env
}

func (c *botClient) post(method, contentType string, body []byte) (int, botEnvelope) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.api.URL()+"/bot"+botTestToken+"/"+method, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return c.do(req)
}

func (c *botClient) postJSON(method string, v any) (int, botEnvelope) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.post(method, "application/json", b)
}

// updates calls getUpdates with form parameters and returns the updates.
func (c *botClient) updates(params url.Values) []map[string]json.RawMessage {
	c.t.Helper()
	status, env := c.post("getUpdates", "application/x-www-form-urlencoded", []byte(params.Encode()))
	if status != 200 || !env.OK {
		c.t.Fatalf("getUpdates: %d %+v", status, env)
	}
	if string(env.Result) == "null" {
		c.t.Fatalf("getUpdates result is null, want an array")
	}
	var ups []map[string]json.RawMessage
	if err := json.Unmarshal(env.Result, &ups); err != nil {
		c.t.Fatal(err)
	}
	return ups
}

func botUpdateIDs(t testing.TB, ups []map[string]json.RawMessage) []int64 {
	t.Helper()
	ids := make([]int64, 0, len(ups))
	for _, u := range ups {
		id, err := strconv.ParseInt(string(u["update_id"]), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func botCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

const botKeyboard = `{"inline_keyboard":[[{"text":"a","callback_data":"b"}]]}`

func TestBotAPIBodyFormats(t *testing.T) {
	api := Start(t)
	c := newBotClient(t, api)

	multipartBody := func() (string, []byte) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		_ = w.WriteField("chat_id", "-1001000001234")
		_ = w.WriteField("text", "hi")
		_ = w.WriteField("reply_markup", botKeyboard)
		fw, _ := w.CreateFormFile("document", "notes.txt")
		_, _ = fw.Write([]byte("file body"))
		_ = w.Close()
		return w.FormDataContentType(), b.Bytes()
	}
	form := url.Values{"chat_id": {"-1001000001234"}, "text": {"hi"}, "reply_markup": {botKeyboard}}

	cases := []struct {
		name, wantType string
		send           func() (int, botEnvelope)
	}{
		{"form", "application/x-www-form-urlencoded", func() (int, botEnvelope) {
			return c.post("sendMessage", "application/x-www-form-urlencoded", []byte(form.Encode()))
		}},
		{"json typed", "application/json", func() (int, botEnvelope) {
			return c.post("sendMessage", "application/json; charset=utf-8",
				[]byte(`{"chat_id": -1001000001234, "text": "hi", "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]}, "disable_notification": true, "reply_to_message_id": null}`))
		}},
		{"json strings", "application/json", func() (int, botEnvelope) {
			return c.postJSON("sendMessage", map[string]string{"chat_id": "-1001000001234", "text": "hi",
				"reply_markup": botKeyboard, "disable_notification": "true"})
		}},
		{"multipart", "multipart/form-data", func() (int, botEnvelope) {
			ct, body := multipartBody()
			return c.post("sendMessage", ct, body)
		}},
		{"get query", "", func() (int, botEnvelope) {
			req, _ := http.NewRequest(http.MethodGet, api.URL()+"/bot"+botTestToken+"/sendMessage?"+form.Encode(), nil)
			return c.do(req)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api.Reset()
			status, env := tc.send()
			if status != 200 || !env.OK {
				t.Fatalf("answer %d %+v", status, env)
			}
			var msg struct {
				MessageID int64 `json:"message_id"`
				From      struct {
					ID    int64 `json:"id"`
					IsBot bool  `json:"is_bot"`
				} `json:"from"`
				Chat struct {
					ID   int64  `json:"id"`
					Type string `json:"type"`
				} `json:"chat"`
				Date        int64           `json:"date"`
				Text        string          `json:"text"`
				ReplyMarkup json.RawMessage `json:"reply_markup"`
			}
			if err := json.Unmarshal(env.Result, &msg); err != nil {
				t.Fatal(err)
			}
			if msg.MessageID == 0 || msg.Chat.ID != -1001000001234 || msg.Chat.Type != "supergroup" ||
				msg.Text != "hi" || msg.Date == 0 || !msg.From.IsBot || msg.From.ID != DefaultBotID {
				t.Errorf("result %s", env.Result)
			}
			if string(msg.ReplyMarkup) != botKeyboard {
				t.Errorf("reply_markup echoed as %s, want %s", msg.ReplyMarkup, botKeyboard)
			}

			calls := api.CallsTo("sendMessage")
			if len(calls) != 1 {
				t.Fatalf("recorded %d calls, want 1", len(calls))
			}
			got := calls[0]
			if got.Token != botTestToken || got.ContentType != tc.wantType {
				t.Errorf("token %q content type %q", got.Token, got.ContentType)
			}
			for k, want := range map[string]string{"chat_id": "-1001000001234", "text": "hi", "reply_markup": botKeyboard} {
				if got.Params[k] != want {
					t.Errorf("Params[%q] = %q, want %q", k, got.Params[k], want)
				}
			}
			if _, ok := got.Params["reply_to_message_id"]; ok {
				t.Error("a JSON null must count as absent")
			}
			if tc.name == "json typed" || tc.name == "json strings" {
				if got.Params["disable_notification"] != "true" {
					t.Errorf("disable_notification = %q", got.Params["disable_notification"])
				}
			}
			if tc.name == "multipart" && got.Files["document"] != "notes.txt" {
				t.Errorf("Files = %v", got.Files)
			}
		})
	}
}

func TestBotAPIRoutes(t *testing.T) {
	api := Start(t, WithBotUser(42, "Forty Two", "fortytwo_bot"))
	c := newBotClient(t, api)

	// getMe with telebot's body for "no parameters" (JSON null) and a custom identity.
	status, env := c.post("GETME", "application/json", []byte("null\n"))
	if status != 200 || !env.OK {
		t.Fatalf("getMe: %d %+v", status, env)
	}
	var me struct {
		ID        int64  `json:"id"`
		IsBot     bool   `json:"is_bot"`
		FirstName string `json:"first_name"`
		Username  string `json:"username"`
	}
	_ = json.Unmarshal(env.Result, &me)
	if me.ID != 42 || !me.IsBot || me.FirstName != "Forty Two" || me.Username != "fortytwo_bot" {
		t.Errorf("getMe = %s", env.Result)
	}

	status, env = c.post("noSuchMethod", "", nil)
	if status != 404 || env.OK || env.ErrorCode != 404 || env.Description != "Not Found: method not found" {
		t.Errorf("unknown method: %d %+v", status, env)
	}
	req, _ := http.NewRequest(http.MethodGet, api.URL()+"/nobot/getMe", nil)
	if status, env = c.do(req); status != 404 || env.OK {
		t.Errorf("bad path: %d %+v", status, env)
	}
	status, env = c.post("sendMessage", "application/json", []byte(`{"text":"x"}`))
	if status != 400 || env.ErrorCode != 400 || !strings.HasPrefix(env.Description, "Bad Request: ") {
		t.Errorf("missing chat_id: %d %+v", status, env)
	}
	status, env = c.post("answerInlineQuery", "application/json", []byte(`{"inline_query_id":"2","results":{}}`))
	if status != 400 || env.OK {
		t.Errorf("non-array results: %d %+v", status, env)
	}
	status, env = c.post("sendMessage", "application/json", []byte(`[1,2]`))
	if status != 400 || env.OK {
		t.Errorf("JSON array body: %d %+v", status, env)
	}

	// Built-in and canned methods.
	for _, m := range []struct{ method, body string }{
		{"answerCallbackQuery", `{"callback_query_id":"1","text":"slow down"}`},
		{"answerInlineQuery", `{"inline_query_id":"2","results":[]}`},
		{"answerInlineQuery", `{"inline_query_id":"2","results":"[]","cache_time":"5"}`},
		{"answerInlineQuery", `{"inline_query_id":"2","results":null}`},
		{"answerInlineQuery", `{"inline_query_id":"2"}`},
		{"setMyCommands", `{"commands":[{"command":"start","description":"Start"}]}`},
		{"deleteWebhook", `{}`},
		{"sendChatAction", `{"chat_id":1,"action":"typing"}`},
		{"editMessageText", `{"inline_message_id":"x","text":"t"}`},
	} {
		if status, env := c.post(m.method, "application/json", []byte(m.body)); status != 200 || !env.OK {
			t.Errorf("%s: %d %+v", m.method, status, env)
		}
	}
	status, env = c.post("editMessageText", "application/json", []byte(`{"chat_id":5,"message_id":77,"text":"new"}`))
	var edited struct {
		MessageID int64  `json:"message_id"`
		Text      string `json:"text"`
	}
	if _ = json.Unmarshal(env.Result, &edited); status != 200 || edited.MessageID != 77 || edited.Text != "new" {
		t.Errorf("editMessageText: %d %s", status, env.Result)
	}
	api.SetResult("getChatMember", map[string]any{"status": "member"})
	if _, env = c.post("getchatmember", "", nil); string(env.Result) != `{"status":"member"}` {
		t.Errorf("canned result %s", env.Result)
	}

	// Webhook info reflects setWebhook.
	c.postJSON("setWebhook", map[string]any{"url": "https://example.org/hook", "secret_token": "s3"})
	_, env = c.post("getWebhookInfo", "", nil)
	var info struct {
		URL     string `json:"url"`
		Pending int    `json:"pending_update_count"`
	}
	if _ = json.Unmarshal(env.Result, &info); info.URL != "https://example.org/hook" {
		t.Errorf("getWebhookInfo = %s", env.Result)
	}

	calls := api.Calls()
	if len(calls) == 0 || calls[0].Method != "GETME" || calls[0].Token != botTestToken {
		t.Errorf("first call recorded as %+v", calls[0])
	}
	if got := len(api.CallsTo("answerinlinequery")); got != 5 { // 1 rejected + 4 accepted
		t.Errorf("CallsTo is case-insensitive: got %d, want 5", got)
	}
	if got := api.CallsTo("answerInlineQuery")[2].Params["cache_time"]; got != "5" {
		t.Errorf("cache_time = %q", got)
	}
}

func TestBotAPILongPollWakesOnPush(t *testing.T) {
	api := Start(t)
	c := newBotClient(t, api)

	type result struct {
		ups     []map[string]json.RawMessage
		elapsed time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		ups := c.updates(url.Values{"timeout": {"30"}})
		done <- result{ups, time.Since(start)}
	}()
	if _, err := api.WaitCalls(botCtx(t, 10*time.Second), "getUpdates", 1); err != nil {
		t.Fatal(err)
	}
	pushed := time.Now()
	id := api.Push(Message(1, 1, "private", "hello"))
	select {
	case r := <-done:
		if got := botUpdateIDs(t, r.ups); !slices.Equal(got, []int64{id}) {
			t.Fatalf("got update ids %v, want [%d]", got, id)
		}
		t.Logf("long poll returned %v after the push", time.Since(pushed))
	case <-time.After(20 * time.Second):
		t.Fatal("long poll did not return after Push")
	}
}

func TestBotAPILongPollTimeout(t *testing.T) {
	api := Start(t)
	c := newBotClient(t, api)
	if ups := c.updates(url.Values{"timeout": {"1"}}); len(ups) != 0 {
		t.Fatalf("got %d updates, want none", len(ups))
	}
	if ups := c.updates(nil); len(ups) != 0 { // short poll
		t.Fatalf("got %d updates, want none", len(ups))
	}
}

func TestBotAPIOffsets(t *testing.T) {
	api := Start(t)
	c := newBotClient(t, api)
	a, b, d := api.Push(Message(1, 1, "", "a")), api.Push(Message(1, 1, "", "b")), api.Push(Message(1, 1, "", "c"))
	if got := botUpdateIDs(t, c.updates(nil)); !slices.Equal(got, []int64{a, b, d}) {
		t.Fatalf("first read %v", got)
	}
	if got := botUpdateIDs(t, c.updates(nil)); !slices.Equal(got, []int64{a, b, d}) {
		t.Fatalf("unconfirmed updates must come again, got %v", got)
	}
	if got := botUpdateIDs(t, c.updates(url.Values{"offset": {strconv.FormatInt(b, 10)}})); !slices.Equal(got, []int64{b, d}) {
		t.Fatalf("offset=%d gave %v", b, got)
	}
	if got := botUpdateIDs(t, c.updates(nil)); !slices.Equal(got, []int64{b, d}) {
		t.Fatalf("update %d should be confirmed, got %v", a, got)
	}
	if got := c.updates(url.Values{"offset": {strconv.FormatInt(d+1, 10)}}); len(got) != 0 {
		t.Fatalf("all confirmed, got %v", botUpdateIDs(t, got))
	}
	if n := api.PendingUpdates(); n != 0 {
		t.Fatalf("PendingUpdates = %d", n)
	}

	// Explicit ids are kept and move the counter; a negative offset keeps the tail.
	if got := api.Push(map[string]any{"update_id": 500, "message": map[string]any{}}); got != 500 {
		t.Fatalf("explicit update_id became %d", got)
	}
	if got := api.Push(json.RawMessage(`{"message":{}}`)); got != 501 {
		t.Fatalf("next automatic id %d, want 501", got)
	}
	api.Push(`{"message":{}}`)
	if got := botUpdateIDs(t, c.updates(url.Values{"offset": {"-1"}})); !slices.Equal(got, []int64{502}) {
		t.Fatalf("offset=-1 gave %v", got)
	}
	if n := api.PendingUpdates(); n != 1 {
		t.Fatalf("PendingUpdates after offset=-1: %d, want 1", n)
	}
}

func TestBotAPILimit(t *testing.T) {
	api := Start(t)
	c := newBotClient(t, api)
	for i := 0; i < 120; i++ {
		api.Push(Message(1, 1, "", "x"))
	}
	if got := c.updates(url.Values{"limit": {"2"}}); len(got) != 2 {
		t.Errorf("limit=2 gave %d", len(got))
	}
	if got := c.updates(nil); len(got) != 100 {
		t.Errorf("default limit gave %d, want 100", len(got))
	}
	if got := c.updates(url.Values{"limit": {"1000"}}); len(got) != 100 {
		t.Errorf("limit=1000 gave %d, want 100", len(got))
	}
}

func TestBotAPIAllowedUpdates(t *testing.T) {
	api := Start(t)
	c := newBotClient(t, api)
	api.Push(map[string]any{"chat_member": map[string]any{"chat": map[string]any{"id": -5, "type": "group"}}})
	msg := api.Push(Message(1, 1, "", "x"))
	if got := botUpdateIDs(t, c.updates(nil)); !slices.Equal(got, []int64{msg}) {
		t.Fatalf("chat_member must be left out by default, got %v", got)
	}
	cm := api.Push(map[string]any{"chat_member": map[string]any{}})
	api.Push(Message(1, 1, "", "y"))
	got := botUpdateIDs(t, c.updates(url.Values{"offset": {strconv.FormatInt(msg+1, 10)},
		"allowed_updates": {`["chat_member"]`}}))
	if !slices.Equal(got, []int64{cm}) {
		t.Fatalf(`allowed_updates=["chat_member"] gave %v, want [%d]`, got, cm)
	}
}

func TestBotAPIFailNext(t *testing.T) {
	api := Start(t)
	c := newBotClient(t, api)
	api.FailNext("SendMessage", 2, 7)
	body := []byte(`{"chat_id":1,"text":"x"}`)
	for i := 0; i < 2; i++ {
		status, env := c.post("sendmessage", "application/json", body)
		if status != 429 || env.OK || env.ErrorCode != 429 ||
			env.Description != "Too Many Requests: retry after 7" || env.Parameters == nil || env.Parameters.RetryAfter != 7 {
			t.Fatalf("call %d: %d %+v", i, status, env)
		}
	}
	if status, env := c.post("sendMessage", "application/json", body); status != 200 || !env.OK {
		t.Fatalf("third call: %d %+v", status, env)
	}
	calls := api.CallsTo("sendMessage")
	if len(calls) != 3 || !calls[0].RateLimited || !calls[1].RateLimited || calls[2].RateLimited {
		t.Fatalf("RateLimited flags wrong: %+v", calls)
	}

	// Exact body, as frameworks parse it.
	api.FailNext("getMe", 1, 3)
	resp, err := c.c.Post(api.URL()+"/bot1:x/getMe", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}`
	if strings.TrimSpace(string(raw)) != want || resp.StatusCode != 429 {
		t.Fatalf("429 body %d %s, want %s", resp.StatusCode, raw, want)
	}
}

func TestBotAPIWaitCallsDeadline(t *testing.T) {
	api := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := api.WaitCalls(ctx, "sendMessage", 1); err == nil {
		t.Fatal("WaitCalls returned no error without calls")
	}
}

// botHookServer is a webhook receiver that counts what it got.
type botHookServer struct {
	*httptest.Server
	mu      sync.Mutex
	ids     []int64
	secrets []string
	fail    map[int64]int // update id → failures left to answer
}

func newBotHookServer(t *testing.T) *botHookServer {
	h := &botHookServer{fail: map[int64]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u struct {
			UpdateID int64 `json:"update_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&u); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad update", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.fail[u.UpdateID] > 0 {
			h.fail[u.UpdateID]--
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		h.ids = append(h.ids, u.UpdateID)
		h.secrets = append(h.secrets, r.Header.Get("X-Telegram-Bot-Api-Secret-Token"))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *botHookServer) got() (ids []int64, secrets []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ids), slices.Clone(h.secrets)
}

func TestBotAPIWebhookRoundRobin(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	hooks := []*botHookServer{newBotHookServer(t), newBotHookServer(t), newBotHookServer(t)}
	api, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	c := newBotClient(t, api)
	defer c.c.CloseIdleConnections()

	api.SetWebhookSecret("sekret")
	api.Push(Message(1, 1, "", "queued before the switch"))
	api.DeliverToWebhooks(hooks[0].URL, hooks[1].URL, hooks[2].URL)
	for i := 1; i < 9; i++ {
		api.Push(Message(int64(i), 1, "", "x"))
	}
	if err := api.WaitDelivered(botCtx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	var all []int64
	for i, h := range hooks {
		ids, secrets := h.got()
		if len(ids) != 3 {
			t.Errorf("webhook %d got %d updates, want 3", i, len(ids))
		}
		for _, s := range secrets {
			if s != "sekret" {
				t.Errorf("webhook %d got secret %q", i, s)
			}
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	if !slices.Equal(all, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("delivered ids %v", all)
	}
	if d := api.Deliveries(); len(d) != 9 || !d[0].OK() {
		t.Errorf("deliveries %+v", d)
	}
	if status, env := c.post("getUpdates", "", nil); status != 409 || env.ErrorCode != 409 {
		t.Errorf("getUpdates in webhook mode: %d %+v", status, env)
	}

	api.Close()
	c.c.CloseIdleConnections()
	for _, h := range hooks {
		h.Close()
	}
}

func TestBotAPIWebhookRetry(t *testing.T) {
	ok, bad := newBotHookServer(t), newBotHookServer(t)
	api := Start(t, WithWebhookRetry(3, time.Millisecond), WithWebhookConcurrency(1))
	ok.fail[1] = 2 // fails twice, then succeeds on the third attempt
	api.DeliverToWebhooks(ok.URL)
	api.Push(Message(1, 1, "", "x"))
	if err := api.WaitDelivered(botCtx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	var statuses []int
	for _, d := range api.Deliveries() {
		statuses = append(statuses, d.Status)
	}
	if !slices.Equal(statuses, []int{500, 500, 200}) {
		t.Errorf("attempt statuses %v, want [500 500 200]", statuses)
	}

	api.Reset()
	bad.fail[2] = 99
	api.DeliverToWebhooks(bad.URL)
	api.Push(Message(1, 1, "", "y"))
	if err := api.WaitDelivered(botCtx(t, 10*time.Second)); err == nil || !strings.Contains(err.Error(), "could not be delivered") {
		t.Errorf("WaitDelivered = %v, want an undeliverable error", err)
	}
	if n := len(api.Deliveries()); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestBotAPIWebhookFollowsSetWebhook(t *testing.T) {
	h := newBotHookServer(t)
	api := Start(t)
	c := newBotClient(t, api)
	api.DeliverToWebhooks() // no URL: wait for the bot's setWebhook
	id := api.Push(Message(1, 1, "", "x"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := api.WaitDelivered(ctx); err == nil {
		t.Fatal("delivered with no webhook set")
	}
	c.post("setWebhook", "application/x-www-form-urlencoded",
		[]byte(url.Values{"url": {h.URL}, "secret_token": {"from-bot"}}.Encode()))
	if err := api.WaitDelivered(botCtx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if ids, secrets := h.got(); !slices.Equal(ids, []int64{id}) || secrets[0] != "from-bot" {
		t.Errorf("got %v %v", ids, secrets)
	}
}

func TestBotAPICloseReleasesPoll(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	api, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	c := newBotClient(t, api)
	done := make(chan []map[string]json.RawMessage, 1)
	go func() { done <- c.updates(url.Values{"timeout": {"60"}}) }()
	if _, err := api.WaitCalls(botCtx(t, 10*time.Second), "getUpdates", 1); err != nil {
		t.Fatal(err)
	}
	api.Close()
	select {
	case ups := <-done:
		if len(ups) != 0 {
			t.Fatalf("released poll returned %d updates", len(ups))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not release the long poll")
	}
	api.Close() // twice is harmless
	c.c.CloseIdleConnections()
}

func TestBotAPIBuilders(t *testing.T) {
	api := Start(t)
	c := newBotClient(t, api)
	api.Push(Message(10, 10, "private", "/start@floodgate_test_bot now"))
	api.Push(CallbackQuery(11, -100555, "btn"))
	api.Push(InlineQuery(12, "cats"))
	api.Push(ChannelPost(-100777, "news"))
	api.Push(AnonymousAdminMessage(-100888, "admin says"))
	api.Push(MessageWithoutFrom(-100999, "who?"))
	api.Push(UnknownUpdate("future_kind"))

	type chat struct {
		ID   int64  `json:"id"`
		Type string `json:"type"`
	}
	type user struct {
		ID int64 `json:"id"`
	}
	type message struct {
		From       *user  `json:"from"`
		SenderChat *chat  `json:"sender_chat"`
		Chat       chat   `json:"chat"`
		Text       string `json:"text"`
		Entities   []struct {
			Type           string `json:"type"`
			Offset, Length int
		} `json:"entities"`
	}
	var u []struct {
		UpdateID      int64    `json:"update_id"`
		Message       *message `json:"message"`
		ChannelPost   *message `json:"channel_post"`
		CallbackQuery *struct {
			ID      string   `json:"id"`
			From    user     `json:"from"`
			Message *message `json:"message"`
			Data    string   `json:"data"`
		} `json:"callback_query"`
		InlineQuery *struct {
			ID    string `json:"id"`
			From  user   `json:"from"`
			Query string `json:"query"`
		} `json:"inline_query"`
		Future json.RawMessage `json:"future_kind"`
	}
	_, env := c.post("getUpdates", "", nil)
	if err := json.Unmarshal(env.Result, &u); err != nil || len(u) != 7 {
		t.Fatalf("%v: %s", err, env.Result)
	}
	if m := u[0].Message; m == nil || m.From.ID != 10 || m.Chat.Type != "private" || len(m.Entities) != 1 ||
		m.Entities[0].Type != "bot_command" || m.Entities[0].Length != len("/start@floodgate_test_bot") {
		t.Errorf("command message %+v", m)
	}
	if q := u[1].CallbackQuery; q == nil || q.ID == "" || q.From.ID != 11 || q.Data != "btn" ||
		q.Message == nil || q.Message.Chat.ID != -100555 || q.Message.Chat.Type != "group" {
		t.Errorf("callback query %+v", q)
	}
	if q := u[2].InlineQuery; q == nil || q.ID == "" || q.From.ID != 12 || q.Query != "cats" {
		t.Errorf("inline query %+v", q)
	}
	if p := u[3].ChannelPost; p == nil || p.From != nil || p.SenderChat == nil || p.SenderChat.ID != -100777 ||
		p.Chat.Type != "channel" {
		t.Errorf("channel post %+v", p)
	}
	if m := u[4].Message; m == nil || m.From == nil || m.From.ID != GroupAnonymousBotID ||
		m.SenderChat == nil || m.SenderChat.ID != -100888 || m.Chat.Type != "supergroup" {
		t.Errorf("anonymous admin %+v", m)
	}
	if m := u[5].Message; m == nil || m.From != nil || m.SenderChat != nil || m.Text != "who?" {
		t.Errorf("message without from %+v", m)
	}
	if len(u[6].Future) == 0 {
		t.Errorf("unknown kind missing: %+v", u[6])
	}

	// sendMessage answers with the chat type learnt from pushed updates.
	_, env = c.postJSON("sendMessage", map[string]any{"chat_id": -100777, "text": "reply"})
	if !strings.Contains(string(env.Result), `"type":"channel"`) {
		t.Errorf("chat type not learnt: %s", env.Result)
	}
}

// ---- the real frameworks against the fake server ----

// botLogCalls shows what a framework sent, for adapter authors.
func botLogCalls(t *testing.T, api *Server) {
	polls := 0
	for _, c := range api.Calls() {
		if strings.EqualFold(c.Method, "getUpdates") {
			if polls++; polls > 2 { // the first two polls are enough
				continue
			}
		}
		t.Logf("%-20s %-4s %-34s %v files=%v", c.Method, c.HTTPMethod, c.ContentType, c.Params, c.Files)
	}
}

func TestFrameworkTelebot(t *testing.T) {
	api := Start(t)
	b, err := tele.NewBot(tele.Settings{
		URL: api.URL(), Token: botTestToken,
		Poller: &tele.LongPoller{Timeout: time.Second},
		Client: &http.Client{Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatalf("NewBot (getMe): %v", err)
	}
	if b.Me.ID != DefaultBotID || b.Me.Username != DefaultBotUsername {
		t.Errorf("Me = %+v", b.Me)
	}
	kb := &tele.ReplyMarkup{}
	kb.Inline(kb.Row(kb.Data("a", "b")))
	m, err := b.Send(&tele.Chat{ID: -1001000001234}, "hello", kb)
	if err != nil || m.ID == 0 || m.Chat.ID != -1001000001234 || m.Text != "hello" {
		t.Fatalf("Send: %+v %v", m, err)
	}

	b.Handle(tele.OnText, func(c tele.Context) error { return c.Reply("pong") })
	b.Handle(tele.OnCallback, func(c tele.Context) error { return c.Respond(&tele.CallbackResponse{Text: "slow"}) })
	b.Handle(tele.OnQuery, func(c tele.Context) error { return c.Answer(&tele.QueryResponse{}) })
	go b.Start()
	defer b.Stop()
	api.Push(Message(5, 5, "private", "ping"))
	api.Push(CallbackQuery(5, 5, "b"))
	api.Push(InlineQuery(5, "q"))
	ctx := botCtx(t, 10*time.Second)
	for _, m := range []string{"sendMessage", "answerCallbackQuery", "answerInlineQuery"} {
		want := 1
		if m == "sendMessage" {
			want = 2
		}
		if _, err := api.WaitCalls(ctx, m, want); err != nil {
			t.Fatal(err)
		}
	}
	reply := api.CallsTo("sendMessage")[1]
	if reply.Params["chat_id"] != "5" || reply.Params["text"] != "pong" {
		t.Errorf("reply %+v", reply.Params)
	}
	botLogCalls(t, api)
}

func TestFrameworkTelego(t *testing.T) {
	api := Start(t)
	bot, err := telego.NewBot(botTestToken, telego.WithAPIServer(api.URL()),
		telego.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}), telego.WithDiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	me, err := bot.GetMe(ctx)
	if err != nil || me.ID != DefaultBotID {
		t.Fatalf("GetMe: %+v %v", me, err)
	}
	m, err := bot.SendMessage(ctx, tu.Message(tu.ID(-1001000001234), "hello").WithReplyMarkup(
		tu.InlineKeyboard(tu.InlineKeyboardRow(tu.InlineKeyboardButton("a").WithCallbackData("b")))))
	if err != nil || m.MessageID == 0 || m.Chat.ID != -1001000001234 || m.Text != "hello" {
		t.Fatalf("SendMessage: %+v %v", m, err)
	}

	pollCtx, stop := context.WithCancel(ctx)
	defer stop()
	updates, err := bot.UpdatesViaLongPolling(pollCtx, &telego.GetUpdatesParams{Timeout: 1})
	if err != nil {
		t.Fatal(err)
	}
	api.Push(Message(5, 5, "private", "ping"))
	api.Push(CallbackQuery(5, 5, "b"))
	api.Push(InlineQuery(5, "q"))
	for i := 0; i < 3; i++ {
		var u telego.Update
		select {
		case u = <-updates:
		case <-ctx.Done():
			t.Fatal("no update from telego")
		}
		switch {
		case u.Message != nil:
			_, err = bot.SendMessage(ctx, tu.Message(u.Message.Chat.ChatID(), "pong"))
		case u.CallbackQuery != nil:
			err = bot.AnswerCallbackQuery(ctx, tu.CallbackQuery(u.CallbackQuery.ID).WithText("slow"))
		case u.InlineQuery != nil:
			err = bot.AnswerInlineQuery(ctx, tu.InlineQuery(u.InlineQuery.ID))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	stop()
	for range updates { // drain until telego closes the channel
	}
	if got := api.CallsTo("sendMessage"); len(got) != 2 || got[1].Params["chat_id"] != "5" {
		t.Errorf("sendMessage calls %+v", got)
	}
	botLogCalls(t, api)
}

func TestFrameworkTgbotapi(t *testing.T) {
	api := Start(t)
	bot, err := tgbotapi.NewBotAPIWithAPIEndpoint(botTestToken, api.URL()+"/bot%s/%s")
	if err != nil {
		t.Fatalf("NewBotAPIWithAPIEndpoint (getMe): %v", err)
	}
	if bot.Self.ID != DefaultBotID {
		t.Errorf("Self = %+v", bot.Self)
	}
	msg := tgbotapi.NewMessage(-1001000001234, "hello")
	msg.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("a", "b")))
	m, err := bot.Send(msg)
	if err != nil || m.MessageID == 0 || m.Chat.ID != -1001000001234 || m.Text != "hello" {
		t.Fatalf("Send: %+v %v", m, err)
	}

	u := tgbotapi.NewUpdate(0)
	u.Timeout = 1
	updates := bot.GetUpdatesChan(u)
	defer bot.StopReceivingUpdates()
	api.Push(Message(5, 5, "private", "ping"))
	api.Push(CallbackQuery(5, 5, "b"))
	api.Push(InlineQuery(5, "q"))
	for i := 0; i < 3; i++ {
		var up tgbotapi.Update
		select {
		case up = <-updates:
		case <-time.After(10 * time.Second):
			t.Fatal("no update from tgbotapi")
		}
		switch {
		case up.Message != nil:
			if !up.Message.IsCommand() && up.Message.Text == "ping" {
				_, err = bot.Send(tgbotapi.NewMessage(up.Message.Chat.ID, "pong"))
			}
		case up.CallbackQuery != nil:
			_, err = bot.Request(tgbotapi.NewCallback(up.CallbackQuery.ID, "slow"))
		case up.InlineQuery != nil:
			_, err = bot.Request(tgbotapi.InlineConfig{InlineQueryID: up.InlineQuery.ID, Results: []any{}})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := api.CallsTo("sendMessage"); len(got) != 2 || got[1].Params["chat_id"] != "5" {
		t.Errorf("sendMessage calls %+v", got)
	}
	botLogCalls(t, api)
}

// ExampleNewServer shows the fake server outside tests, as the demo
// uses it.
func ExampleNewServer() {
	api, err := NewServer()
	if err != nil {
		panic(err)
	}
	defer api.Close()
	api.Push(Message(1, 1, "private", "hi"))
	resp, err := http.Get(api.URL() + "/bot123:abc/getUpdates")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var env struct {
		Result []struct {
			UpdateID int64 `json:"update_id"`
		} `json:"result"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&env)
	fmt.Println(len(env.Result), env.Result[0].UpdateID)
	// Output: 1 1
}

func TestBotAPIFailNextError(t *testing.T) {
	api := Start(t)
	c := newBotClient(t, api)
	api.FailNextError("sendMessage", 1, 502, "Bad Gateway")
	body := []byte(`{"chat_id":1,"text":"x"}`)
	if status, env := c.post("sendMessage", "application/json", body); status != 502 || env.ErrorCode != 502 ||
		env.Description != "Bad Gateway" || env.Parameters != nil {
		t.Fatalf("injected 502: %d %+v", status, env)
	}
	if status, _ := c.post("sendMessage", "application/json", body); status != 200 {
		t.Fatalf("second call: %d", status)
	}
	calls := api.CallsTo("sendMessage")
	if len(calls) != 2 || calls[0].Failed != 502 || calls[0].RateLimited || calls[1].Failed != 0 {
		t.Fatalf("Failed flags wrong: %+v", calls)
	}
}

// TestBotAPIFloodLimits checks each lane of the flood limits and the
// honesty of retry_after: refused sends are not counted, and the wait is
// rounded up to whole seconds.
func TestBotAPIFloodLimits(t *testing.T) {
	api := Start(t, WithFloodLimits(FloodLimits{
		Global: Span{3, time.Second}, Paid: Span{5, time.Second},
		Private: Span{1, time.Second}, Group: Span{2, time.Minute},
	}))
	c := newBotClient(t, api)
	send := func(chat string, paid bool) (int, botEnvelope) {
		t.Helper()
		p := url.Values{"chat_id": {chat}, "text": {"x"}}
		if paid {
			p.Set("allow_paid_broadcast", "true")
		}
		return c.post("sendMessage", "application/x-www-form-urlencoded", []byte(p.Encode()))
	}
	if s, _ := send("1", false); s != 200 {
		t.Fatalf("first send to a private chat: %d", s)
	}
	if s, env := send("1", false); s != 429 || env.Parameters == nil || env.Parameters.RetryAfter != 1 {
		t.Fatalf("second send to a private chat within a second: %d %+v, want 429 retry after 1", s, env)
	}
	if s, _ := send("-5", false); s != 200 {
		t.Fatalf("first send to a group: %d", s)
	}
	if s, _ := send("-5", false); s != 200 {
		t.Fatalf("second send to a group: %d", s)
	}
	// The global lane (3/s) is full now: a fresh chat is refused too.
	if s, env := send("2", false); s != 429 || env.Parameters.RetryAfter != 1 {
		t.Fatalf("fourth send within a second: %d %+v, want 429 (global)", s, env)
	}
	// A paid broadcast uses its own lane instead of the global one.
	if s, _ := send("3", true); s != 200 {
		t.Fatalf("paid broadcast: %d", s)
	}
	// The group lane (2/min) says 60 s, more than the global's second.
	if s, env := send("-5", true); s != 429 || env.Parameters.RetryAfter != 60 {
		t.Fatalf("third send to the group: %d %+v, want 429 retry after 60", s, env)
	}
	// Methods that send nothing are never refused.
	api.SetResult("sendChatAction", true)
	for range 5 {
		if s, _ := c.post("getMe", "", nil); s != 200 {
			t.Fatalf("getMe refused: %d", s)
		}
		if s, _ := c.post("sendChatAction", "application/json", []byte(`{"chat_id":1,"action":"typing"}`)); s != 200 {
			t.Fatalf("sendChatAction refused: %d", s)
		}
	}
	var flooded, delivered int
	for _, call := range api.CallsTo("sendMessage") {
		if call.Flooded {
			flooded++
			if !call.RateLimited {
				t.Fatal("a flooded call is not RateLimited")
			}
		} else {
			delivered++
		}
	}
	if flooded != 3 || delivered != 4 {
		t.Fatalf("flooded %d delivered %d, want 3 and 4", flooded, delivered)
	}
}

func TestIsSendMethod(t *testing.T) {
	for m, want := range map[string]bool{"sendMessage": true, "SENDPHOTO": true, "sendMediaGroup": true,
		"copyMessages": true, "forwardMessage": true, "sendChatAction": false, "getMe": false,
		"editMessageText": false, "answerCallbackQuery": false} {
		if IsSendMethod(m) != want {
			t.Errorf("IsSendMethod(%q) = %v, want %v", m, !want, want)
		}
	}
}

// TestEmptyMultipartBody: a multipart body with no part at all (what
// go-telegram/bot sends for a method without parameters, getMe) means no
// parameters, as on Telegram; a truncated one is still an error.
func TestEmptyMultipartBody(t *testing.T) {
	api := Start(t)
	c := newBotClient(t, api)
	if code, env := c.post("getMe", "multipart/form-data; boundary=xyz", nil); code != 200 || !env.OK {
		t.Errorf("getMe with an empty multipart body = %d %+v, want 200 ok", code, env)
	}
	body := "--xyz\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n42"
	if code, _ := c.post("sendMessage", "multipart/form-data; boundary=xyz", []byte(body)); code != 400 {
		t.Errorf("sendMessage with a truncated multipart body = %d, want 400", code)
	}
}

// TestEveryKind: each built update has exactly its kind, the kinds are
// the ones AllowedEveryKind lists, and over getUpdates the server drops
// the three kinds Telegram leaves out by default unless allowed_updates
// names them.
func TestEveryKind(t *testing.T) {
	every := EveryKind(42, -1001234567890)
	allowed := AllowedEveryKind()
	if len(every) != len(allowed) {
		t.Fatalf("EveryKind has %d kinds, AllowedEveryKind %d", len(every), len(allowed))
	}
	for kind, u := range every {
		if len(u) != 1 || u[kind] == nil {
			t.Errorf("EveryKind()[%q] = %v, want one field named %[1]q", kind, u)
		}
	}
	for _, tc := range []struct {
		allowed string
		want    int
	}{{"", len(every) - len(defaultExcludedKinds)}, {`["` + strings.Join(allowed, `","`) + `"]`, len(every)}} {
		api := Start(t)
		for _, u := range EveryKind(42, -5) {
			api.Push(u)
		}
		c := newBotClient(t, api)
		got := c.updates(url.Values{"allowed_updates": {tc.allowed}})
		if len(got) != tc.want {
			t.Errorf("allowed_updates %q: %d updates, want %d", tc.allowed, len(got), tc.want)
		}
	}
}
