package guard_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// A Guard that lets each user send two updates a minute, and never counts
// the bot's admin.
func ExampleNew() {
	st := memorystore.New()
	defer st.Close()
	lim, err := core.New(st, core.PerMinute(2))
	if err != nil {
		log.Fatal(err)
	}
	const admin = 1000
	g, err := guard.New(lim,
		guard.WithBypass(admin),                                  // never counted
		guard.WithCommandLimit("/report", core.Every(time.Hour)), // on top of the 2 a minute
	)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for _, u := range []guard.Update{
		{Kind: guard.KindMessage, UserID: 42, ChatID: 42, Command: "/report"},
		{Kind: guard.KindMessage, UserID: 42, ChatID: 42, Command: "/report"},
		{Kind: guard.KindMessage, UserID: admin, ChatID: admin},
	} {
		v := g.Check(ctx, u)
		fmt.Println(u.UserID, u.Command, v.Pass, v.Reason)
	}
	// Output:
	// 42 /report true allowed
	// 42 /report false limited
	// 1000  true bypass
}

// Check decides an update; a denial says when to retry, and carries the
// "slow down" notice once per cooldown.
func ExampleGuard_Check() {
	st := memorystore.New()
	defer st.Close()
	lim, err := core.New(st, core.PerMinute(2))
	if err != nil {
		log.Fatal(err)
	}
	g, err := guard.New(lim)
	if err != nil {
		log.Fatal(err)
	}
	u := guard.Update{Kind: guard.KindMessage, UserID: 42, ChatID: 42, ChatType: "private"}
	for range 4 {
		v := g.Check(context.Background(), u)
		fmt.Printf("pass=%v reason=%v notice=%q\n", v.Pass, v.Reason, v.Notice)
	}
	// Output:
	// pass=true reason=allowed notice=""
	// pass=true reason=allowed notice=""
	// pass=false reason=limited notice="Too many requests. Please try again in 30s."
	// pass=false reason=limited notice=""
}

// A user who keeps flooding is blocked: past 3 tolerated denials within a
// minute, the next one is an offense, blocked for a minute; a second
// offense for 10 minutes, any later one for an hour.
func ExampleWithPenalty() {
	st := memorystore.New()
	defer st.Close()
	lim, err := core.New(st, core.PerMinute(2))
	if err != nil {
		log.Fatal(err)
	}
	pen := guard.Penalty{Strikes: 3, Window: time.Minute, Blocks: []time.Duration{time.Minute, 10 * time.Minute, time.Hour}}
	g, err := guard.New(lim, guard.WithPenalty(pen), guard.WithNotice(0, nil))
	if err != nil {
		log.Fatal(err)
	}
	u := guard.Update{Kind: guard.KindMessage, UserID: 42, ChatID: 42}
	for range 7 {
		v := g.Check(context.Background(), u)
		fmt.Println(v.Pass, v.Reason, v.Result.RetryAfter.Round(time.Second))
	}
	// Output:
	// true allowed 0s
	// true allowed 0s
	// false limited 30s
	// false limited 30s
	// false limited 30s
	// false penalty 1m0s
	// false penalty 1m0s
}

// printer is a guard.Responder that prints the Bot API calls it is asked to
// make; an adapter makes them with its framework.
type printer struct{}

func (printer) AnswerCallback(_ context.Context, text string) error {
	fmt.Printf("answerCallbackQuery text=%q\n", text)
	return nil
}

func (printer) AnswerInline(context.Context) error {
	fmt.Println("answerInlineQuery results=[]")
	return nil
}

func (printer) SendNotice(_ context.Context, chatID int64, text string) error {
	fmt.Printf("sendMessage chat_id=%d text=%q\n", chatID, text)
	return nil
}

// Respond answers what a dropped update calls for: here a button pressed
// too often, whose answer carries the notice once.
func ExampleGuard_Respond() {
	st := memorystore.New()
	defer st.Close()
	lim, err := core.New(st, core.Every(time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	g, err := guard.New(lim, guard.WithCallbackText(func(u guard.Update, _ time.Duration) string {
		if guard.Language(u) == "ru" {
			return "Не так быстро"
		}
		return "Slow down"
	}))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	press := guard.Update{Kind: guard.KindCallbackQuery, UserID: 42, ChatID: 42}
	for range 3 {
		if v := g.Check(ctx, press); !v.Pass {
			g.Respond(ctx, press, v, printer{}, "the bot token") // returns at once: the calls run on their own
			_ = g.Wait(ctx)                                      // here only to print in order
		}
	}
	// Output:
	// answerCallbackQuery text="Too many requests. Please try again in 60s."
	// answerCallbackQuery text="Slow down"
}
