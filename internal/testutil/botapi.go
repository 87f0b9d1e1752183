package testutil

import (
	"testing"

	"github.com/floodgate-go/floodgate/telegramtest"
)

// The fake Bot API server moved to the public package telegramtest; these
// names forward to it so that tests written against testutil keep building.
// New code should use telegramtest directly.

// GroupAnonymousBotID forwards to telegramtest.GroupAnonymousBotID.
const GroupAnonymousBotID = telegramtest.GroupAnonymousBotID

// Default identity of the fake bot; see telegramtest.DefaultBotID.
const (
	DefaultBotID        = telegramtest.DefaultBotID
	DefaultBotFirstName = telegramtest.DefaultBotFirstName
	DefaultBotUsername  = telegramtest.DefaultBotUsername
)

// DefaultFloodTolerance forwards to telegramtest.DefaultFloodTolerance.
const DefaultFloodTolerance = telegramtest.DefaultFloodTolerance

type (
	// BotAPI is telegramtest.Server.
	BotAPI = telegramtest.Server
	// Call is telegramtest.Call.
	Call = telegramtest.Call
	// Delivery is telegramtest.Delivery.
	Delivery = telegramtest.Delivery
	// Option is telegramtest.Option.
	Option = telegramtest.Option
	// Span is telegramtest.Span.
	Span = telegramtest.Span
	// FloodLimits is telegramtest.FloodLimits.
	FloodLimits = telegramtest.FloodLimits
)

// NewBotAPIServer calls telegramtest.NewServer.
func NewBotAPIServer(opts ...Option) (*BotAPI, error) { return telegramtest.NewServer(opts...) }

// StartBotAPI calls telegramtest.Start.
func StartBotAPI(t testing.TB, opts ...Option) *BotAPI {
	t.Helper()
	return telegramtest.Start(t, opts...)
}

// The options and helpers, as telegramtest's.
var (
	WithBotUser            = telegramtest.WithBotUser
	WithWebhookConcurrency = telegramtest.WithWebhookConcurrency
	WithWebhookRetry       = telegramtest.WithWebhookRetry
	WithFloodLimits        = telegramtest.WithFloodLimits
	TelegramLimits         = telegramtest.TelegramLimits
	IsSendMethod           = telegramtest.IsSendMethod
)

// The update builders, as telegramtest's.
var (
	Message               = telegramtest.Message
	MessageWithoutFrom    = telegramtest.MessageWithoutFrom
	CallbackQuery         = telegramtest.CallbackQuery
	InlineQuery           = telegramtest.InlineQuery
	ChannelPost           = telegramtest.ChannelPost
	AnonymousAdminMessage = telegramtest.AnonymousAdminMessage
	UnknownUpdate         = telegramtest.UnknownUpdate
)
