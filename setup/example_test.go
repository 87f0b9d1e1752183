package setup_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/setup"
)

func ExampleOpen() {
	// In a bot: setup.Open(ctx, setup.Options{}) reads the process
	// environment. Here a map stands for it: the memory store, 2 per minute.
	vars := map[string]string{"FLOODGATE_LIMIT": "2/m"}
	fg, err := setup.Open(context.Background(), setup.Options{
		Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer fg.Close()
	fmt.Println(fg.Config) // what runs, secrets masked

	// Hand fg.Guard to an adapter (telebotlimit.Middleware(fg.Guard), ...);
	// here it decides three messages of one user directly.
	u := guard.Update{Kind: guard.KindMessage, UserID: 42, ChatID: 42, ChatType: "private"}
	for i := 1; i <= 3; i++ {
		v := fg.Guard.Check(context.Background(), u)
		fmt.Printf("message %d: pass %v, notice %q\n", i, v.Pass, v.Notice)
	}
	// Output:
	// backend=memory prefix=floodgate limit=2/m
	// message 1: pass true, notice ""
	// message 2: pass true, notice ""
	// message 3: pass false, notice "Too many requests. Please try again in 30s."
}
