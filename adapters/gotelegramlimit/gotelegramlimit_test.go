package gotelegramlimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/gotelegramlimit"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/adaptertest"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/telegramtest"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	n := adaptertest.RunEndToEnd(t, api, func(g *guard.Guard) adaptertest.E2EBot {
		var passed adaptertest.Counter
		p := startPolling(t, api, recordingHandler(&passed), gotelegramlimit.Middleware(g))
		return adaptertest.E2EBot{Passed: &passed, Wait: p.wait}
	})
	t.Logf("%d updates, %d Bot API calls", n, len(api.Calls()))
}

// TestEndToEndWebhook runs the bot as a webhook (bot.WebhookHandler and
// StartWebhook) with the guard in front: the same decisions as by polling.
func TestEndToEndWebhook(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	adaptertest.RunWebhook(t, api, func(g *guard.Guard) (string, adaptertest.E2EBot) {
		var passed adaptertest.Counter
		done := make(chan int64, 100)
		b := newBot(t, api.URL(), bot.WithMiddlewares(reporter(done), gotelegramlimit.Middleware(g)),
			bot.WithDefaultHandler(recordingHandler(&passed)), bot.WithWebhookSecretToken("s3cret"))
		srv := httptest.NewServer(b.WebhookHandler())
		ctx, cancel := context.WithCancel(context.Background())
		ended := make(chan struct{})
		go func() { defer close(ended); b.StartWebhook(ctx) }()
		t.Cleanup(func() { srv.Close(); cancel(); <-ended })
		return srv.URL, adaptertest.E2EBot{Passed: &passed, Wait: func(t testing.TB, n int) { adaptertest.WaitN(t, done, n) }}
	})
}

func TestStoreErrors(t *testing.T) {
	t.Parallel()
	adaptertest.RunStoreErrors(t, func(t *testing.T, api *telegramtest.Server, g *guard.Guard) adaptertest.E2EBot {
		var passed adaptertest.Counter
		p := startPolling(t, api, func(context.Context, *bot.Bot, *models.Update) { passed.Add("any") },
			gotelegramlimit.Middleware(g))
		return adaptertest.E2EBot{Passed: &passed, Wait: p.wait}
	})
}

// process is adaptertest.Process for the middleware in front of a handler,
// with a bot on apiURL ("": a nil bot).
func process(t *testing.T, g *guard.Guard, apiURL string) adaptertest.Process {
	var b *bot.Bot
	if apiURL != "" {
		b = newBot(t, apiURL)
	}
	handled := false
	h := gotelegramlimit.Middleware(g)(func(context.Context, *bot.Bot, *models.Update) { handled = true })
	return func(raw map[string]any) bool {
		handled = false
		h(context.Background(), b, adaptertest.Decode[models.Update](t, raw))
		return handled
	}
}

// TestActions: the Bot API calls on a denial, when they fail (429,
// unreachable, no bot) and for a business message.
func TestActions(t *testing.T) {
	t.Parallel()
	adaptertest.RunActions(t, testToken, process)
}

func TestUpdateOf(t *testing.T) {
	adaptertest.RunUpdateOf(t, func(t *testing.T, raw map[string]any) guard.Update {
		return gotelegramlimit.UpdateOf(adaptertest.Decode[models.Update](t, raw))
	})
	if got := gotelegramlimit.UpdateOf(nil); got != (guard.Update{}) {
		t.Errorf("UpdateOf(nil) = %+v, want the zero Update", got)
	}
}

// TestClient: Client as the bot's HTTP client paces the sends and retries
// a 429, although go-telegram/bot streams its requests.
func TestClient(t *testing.T) {
	t.Parallel()
	adaptertest.RunOutbound(t, func(t *testing.T, th *outbound.Throttle, apiURL string) func(int64, string) error {
		b := newBot(t, apiURL, bot.WithHTTPClient(pollTimeout, gotelegramlimit.Client(th, &http.Client{Timeout: time.Minute})))
		return func(chatID int64, text string) error {
			_, err := b.SendMessage(context.Background(), &bot.SendMessageParams{ChatID: chatID, Text: text})
			return err
		}
	})
}

func TestNilPanics(t *testing.T) {
	for name, tc := range map[string]struct {
		f    func()
		want string
	}{
		"Middleware": {func() { gotelegramlimit.Middleware(nil) }, "non-nil *guard.Guard"},
		"Client":     {func() { gotelegramlimit.Client(nil, nil) }, "non-nil *outbound.Throttle"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if s, _ := recover().(string); !strings.Contains(s, tc.want) {
					t.Errorf("recovered %q, want a message naming %s", s, tc.want)
				}
			}()
			tc.f()
		})
	}
}
