package redisstore

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCommandsCoverScripts: every command a script of the package calls
// is in Commands, so ACLRule and CheckPermissions cover it. A new script
// (any *.lua here) calling a new command fails this test until the
// command is added.
func TestCommandsCoverScripts(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts found: %v", err)
	}
	call := regexp.MustCompile(`redis\.p?call\(\s*"([A-Za-z]+)"`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			if cmd := strings.ToLower(m[1]); !slices.Contains(Commands(), cmd) {
				t.Errorf("%s calls %s, which Commands (and so the documented ACL rule) lacks", f, cmd)
			}
		}
	}
	for _, cmd := range []string{"ping", "evalsha", "eval", "del"} { // sent directly
		if !slices.Contains(Commands(), cmd) {
			t.Errorf("Commands lacks %s", cmd)
		}
	}
}

func TestACLRuleEscapesGlobs(t *testing.T) {
	t.Parallel()
	if got := ACLRule(`bot*[1]?\`); !strings.HasPrefix(got, `resetkeys ~bot\*\[1\]\?\\:* resetchannels -@all +ping`) {
		t.Errorf("ACLRule = %s", got)
	}
}
