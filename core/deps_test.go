package core_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/floodgate-go/floodgate"

// TestImportsOnlyStandardLibrary keeps core free of bot frameworks, Redis
// clients and every other third-party module: `go list -deps` of the package
// may show only standard library packages (whose first path element has no
// dot) and packages of this module.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to list core's imports: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-deps", "./")
	cmd.Dir = "." // the core package directory
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps ./: %v\n%s", err, stderr)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, modulePath+"/core") || !slices.Contains(deps, "context") {
		t.Fatalf("go list -deps ./ did not list core and its imports: %q", deps)
	}
	for _, p := range deps {
		if p == modulePath || strings.HasPrefix(p, modulePath+"/") {
			continue
		}
		first, _, _ := strings.Cut(p, "/")
		if strings.Contains(first, ".") {
			t.Errorf("core depends on %q, which is not in the standard library", p)
		}
	}
}
