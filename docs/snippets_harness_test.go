package docs_test

import (
	"fmt"
	"strings"
	"testing"
)

// harnessDoc has one ```go block per case of TestSnippetHarness, named by
// a "// case <name>" comment, and blocks in other languages, which are
// not Go.
const harnessDoc = "# Harness cases\n" + `
<!-- fragment: ctx context.Context, bot *tele.Bot -->
~~~go
// case unused-input
fmt.Println(time.Second)
~~~

<!-- fragment: ctx context.Context -->
` + "```go" + `
// case unused-var
lim, err := core.New(memorystore.New(), core.PerMinute(1))
_ = lim
` + "```" + `

<!-- fragment: ctx context.Context -->

` + "```go" + `
// case blank-line-before
lim, err := core.New(memorystore.New(), core.PerMinute(1))
if err != nil {
	log.Fatal(err)
}
res, err := lim.Take(ctx, core.User(1), 1)
fmt.Println(res.Allowed, err)
` + "```" + `

<!-- fragment: -> r -->
` + "```go" + `
// case output
r := strings.NewReplacer("a", "b")
` + "```" + `

<!-- fragment: s string -> nothere -->
` + "```go" + `
// case output-missing
fmt.Println(s)
` + "```" + `

<!-- fragment: -> err -->
` + "```go" + `
// case output-err
err := errors.New("x")
` + "```" + `

` + "```go" + `
// case unmarked
fmt.Println("hello")
` + "```" + `

<!-- fragment ctx context.Context -->
` + "```go" + `
// case bad-marker
fmt.Println(ctx)
` + "```" + `

<!-- fragment: g *guard.Guard, bh *th.BotHandler -->
` + "```go" + `
// case import
import "github.com/floodgate-go/floodgate/adapters/telegolimit"

bh.Use(telegolimit.Middleware(g))
` + "```" + `

<!-- fragment: decls -->
` + "```go" + `
// case decls
func newLimiter(ctx context.Context) (*core.Limiter, error) {
	return core.New(memorystore.New(), core.Every(time.Second))
}
` + "```" + `

` + "```go" + `
// case main
package main

import "fmt"

func main() { fmt.Println("hi") }
` + "```" + `

` + "```go" + `
// case main-without-main
package main

import "fmt"

func notMain() { fmt.Println("hi") }
` + "```" + `

` + "```go" + `
// case file-without-imports
package mybot

func hello() { fmt.Println("hi") }
` + "```" + `

<!-- fragment: -->
` + "```go" + `
// case vet
fmt.Printf("%d\n", "not a number")
` + "```" + `

<!-- fragment: -->
` + "```go" + `
// case syntax
x :=
` + "```" + `

<!-- fragment: -->
` + "```go" + `
// case unknown-package
nosuchpkg.Do()
` + "```" + `

` + "```promql" + `
sum(rate(floodgate_decisions_total[5m]))
` + "```" + `

` + "```sh" + `
go test ./...
` + "```" + `
`

// TestSnippetHarness runs compileSnippets over harnessDoc: each case must
// pass or fail as stated, with the error at the Markdown line it names.
func TestSnippetHarness(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	const rel = "docs/harness.md" // need not exist: positions only name it
	lineOf := func(text string) int {
		i := strings.Index(harnessDoc, text)
		if i < 0 {
			t.Fatalf("harnessDoc lacks %q", text)
		}
		return strings.Count(harnessDoc[:i], "\n") + 1
	}
	cases := []struct {
		name string
		want string // what its problem says; "" when it must compile
	}{
		{"unused-input", ""},
		{"unused-var", fmt.Sprintf("%s:%d:6: declared and not used: err", rel, lineOf("lim, err := core.New(memorystore.New(), core.PerMinute(1))\n_ = lim"))},
		{"blank-line-before", ""},
		{"output", ""},
		{"output-missing", fmt.Sprintf("%s:%d:", rel, lineOf("<!-- fragment: s string -> nothere -->"))},
		{"output-missing", "undefined: nothere"},
		{"output-err", "never err: check it"},
		{"unmarked", "neither a whole file (a package clause first) nor marked as a fragment"},
		{"bad-marker", "write the fragment's inputs after a colon"},
		{"import", ""},
		{"decls", ""},
		{"main", ""},
		{"main-without-main", "function main is undeclared in the main package"},
		{"file-without-imports", "undefined: fmt"},
		{"vet", fmt.Sprintf("%s:%d:", rel, lineOf(`fmt.Printf("%d\n", "not a number")`))},
		{"vet", "format %d has arg"},
		{"syntax", fmt.Sprintf("%s:%d:", rel, lineOf("x :=\n")+1)},
		{"unknown-package", "undefined: nosuchpkg"},
	}

	c := compileSnippets(t, root, []doc{{rel, harnessDoc}})
	var names []string
	for _, tc := range cases {
		if len(names) == 0 || names[len(names)-1] != tc.name {
			names = append(names, tc.name)
		}
	}
	if len(c.blocks) != len(names) {
		t.Errorf("found %d ```go blocks, want %d (promql and sh blocks are not Go)", len(c.blocks), len(names))
	}
	// Two blocks are unmarked: "unmarked" and "bad-marker".
	if c.whole != 3 || c.fragments != len(names)-5 || c.decls != 1 {
		t.Errorf("counts: %d whole files, %d fragments, %d declarations; want 3, %d, 1", c.whole, c.fragments, c.decls, len(names)-5)
	}
	for _, tc := range cases {
		var b *block
		for _, x := range c.blocks {
			if strings.Contains(strings.Join(x.body, "\n"), "// case "+tc.name+"\n") {
				b = x
			}
		}
		if b == nil {
			t.Errorf("case %s: no block found", tc.name)
			continue
		}
		var got []string
		for _, p := range c.problems {
			if strings.HasPrefix(p, b.where()+": ") {
				got = append(got, p)
			}
		}
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("case %s: want it to compile, got:\n%s", tc.name, strings.Join(got, "\n"))
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
			t.Errorf("case %s: want one problem containing %q, got %d:\n%s", tc.name, tc.want, len(got), strings.Join(got, "\n"))
		}
	}
	if n := len(c.problems); n == 0 || c.problems[n-1] != unmarkedHint {
		t.Errorf("the problems do not end with the hint on marking blocks")
	}
	t.Logf("problems reported:\n%s", strings.Join(c.problems, "\n"))
}
