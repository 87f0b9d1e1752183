// Package e2e_test runs the starter bots and the demo (examples/*) as
// their users do: built into binaries, several at once on one Redis, or
// copied into a module of their own. Each example's own tests use only
// public packages, so that they still run in a copy; what needs this
// repository (Redis launchers, the docs) is here, outside examples/.
package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/telegramtest"
)

// starters are the starter bots, by directory, and the framework name
// each logs at start.
var starters = []struct{ dir, framework string }{
	{"telebot", "telebot"}, {"telego", "telego"}, {"tgbotapi", "tgbotapi"},
	{"gotelegram", "go-telegram/bot"}, {"gotgbot", "gotgbot"},
}

// testToken has the shape every framework accepts (telego checks it).
const testToken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// goTool is the go command of the toolchain running the tests.
func goTool() string { return filepath.Join(runtime.GOROOT(), "bin", "go") }

var (
	buildMu  sync.Mutex
	binaries = map[string]string{}
	binDir   string
)

// TestMain works in examples/, where the starters' directories are, and
// removes the built starters at the end.
func TestMain(m *testing.M) {
	if err := os.Chdir("../../examples"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// build compiles the starter in dir once per test binary and returns the
// path of its executable. Without -race: the starters' own tests run
// in-process under the race detector; here a dozen bots run at once, and
// race-enabled builds would cost minutes of CPU that other packages'
// wall-clock tests share.
func build(t *testing.T, dir string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := binaries[dir]; ok {
		return bin
	}
	if binDir == "" {
		d, err := os.MkdirTemp("", "floodgate-starters-")
		if err != nil {
			t.Fatal(err)
		}
		binDir = d
	}
	bin := filepath.Join(binDir, dir)
	cmd := exec.Command(goTool(), "build", "-o", bin, "./"+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./%s: %v\n%s", dir, err, out)
	}
	binaries[dir] = bin
	return bin
}

// process is a starter bot running as a process of its own.
type process struct {
	cmd  *exec.Cmd
	logs *testutil.SyncBuffer
	done chan error
}

// start runs the starter in dir with env added to a clean environment
// (PATH and HOME only), and stops it when the test ends.
func start(t *testing.T, dir string, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(build(t, dir))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, logs: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM, as a service manager does, and waits for a clean
// exit (status 0) within 20 s; it returns how long the bot took.
func (p *process) stop(t *testing.T) time.Duration {
	t.Helper()
	if p.cmd == nil {
		return 0
	}
	cmd := p.cmd
	p.cmd = nil
	begin := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("the bot exited with %v after SIGTERM; log:\n%s", err, p.logs)
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-p.done
		t.Errorf("the bot did not exit within 20 s of SIGTERM; log:\n%s", p.logs)
	}
	return time.Since(begin)
}

// waitFor blocks until api received n calls to method and returns them.
func waitFor(t *testing.T, api *telegramtest.Server, method string, n int) []telegramtest.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	calls, err := api.WaitCalls(ctx, method, n)
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

// logsOf joins the logs of several processes, for a failure message.
func logsOf(ps []*process) string {
	var b bytes.Buffer
	for i, p := range ps {
		fmt.Fprintf(&b, "--- instance %d:\n%s", i+1, p.logs)
	}
	return b.String()
}

// long skips t under -short: building the starters takes a while.
func long(t *testing.T, what string) {
	t.Helper()
	if testing.Short() {
		t.Skip(what + " builds the starter bots: left out of -short; ./scripts/test.sh runs it")
	}
}

// trimmed is s without the text before the first line containing marker,
// for logging a command's output from the interesting part on.
func trimmed(s, marker string) string {
	if i := strings.Index(s, marker); i > 0 {
		if j := strings.LastIndexByte(s[:i], '\n'); j >= 0 {
			return s[j+1:]
		}
	}
	return s
}
