package guard

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// TextFunc builds a text the Guard sends a user on a denial (a notice, a
// callback query's answer) from the update denied and the wait before the
// sender may try again (0 when no limit decided, e.g. an unkeyed update
// dropped by WithUnkeyed). u carries the sender's LanguageCode, the chat,
// its type and the update's Kind, so the text can be localized. It runs on
// the update's path: keep it fast and free of I/O.
type TextFunc func(u Update, retryAfter time.Duration) string

// DefaultNoticeText is the default "slow down" reply, in Russian for a
// sender whose language_code is "ru" or starts with "ru-", in English
// otherwise: "Too many requests. Please try again in 3s." or "Слишком много
// запросов. Попробуйте снова через 3 с." The wait is rounded up to whole
// seconds, at least 1. Wrap it to add languages:
//
//	guard.WithNotice(time.Minute, func(u guard.Update, wait time.Duration) string {
//		if guard.Language(u) == "de" {
//			return "Zu viele Anfragen. Bitte warte etwas."
//		}
//		return guard.DefaultNoticeText(u, wait)
//	})
func DefaultNoticeText(u Update, retryAfter time.Duration) string {
	secs := max(int64(math.Ceil(retryAfter.Seconds())), 1)
	if Language(u) == "ru" {
		return fmt.Sprintf("Слишком много запросов. Попробуйте снова через %d с.", secs)
	}
	return fmt.Sprintf("Too many requests. Please try again in %ds.", secs)
}

// Language returns the primary language subtag of u's LanguageCode, lower
// case: "pt" for "pt-BR", "ru" for "ru"; "" when Telegram sent none.
func Language(u Update) string {
	lang, _, _ := strings.Cut(u.LanguageCode, "-")
	return strings.ToLower(lang)
}
