package guard_test

import (
	"context"
	"fmt"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// Button presses get a budget of their own: paging through a list passes
// while the same user's text is throttled.
func ExampleWithKindLimits() {
	st := memorystore.New()
	defer st.Close()
	lim, err := core.New(st, core.PerMinute(2)) // the shared budget
	if err != nil {
		panic(err)
	}
	g, err := guard.New(lim, guard.WithNotice(0, nil), guard.WithKindLimits(guard.KindLimits{
		Callback: core.Limit{Rate: 20, Period: 10 * time.Second, Burst: 20},
	}))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	texts, presses := 0, 0
	for i := range 10 {
		if g.Check(ctx, guard.Update{Kind: guard.KindMessage, UserID: 42, ChatID: 42, Payload: fmt.Sprint("text ", i)}).Pass {
			texts++
		}
		if g.Check(ctx, guard.Update{Kind: guard.KindCallbackQuery, UserID: 42, ChatID: 42, Payload: fmt.Sprint("page:", i)}).Pass {
			presses++
		}
	}
	fmt.Printf("messages: %d of 10 passed; button presses: %d of 10\n", texts, presses)
	// Output:
	// messages: 2 of 10 passed; button presses: 10 of 10
}

// A double tap reaches the handler once; the duplicate is answered with no
// text (Guard.Respond), so its button stops spinning.
func ExampleWithDebounce() {
	st := memorystore.New()
	defer st.Close()
	lim, err := core.New(st, core.PerMinute(20))
	if err != nil {
		panic(err)
	}
	g, err := guard.New(lim, guard.WithDebounce(2*time.Second))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, data := range []string{"buy:7", "buy:7", "buy:8"} {
		v := g.Check(ctx, guard.Update{Kind: guard.KindCallbackQuery, UserID: 42, ChatID: 42, Payload: data})
		fmt.Printf("%s: pass %v (%v), answer %q\n", data, v.Pass, v.Reason, v.CallbackText)
	}
	// Output:
	// buy:7: pass true (allowed), answer ""
	// buy:7: pass false (debounced), answer ""
	// buy:8: pass true (allowed), answer ""
}
