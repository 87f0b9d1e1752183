package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/webhook"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

const (
	greeting = "Hello! I echo what you write. Try /ping, /help or the button below."
	helpText = "/start: greeting and a button\n/ping: pong\n/help: this text\n" +
		"Anything else is echoed back. Write too fast and I will ask you to slow down."
)

// handle answers one update that passed the flood limit.
func handle(bot *tgbotapi.BotAPI, u tgbotapi.Update, log *slog.Logger) {
	var reply tgbotapi.Chattable
	switch {
	case u.CallbackQuery != nil:
		text := ""
		if u.CallbackQuery.Data == "ping" {
			text = "pong"
		}
		reply = tgbotapi.NewCallback(u.CallbackQuery.ID, text)
	case u.Message != nil && u.Message.Chat != nil && u.Message.Text != "":
		m := u.Message
		// "/Start@this_bot" is "/start"; "/start@other_bot" is another bot's command.
		switch guard.CommandTo(m.Text, bot.Self.UserName) {
		case "/start":
			msg := tgbotapi.NewMessage(m.Chat.ID, greeting)
			msg.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
				tgbotapi.NewInlineKeyboardButtonData("Ping", "ping")))
			reply = msg
		case "/help":
			reply = tgbotapi.NewMessage(m.Chat.ID, helpText)
		case "/ping":
			reply = tgbotapi.NewMessage(m.Chat.ID, "pong")
		default:
			reply = tgbotapi.NewMessage(m.Chat.ID, m.Text)
		}
	default:
		return // other update kinds: nothing to do
	}
	if _, err := bot.Request(reply); err != nil {
		log.Warn("could not reply", "error", err)
	}
}

// apiClient is the bot's HTTP client (tgbotapi.HTTPClient). It does three
// things tgbotapi does not:
//   - it removes the token from transport errors, whose text holds the
//     request URL, token included (tgbotapi logs them as they are);
//   - it ties long polls to ctx: once ctx is done, a pending getUpdates
//     ends at once with no updates, so the poller sees StopReceivingUpdates
//     without waiting out its poll, and without the 3 s sleep tgbotapi
//     makes after a failed request;
//   - on 409 Conflict from getUpdates (another process polls this token;
//     webhook.ConflictTransport has cancelled ctx) it answers no updates
//     at once, where tgbotapi would log, sleep 3 s and retry for ever.
type apiClient struct {
	ctx   context.Context
	token string
	c     *http.Client
}

func (a *apiClient) Do(req *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.URL.Path, "/getUpdates") {
		resp, err := a.c.Do(req)
		return resp, a.redact(err)
	}
	status := http.StatusOK
	body, err := func() ([]byte, error) {
		resp, err := a.c.Do(req.WithContext(a.ctx))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		status = resp.StatusCode
		if status == http.StatusConflict {
			return nil, webhook.ErrConflict
		}
		return io.ReadAll(resp.Body) // here, so a late cancel cannot break the decoding
	}()
	if err != nil {
		if a.ctx.Err() == nil {
			return nil, a.redact(err)
		}
		status, body = http.StatusOK, []byte(`{"ok":true,"result":[]}`)
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), Request: req}, nil
}

func (a *apiClient) redact(err error) error {
	if err == nil || !strings.Contains(err.Error(), a.token) {
		return err
	}
	return errors.New(guard.Redact(err.Error(), a.token))
}
