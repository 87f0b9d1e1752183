package docs_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	rulesFile     = "docs/prometheus/floodgate-rules.yml"
	rulesTestFile = "docs/prometheus/floodgate-rules.test.yml"
)

// promtoolHint is how to get promtool, as the Redis tests say how to get
// redis-server.
const promtoolHint = "promtool not found: install Debian's prometheus package (apt-get install prometheus) " +
	"or run ./scripts/test.sh, which installs it"

// TestAlertRules checks the alert rules with promtool and runs their unit
// tests: each alert fires on a synthetic series and stays silent on a
// healthy one.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal(promtoolHint)
	}
	root := moduleRoot(t)
	for _, args := range [][]string{
		{"check", "rules", rulesFile},
		{"test", "rules", rulesTestFile},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			continue
		}
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

// alertRule is what docs/monitoring.md shows of a rule.
type alertRule struct{ expr, forDur string }

// TestAlertRulesMatchDocs: docs/monitoring.md shows the alerts of the
// rules file, with the same expressions and durations (spacing aside).
func TestAlertRulesMatchDocs(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	file, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rulesFile)))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "monitoring.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, alerts, ok := strings.Cut(string(doc), "\n## Alerts\n")
	if !ok {
		t.Fatal(`docs/monitoring.md has no "## Alerts" section`)
	}
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(alerts)
	if block == nil {
		t.Fatal("docs/monitoring.md's Alerts section has no ```yaml block")
	}
	inFile, inDoc := alertRules(string(file)), alertRules(block[1])
	if len(inFile) == 0 {
		t.Fatalf("no alert found in %s", rulesFile)
	}
	for _, name := range slices.Sorted(maps.Keys(inFile)) {
		d, ok := inDoc[name]
		switch {
		case !ok:
			t.Errorf("docs/monitoring.md does not show alert %s of %s", name, rulesFile)
		case d != inFile[name]:
			t.Errorf("alert %s: docs/monitoring.md shows %+v, %s has %+v", name, d, rulesFile, inFile[name])
		}
	}
	for name := range inDoc {
		if _, ok := inFile[name]; !ok {
			t.Errorf("docs/monitoring.md shows alert %s, which %s lacks", name, rulesFile)
		}
	}
	if !t.Failed() {
		t.Logf("%d alerts, the same in both: %v", len(inFile), slices.Sorted(maps.Keys(inFile)))
	}
}

// alertRules reads the alert rules of a YAML text written as the rules
// file is: "- alert: Name", "expr: ..." on one line or as a block scalar
// ("expr: |" and more indented lines), "for: ...". Expressions are
// returned with their whitespace squashed.
func alertRules(text string) map[string]alertRule {
	rules := map[string]alertRule{}
	lines := strings.Split(text, "\n")
	uncomment := func(s string) string { v, _, _ := strings.Cut(s, " #"); return strings.TrimSpace(v) }
	indent := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	name := ""
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		switch {
		case strings.HasPrefix(l, "- alert:"):
			name = uncomment(strings.TrimPrefix(l, "- alert:"))
			rules[name] = alertRule{}
		case name != "" && strings.HasPrefix(l, "expr:"):
			expr := strings.TrimSpace(strings.TrimPrefix(l, "expr:"))
			if expr == "|" || expr == "|-" || expr == ">" || expr == ">-" {
				expr = ""
				for j := i + 1; j < len(lines) && (strings.TrimSpace(lines[j]) == "" || indent(lines[j]) > indent(lines[i])); j++ {
					expr += " " + lines[j]
					i = j
				}
			}
			r := rules[name]
			r.expr = strings.Join(strings.Fields(expr), " ")
			rules[name] = r
		case name != "" && strings.HasPrefix(l, "for:"):
			r := rules[name]
			r.forDur = uncomment(strings.TrimPrefix(l, "for:"))
			rules[name] = r
		}
	}
	return rules
}
