package outbound_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// killLimits are TestBroadcastKill's lanes, on the fake and in the
// throttles: Telegram's, but 300 per second overall, so that 5 000
// messages take about 17 s rather than three minutes.
func killLimits() (testutil.FloodLimits, outbound.Limits) {
	fl := testutil.TelegramLimits()
	fl.Global = testutil.Span{N: 300, Period: time.Second}
	return fl, outbound.Limits{Global: core.Window(300, time.Second)}
}

// TestBroadcastKill (FLOODGATE_BROADCAST_KILL=1; about 20 s): three bot
// instances, each a process of its own, broadcast 5 000 messages to 5 000
// private chats (each a third of the list) over one redis-server and the
// fake Bot API. Instance 1 is killed (SIGKILL) a fifth of the way through
// its share and restarted from the cursor its Progress persisted. No chat
// may get two messages: a send whose answer the kill lost is listed as
// sending in the cursor, and the restarted run does not send it again.
// Every chat gets one, but for a send the kill cut between its report and
// its last byte leaving: such a chat must be one the cursor lists as
// sending (counted unconfirmed). The test reports each run's summary.
func TestBroadcastKill(t *testing.T) {
	if os.Getenv("FLOODGATE_BCAST_CHILD") != "" {
		broadcastChild(t)
		return
	}
	if os.Getenv("FLOODGATE_BROADCAST_KILL") == "" {
		t.Skip("set FLOODGATE_BROADCAST_KILL=1 to run (about 20 s)")
	}
	const total, instances = 5000, 3
	fl, _ := killLimits()
	api := testutil.StartBotAPI(t, testutil.WithFloodLimits(fl))
	rd := testutil.StartRedis(t)
	dir := t.TempDir()
	start := func(i int) (*exec.Cmd, *bufio.Scanner) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBroadcastKill$", "-test.v")
		cmd.Env = append(os.Environ(), "FLOODGATE_BCAST_CHILD="+strconv.Itoa(i), "FLOODGATE_BCAST_API="+api.URL(),
			"FLOODGATE_BCAST_REDIS="+rd.Addr, "FLOODGATE_BCAST_DIR="+dir,
			"FLOODGATE_BCAST_TOTAL="+strconv.Itoa(total), "FLOODGATE_BCAST_N="+strconv.Itoa(instances))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, bufio.NewScanner(out)
	}
	summaries := make(chan string, 8)
	collect := func(name string, sc *bufio.Scanner) {
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "SUMMARY ") {
				summaries <- name + ": " + strings.TrimPrefix(line, "SUMMARY ")
			}
		}
	}
	began := time.Now()
	cmds := make([]*exec.Cmd, instances)
	for i := range cmds {
		var sc *bufio.Scanner
		cmds[i], sc = start(i)
		go collect(fmt.Sprintf("instance %d", i), sc)
	}
	// Kill instance 1 once its cursor passes a fifth of its share.
	cursorFile := filepath.Join(dir, "cursor-1.json")
	var atKill outbound.Cursor
	for deadline := time.Now().Add(time.Minute); ; {
		if b, err := os.ReadFile(cursorFile); err == nil && json.Unmarshal(b, &atKill) == nil && atKill.Next >= total/instances/5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("instance 1 never got a fifth of the way")
		}
		time.Sleep(10 * time.Millisecond) // polling a file another process writes
	}
	_ = cmds[1].Process.Kill()
	_ = cmds[1].Wait()
	killedAt := time.Since(began)
	b, _ := os.ReadFile(cursorFile)
	atKill = outbound.Cursor{} // Unmarshal keeps the fields the JSON omits
	_ = json.Unmarshal(b, &atKill)
	deliveredAtKill := len(api.CallsTo("sendMessage"))
	restarted, sc := start(1)
	go collect("instance 1, restarted", sc)
	for i, c := range cmds {
		if i != 1 {
			if err := c.Wait(); err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
		}
	}
	if err := restarted.Wait(); err != nil {
		t.Errorf("instance 1, restarted: %v", err)
	}
	took := time.Since(began)
	close(summaries)

	got := map[string]int{}
	limited := 0
	for _, c := range api.CallsTo("sendMessage") {
		if c.RateLimited {
			limited++
			continue
		}
		got[c.Params["chat_id"]]++
	}
	var missing, twice []int
	for i := range total {
		switch got[strconv.Itoa(2_000_000+i)] {
		case 0:
			missing = append(missing, i)
		case 1:
		default:
			twice = append(twice, i)
		}
	}
	t.Logf("5000 messages, 3 instances, limits: global 300/s, private 1/s (fake and throttles); instance 1 killed "+
		"at +%v with its persisted cursor at next=%d (+%d done ahead, %d sending), %d messages delivered by then; all done in %v",
		killedAt.Round(time.Millisecond), atKill.Next, len(atKill.Done), len(atKill.Sending), deliveredAtKill, took.Round(time.Millisecond))
	for s := range summaries {
		t.Log(s)
	}
	t.Logf("chats with one message: %d, with none: %d, with two or more: %d %v; 429s: %d",
		total-len(missing)-len(twice), len(missing), len(twice), twice, limited)
	for _, m := range missing {
		// Instance i's share is chats i, i+n, ...: chat m is at position m/n of instance m%n's.
		if m%instances != 1 || !slices.Contains(atKill.Sending, m/instances) {
			t.Errorf("chat %d got no message, and the killed instance's cursor did not list it as sending", m)
		}
	}
	if len(twice) != 0 {
		t.Errorf("%d chats got their message twice: %v", len(twice), twice[:min(10, len(twice))])
	}
}

// broadcastChild is one instance of TestBroadcastKill: it broadcasts its
// share, resuming from its cursor file, and persists the cursor after each
// recipient.
func broadcastChild(t *testing.T) {
	i, _ := strconv.Atoi(os.Getenv("FLOODGATE_BCAST_CHILD"))
	total, _ := strconv.Atoi(os.Getenv("FLOODGATE_BCAST_TOTAL"))
	n, _ := strconv.Atoi(os.Getenv("FLOODGATE_BCAST_N"))
	file := filepath.Join(os.Getenv("FLOODGATE_BCAST_DIR"), "cursor-"+strconv.Itoa(i)+".json")
	rc := redis.NewClient(&redis.Options{Addr: os.Getenv("FLOODGATE_BCAST_REDIS"), PoolSize: 64})
	defer rc.Close()
	fb := memorystore.New()
	defer fb.Close()
	st, err := core.Resilient(redisstore.New(rc), core.Resilience{Fallback: fb, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	_, limits := killLimits()
	th, err := outbound.New(st, outbound.WithLogger(discard()), outbound.WithLimits(limits))
	if err != nil {
		t.Fatal(err)
	}
	var resume outbound.Cursor
	if b, err := os.ReadFile(file); err == nil {
		if err := json.Unmarshal(b, &resume); err != nil {
			t.Fatal(err)
		}
	}
	var share []int64
	for p := i; p < total; p += n {
		share = append(share, int64(2_000_000+p))
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	defer tr.CloseIdleConnections()
	sum, err := th.Broadcast(context.Background(), outbound.Broadcast{
		Token: token, Server: os.Getenv("FLOODGATE_BCAST_API"), Client: &http.Client{Transport: tr, Timeout: 2 * time.Minute},
		Chats: slices.Values(share), Resume: resume,
		Message: func(chat int64) (string, map[string]any) {
			return "sendMessage", map[string]any{"text": "news"}
		},
		Progress: func(p outbound.Progress) {
			b, _ := json.Marshal(p.Cursor)
			tmp := file + ".tmp"
			if os.WriteFile(tmp, b, 0o600) == nil {
				_ = os.Rename(tmp, file) // the whole cursor or the previous one, never half
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("SUMMARY %v (resumed from next=%d, %d done ahead, %d sending)\n", sum, resume.Next, len(resume.Done), len(resume.Sending))
}
