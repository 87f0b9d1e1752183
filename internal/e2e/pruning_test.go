package e2e_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// frameworkModules are the modules of the five frameworks, by adapter.
var frameworkModules = map[string]string{
	"telebotlimit":    "gopkg.in/telebot.v3",
	"telegolimit":     "github.com/mymmrac/telego",
	"tgbotapilimit":   "github.com/go-telegram-bot-api/telegram-bot-api/v5",
	"gotelegramlimit": "github.com/go-telegram/bot",
	"gotgbotlimit":    "github.com/PaulSonOfLars/gotgbot/v2",
}

// TestModuleGraphPruning: floodgate is one module that requires every
// framework, yet a bot on one framework downloads none of the others.
// For each adapter, a new module importing only that adapter loads its
// packages (go list -deps, which fetches what a build needs) with an
// empty module cache, fed offline from this machine's cache
// (GOPROXY=file://...); the modules fetched, even just for their go.mod
// files, must not include another framework.
//
// (A bot on telebot fetches hundreds of go.mod files all the same:
// telebot v3.3.8's go.mod predates go 1.17, so its own requirements are
// not pruned. None of them is another framework.)
func TestModuleGraphPruning(t *testing.T) {
	long(t, "TestModuleGraphPruning")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(goTool(), "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	proxy := "file://" + filepath.Join(strings.TrimSpace(string(out)), "cache", "download")
	for adapter, own := range frameworkModules {
		t.Run(adapter, func(t *testing.T) {
			mod, cache := t.TempDir(), t.TempDir()
			t.Cleanup(func() { // the module cache is read-only
				_ = filepath.WalkDir(cache, func(p string, _ fs.DirEntry, _ error) error { _ = os.Chmod(p, 0o755); return nil })
			})
			files := map[string]string{
				"go.mod": "module example.com/bot\n\ngo 1.26\n\nrequire github.com/floodgate-go/floodgate v0.0.0\n\n" +
					"replace github.com/floodgate-go/floodgate => " + root + "\n",
				"main.go": "package main\n\nimport _ \"github.com/floodgate-go/floodgate/adapters/" + adapter + "\"\n\nfunc main() {}\n",
			}
			for name, text := range files {
				if err := os.WriteFile(filepath.Join(mod, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(goTool(), "list", "-deps", ".")
			cmd.Dir = mod
			cmd.Env = append(os.Environ(), "GOMODCACHE="+cache, "GOPROXY="+proxy, "GOSUMDB=off", "GOFLAGS=-mod=mod", "GOWORK=off")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			seen := map[string]bool{}
			var fetched []string
			dl := filepath.Join(cache, "cache", "download")
			err := filepath.WalkDir(dl, func(p string, d fs.DirEntry, err error) error {
				if err == nil && strings.HasSuffix(p, ".mod") {
					rel, _ := filepath.Rel(dl, filepath.Dir(filepath.Dir(p))) // <module>/@v/<version>.mod
					if !seen[rel] {
						seen[rel] = true
						fetched = append(fetched, rel)
					}
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(fetched) <= 12 {
				t.Logf("%s: fetched %d modules: %v", adapter, len(fetched), fetched)
			} else {
				t.Logf("%s: fetched %d modules (go.mod files at least)", adapter, len(fetched))
			}
			ownFound := false
			for _, m := range fetched {
				for other, fm := range frameworkModules {
					escaped := strings.ToLower(fm) // the cache escapes upper case as !lower
					if m == fm || strings.ReplaceAll(m, "!", "") == escaped {
						if other == adapter {
							ownFound = true
						} else {
							t.Errorf("a bot on %s fetched %s, %s's framework", adapter, m, other)
						}
					}
				}
			}
			if !ownFound {
				t.Errorf("%s's own framework %s was not fetched: the check looks in the wrong place", adapter, own)
			}
		})
	}
}
