package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCopiedStarters does what the README tells bot authors to do: copy a
// starter's directory into a module of their own. Each starter is copied
// into a new temporary module (example.com/mybot) that requires floodgate
// through a replace directive pointing at this checkout; go vet and go
// test must then pass there as they are. It works offline: GOFLAGS=-mod=mod
// lets go add the requirements the copy needs, and GOPROXY=off makes every
// module come from the module cache that building this repository filled.
// (go mod tidy is left out: it also wants the modules that the tests of
// the dependencies import, which a build of this repository never
// downloads.)
func TestCopiedStarters(t *testing.T) {
	long(t, "TestCopiedStarters")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range starters {
		t.Run(s.dir, func(t *testing.T) {
			t.Parallel()
			mod := t.TempDir()
			files, err := filepath.Glob(filepath.Join(s.dir, "*"))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if fi, err := os.Stat(f); err != nil || fi.IsDir() {
					t.Fatalf("%s: a starter is one flat directory (%v)", f, err)
				}
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(mod, filepath.Base(f)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			gomod := "module example.com/mybot\n\ngo 1.26\n\nrequire github.com/floodgate-go/floodgate v0.0.0\n\n" +
				"replace github.com/floodgate-go/floodgate => " + root + "\n"
			if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
				t.Fatal(err)
			}
			// floodgate's go.sum holds every checksum the copy can need.
			if err := os.WriteFile(filepath.Join(mod, "go.sum"), sum, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}} {
				cmd := exec.Command(goTool(), args...)
				cmd.Dir = mod
				cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
				out, err := cmd.CombinedOutput()
				t.Logf("%s: go %s\n%s", s.dir, strings.Join(args, " "), out)
				if err != nil {
					t.Fatalf("go %s in a copy of examples/%s: %v", strings.Join(args, " "), s.dir, err)
				}
			}
		})
	}
}
