package docs_test

// TestSnippets compiles every ```go block of README.md and docs/*.md, so
// that what a user pastes compiles. Each block is one of:
//
//   - a whole file: its first line that is not a comment is a package
//     clause. It is compiled as it is, as a package of its own (package
//     main is linked as a program);
//   - a fragment: the line before the fence (a blank line may come
//     between) is an HTML comment, which GitHub does not show,
//
//     <!-- fragment: ctx context.Context, bot *tele.Bot -->
//
//     listing the inputs the block uses as Go parameters. The block becomes
//     the body of func _(<inputs>) { ... }. An input the block does not
//     use is fine; a variable the block declares and never uses is the
//     compile error it would be in the user's code. A block that builds
//     something for the code after it names it after "->":
//
//     <!-- fragment: ctx context.Context -> guard -->
//
//     (err can never be such an output: check it). Import declarations at
//     the top of a fragment move to file level, as they would when pasted;
//   - declarations: <!-- fragment: decls --> puts the block at file level.
//
// A fragment's other imports are added from its package qualifiers: the
// standard packages of importTable, frameworks named as users import them
// (tele, telego, th, tu, tgbotapi, redis, prometheus, promhttp), and every
// package of this module under its package name, found by scanning the
// tree, so a new package needs no change here.
//
// A ```go block that is neither fails the test: no block is skipped.
// Blocks in other languages (sh, promql, yaml, ...) are not Go.
//
// All blocks are compiled with one `go build`, then vetted with one
// `go vet`, each block a package of its own in a temporary directory
// inside the module. //line directives make the compiler's messages point
// at the Markdown file and line.

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const modulePath = "github.com/floodgate-go/floodgate"

// importTable maps the package names snippets use without importing them
// to import paths: the standard library's that the docs use, and the
// frameworks under the names their users give them. The module's own
// packages are added by scanning (modulePackages).
var importTable = map[string]string{
	"context": "context",
	"errors":  "errors",
	"fmt":     "fmt",
	"log":     "log",
	"slog":    "log/slog",
	"http":    "net/http",
	"os":      "os",
	"strings": "strings",
	"time":    "time",

	"tele":       "gopkg.in/telebot.v3",
	"telego":     "github.com/mymmrac/telego",
	"th":         "github.com/mymmrac/telego/telegohandler",
	"tu":         "github.com/mymmrac/telego/telegoutil",
	"tgbotapi":   "github.com/go-telegram-bot-api/telegram-bot-api/v5",
	"redis":      "github.com/redis/go-redis/v9",
	"prometheus": "github.com/prometheus/client_golang/prometheus",
	"promhttp":   "github.com/prometheus/client_golang/prometheus/promhttp",
}

type blockKind int

const (
	unmarked blockKind = iota
	wholeFile
	fragment
	decls
)

// block is one ```go block of a Markdown file.
type block struct {
	file      string // relative to the module root, slash-separated
	fence     int    // line of the opening fence, 1-based
	start     int    // first line that belongs to it: the marker, or the fence
	end       int    // line of the closing fence
	body      []string
	kind      blockKind
	marker    int    // line of the fragment marker, 0 without
	inputs    string // fragment: the parameter list
	outputs   []string
	markerErr string // a marker that could not be read
}

func (b *block) where() string { return fmt.Sprintf("%s:%d", b.file, b.fence) }

var (
	fenceRe  = regexp.MustCompile("^( {0,3})(`{3,}|~{3,})\\s*([^`\\s]*)")
	markerRe = regexp.MustCompile(`^\s*<!--\s*fragment\b\s*(:?)(.*?)-->\s*$`)
)

// extractBlocks returns the fenced code blocks of a Markdown file whose
// info string starts with "go".
func extractBlocks(rel string, text string) []*block {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var blocks []*block
	for i := 0; i < len(lines); i++ {
		m := fenceRe.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, fence, lang := len(m[1]), m[2], m[3]
		// The block runs to a closing fence of the same character, at
		// least as long, with nothing after it (or to the end of the file).
		j := i + 1
		for ; j < len(lines); j++ {
			t := strings.TrimLeft(lines[j], " ")
			if strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]+" \t") == "" {
				break
			}
		}
		if lang == "go" || lang == "golang" {
			b := &block{file: rel, fence: i + 1, start: i + 1, end: j + 1}
			for _, l := range lines[i+1 : min(j, len(lines))] {
				// Content is indented as much as the fence; remove that much.
				n := 0
				for n < indent && n < len(l) && l[n] == ' ' {
					n++
				}
				b.body = append(b.body, l[n:])
			}
			b.classify(lines, i)
			blocks = append(blocks, b)
		}
		i = j
	}
	return blocks
}

// classify decides what b is from its first code line and the marker
// before its fence (lines[fence] is the fence).
func (b *block) classify(lines []string, fence int) {
	if isWholeFile(b.body) {
		b.kind = wholeFile
		return
	}
	prev := fence - 1
	if prev >= 0 && strings.TrimSpace(lines[prev]) == "" {
		prev--
	}
	if prev < 0 {
		return
	}
	m := markerRe.FindStringSubmatch(lines[prev])
	if m == nil {
		if strings.Contains(lines[prev], "<!--") && strings.Contains(lines[prev], "fragment") {
			b.markerErr = fmt.Sprintf("line %d looks like a fragment marker but is not one: %q", prev+1, strings.TrimSpace(lines[prev]))
		}
		return
	}
	b.marker, b.start = prev+1, prev+1
	spec := strings.TrimSpace(m[2])
	if m[1] == "" && spec != "" {
		b.markerErr = fmt.Sprintf("line %d: write the fragment's inputs after a colon: <!-- fragment: %s -->", prev+1, spec)
		return
	}
	if spec == "decls" {
		b.kind = decls
		return
	}
	b.kind = fragment
	inputs, outputs, _ := strings.Cut(spec, "->")
	b.inputs = strings.TrimSpace(inputs)
	for o := range strings.SplitSeq(outputs, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if !token.IsIdentifier(o) || o == "err" {
			b.markerErr = fmt.Sprintf("line %d: output %q after -> must name a variable the block declares for later code (never err: check it)", prev+1, o)
			return
		}
		b.outputs = append(b.outputs, o)
	}
}

// isWholeFile reports whether the first line of body that is not blank or
// a comment is a package clause.
func isWholeFile(body []string) bool {
	inComment := false
	for _, l := range body {
		t := strings.TrimSpace(l)
		if inComment {
			if _, after, ok := strings.Cut(t, "*/"); ok {
				inComment, t = false, strings.TrimSpace(after)
			} else {
				continue
			}
		}
		if strings.HasPrefix(t, "/*") {
			if _, after, ok := strings.Cut(t[2:], "*/"); ok {
				t = strings.TrimSpace(after)
			} else {
				inComment = true
				continue
			}
		}
		if t == "" || strings.HasPrefix(t, "//") {
			continue
		}
		return strings.HasPrefix(t, "package ") || strings.HasPrefix(t, "package\t")
	}
	return false
}

// leadingImports splits a fragment's body into the import declarations
// at its top and the rest, returned with the index of the rest's first
// line.
func leadingImports(body []string) (imports []string, rest int) {
	i := 0
	for i < len(body) {
		t := strings.TrimSpace(body[i])
		switch {
		case t == "" || strings.HasPrefix(t, "//"):
			i++
			continue
		case t == "import (" || strings.HasPrefix(t, "import ("):
			j := i
			for j < len(body) && strings.TrimSpace(body[j]) != ")" {
				j++
			}
			i = min(j+1, len(body))
			rest = i
			continue
		case strings.HasPrefix(t, "import "):
			i++
			rest = i
			continue
		}
		break
	}
	return body[:rest], rest
}

// source writes b as a Go file. abs is the Markdown file's absolute path,
// used in //line directives. table maps package names to import paths;
// ambiguous names map to "".
func (b *block) source(abs string, table map[string]string) (string, error) {
	line := func(n int) string { return fmt.Sprintf("//line %s:%d:1\n", abs, n) }
	body := func(lines []string, first int) string {
		// first is the index in b.body of lines[0]; the body starts on the
		// line after the fence.
		return line(b.fence+1+first) + strings.Join(lines, "\n") + "\n"
	}
	if b.kind == wholeFile {
		return body(b.body, 0), nil
	}

	var code strings.Builder
	switch b.kind {
	case decls:
		code.WriteString(body(b.body, 0))
	case fragment:
		imports, rest := leadingImports(b.body)
		if len(imports) > 0 {
			code.WriteString(body(imports, 0))
		}
		names, err := paramNames(b.inputs)
		if err != nil {
			return "", fmt.Errorf("fragment marker at line %d: %v", b.marker, err)
		}
		// The wrapper's own lines point at the marker: an error there
		// (an input's type, an output the block does not declare) is the
		// marker's.
		code.WriteString(line(b.marker))
		fmt.Fprintf(&code, "func _(%s) {\n", b.inputs)
		for _, n := range names {
			fmt.Fprintf(&code, "_ = %s\n", n)
		}
		code.WriteString(body(b.body[rest:], rest))
		code.WriteString(line(b.marker))
		for _, o := range b.outputs {
			fmt.Fprintf(&code, "_ = %s\n", o)
		}
		// A block cut short (x :=) ends at its closing fence.
		code.WriteString(line(b.end) + "}\n")
	default:
		return "", fmt.Errorf("unmarked block")
	}

	// Add the imports its qualifiers need. If the code does not parse, add
	// none: the compiler reports the syntax error at its Markdown line.
	src := "package snippet\n\n" + code.String()
	f, err := parser.ParseFile(token.NewFileSet(), "snippet.go", src, 0)
	if err != nil {
		return src, nil
	}
	imported := map[string]bool{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		imported[p] = true
	}
	need := map[string]string{}
	for _, id := range f.Unresolved {
		p, ok := table[id.Name]
		if !ok || imported[p] || need[id.Name] != "" {
			continue
		}
		if p == "" {
			return "", fmt.Errorf("package name %s is ambiguous: more than one package of the module has it; add it to importTable in docs/snippets_test.go", id.Name)
		}
		need[id.Name] = p
	}
	var head strings.Builder
	head.WriteString("package snippet\n\n")
	if len(need) > 0 {
		head.WriteString("import (\n")
		for _, name := range slices.Sorted(maps.Keys(need)) {
			fmt.Fprintf(&head, "\t%s %q\n", name, need[name])
		}
		head.WriteString(")\n\n")
	}
	return head.String() + code.String(), nil
}

// paramNames returns the names a Go parameter list declares.
func paramNames(params string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p; func _("+params+") {}", 0)
	if err != nil {
		return nil, fmt.Errorf("inputs %q are not a Go parameter list (like ctx context.Context, bot *tele.Bot): %v", params, err)
	}
	var names []string
	for _, field := range f.Decls[0].(*ast.FuncDecl).Type.Params.List {
		if len(field.Names) == 0 {
			return nil, fmt.Errorf("inputs %q: every input needs a name (like ctx context.Context)", params)
		}
		for _, n := range field.Names {
			if n.Name != "_" {
				names = append(names, n.Name)
			}
		}
	}
	return names, nil
}

// moduleRoot walks up from the test's directory to the directory with
// go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// modulePackages adds the module's importable packages (not main, not
// internal, not in another module such as bench/) to table under their
// package names. A name two packages share maps to "".
func modulePackages(t *testing.T, root string, table map[string]string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root {
			if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "internal" || name == "vendor" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // a module of its own
			}
		}
		files, err := filepath.Glob(filepath.Join(path, "*.go"))
		if err != nil {
			return err
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.PackageClauseOnly)
			if err != nil {
				return err
			}
			pkg := f.Name.Name
			if pkg == "main" {
				return nil
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			imp := modulePath
			if rel != "." {
				imp += "/" + filepath.ToSlash(rel)
			}
			if old, ok := table[pkg]; ok && old != imp {
				table[pkg] = "" // ambiguous: a block using it fails and says so
			} else {
				table[pkg] = imp
			}
			return nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// markdownFiles returns README.md and docs/*.md, relative to root.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	for _, d := range docs {
		files = append(files, "docs/"+filepath.Base(d))
	}
	return files
}

func TestSnippets(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	var docs []doc
	for _, rel := range markdownFiles(t, root) {
		text, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc{rel, string(text)})
	}
	c := compileSnippets(t, root, docs)
	t.Logf("%d ```go blocks in README.md and docs/*.md: %d whole files, %d fragments (%d of them declarations)",
		len(c.blocks), c.whole, c.fragments, c.decls)
	if len(c.blocks) == 0 {
		t.Fatal("no ```go block found: is the module root right?")
	}
	for _, p := range c.problems {
		t.Error(p)
	}
}

// doc is a Markdown file: its path relative to the module root, and text.
type doc struct{ rel, text string }

// checked is what compileSnippets found.
type checked struct {
	blocks                  []*block
	whole, fragments, decls int      // fragments counts decls blocks too
	problems                []string // one per failing block, "file:line: ...", and hints
}

// unmarkedHint follows the problems when a block is not marked.
const unmarkedHint = "To mark a ```go block, put on the line before its fence (a blank line may come between)\n" +
	"  <!-- fragment: ctx context.Context, bot *tele.Bot -->  the inputs it uses, as Go parameters;\n" +
	"                                                         \"-> name\" at the end for a variable it hands on\n" +
	"  <!-- fragment: decls -->                               top-level declarations\n" +
	"or make it a whole file (package clause first). See the comment at the top of docs/snippets_test.go."

// compileSnippets extracts the ```go blocks of docs and compiles them,
// each as a package of its own under a temporary directory in the module
// at root, with one go build and one go vet.
func compileSnippets(t *testing.T, root string, docs []doc) checked {
	t.Helper()
	table := maps.Clone(importTable)
	modulePackages(t, root, table)
	var c checked
	for _, d := range docs {
		c.blocks = append(c.blocks, extractBlocks(d.rel, d.text)...)
	}
	for _, b := range c.blocks {
		switch b.kind {
		case wholeFile:
			c.whole++
		case fragment:
			c.fragments++
		case decls:
			c.fragments++
			c.decls++
		}
	}

	tmp, err := os.MkdirTemp(root, ".snippets-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	tmpRel, err := filepath.Rel(root, tmp)
	if err != nil {
		t.Fatal(err)
	}

	problem := map[*block]string{} // found before compiling
	dirs := map[string]*block{}    // package directory (./<tmp>/bNNN) → block
	var pkgs []string
	mains := false // any package main, to be linked
	for i, b := range c.blocks {
		if b.markerErr != "" {
			problem[b] = b.markerErr
			continue
		}
		if b.kind == unmarked {
			problem[b] = "neither a whole file (a package clause first) nor marked as a fragment"
			continue
		}
		src, err := b.source(filepath.Join(root, filepath.FromSlash(b.file)), table)
		if err != nil {
			problem[b] = err.Error()
			continue
		}
		dir := "./" + filepath.ToSlash(filepath.Join(tmpRel, fmt.Sprintf("b%03d", i)))
		if err := os.Mkdir(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dir, "snippet.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs[dir] = b
		pkgs = append(pkgs, dir)
		if b.kind == wholeFile {
			if f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.PackageClauseOnly); err == nil && f.Name.Name == "main" {
				mains = true
			}
		}
	}

	// One build for all (main packages are linked, into a directory that
	// is thrown away), then one vet for the packages that built.
	failed := map[*block][]string{}
	goCmd := func(args ...string) {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err == nil {
			return
		}
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("go %s: %v", args[0], err)
		}
		if stray := attribute(out, root, tmpRel, dirs, failed); len(stray) > 0 {
			c.problems = append(c.problems, fmt.Sprintf("go %s failed; output about no one block:\n%s", args[0], strings.Join(stray, "\n")))
		}
	}
	if len(pkgs) > 0 {
		build := []string{"build"}
		if mains { // -o <dir>/ links every main package; go build refuses it when there is none
			build = append(build, "-o", filepath.Join(tmp, "bin")+string(filepath.Separator))
		}
		goCmd(append(build, pkgs...)...)
	}
	var built []string
	for _, p := range pkgs {
		if _, bad := failed[dirs[p]]; !bad {
			built = append(built, p)
		}
	}
	if len(built) > 0 {
		goCmd(append([]string{"vet"}, built...)...)
	}

	hint := false
	for _, b := range c.blocks {
		what := map[blockKind]string{unmarked: "unmarked", wholeFile: "whole file", fragment: "fragment", decls: "declarations"}[b.kind]
		if p, ok := problem[b]; ok {
			c.problems = append(c.problems, fmt.Sprintf("%s: ```go block (%s): %s", b.where(), what, p))
			hint = hint || b.kind == unmarked
		} else if msgs, ok := failed[b]; ok {
			c.problems = append(c.problems, fmt.Sprintf("%s: ```go block (%s) does not compile as pasted:\n\t%s", b.where(), what, strings.Join(msgs, "\n\t")))
		}
	}
	if hint {
		c.problems = append(c.problems, unmarkedHint)
	}
	return c
}

// attribute files the go command's output lines under their blocks: a
// line with a Markdown position (//line directives map them) under the
// block around it, another line (a link error) under the block whose
// package the last "# <import path>" header named. Positions are made
// relative to the module root. It returns the lines under no block.
func attribute(out []byte, root, tmpRel string, dirs map[string]*block, failed map[*block][]string) (stray []string) {
	var cur *block
	pkgPrefix := modulePath + "/" + filepath.ToSlash(tmpRel) + "/"
	for _, l := range strings.Split(string(bytes.TrimSpace(out)), "\n") {
		if h, ok := strings.CutPrefix(l, "# "); ok {
			cur = nil
			if rest, ok := strings.CutPrefix(h, pkgPrefix); ok {
				cur = dirs["./"+filepath.ToSlash(filepath.Join(tmpRel, rest))]
			}
			continue
		}
		l = strings.TrimPrefix(l, "vet: ")
		l = strings.ReplaceAll(l, root+string(filepath.Separator), "")
		l = strings.TrimPrefix(l, "./")
		to := cur
		if m := positionRe.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[2])
			for _, b := range dirs {
				if b.file == m[1] && b.start <= n && n <= b.end {
					to = b
				}
			}
		}
		if to == nil {
			stray = append(stray, l)
			continue
		}
		failed[to] = append(failed[to], l)
	}
	return stray
}

// positionRe matches a compiler or vet message at a Markdown position.
var positionRe = regexp.MustCompile(`^(\S+\.md):(\d+)(?::\d+)?: `)
