package candor_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	fuzzFuncRe = regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)
	execCount  = regexp.MustCompile(`^[1-9][0-9]*x$`)
)

// .ci/run fuzzes the targets listed in .ci/fuzz-targets; a target missing
// from the list would never be run for longer than its seeds.
func TestCI_FuzzTargetsListEveryFuzzTarget(t *testing.T) {
	b, err := os.ReadFile(".ci/fuzz-targets")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			f := strings.Fields(line)
			if len(f) != 3 || !execCount.MatchString(f[2]) {
				t.Fatalf(".ci/fuzz-targets: %q is not \"package target count\" with a count like 20000x", line)
			}
			listed = append(listed, f[0]+" "+f[1])
		}
	}
	var found []string
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range fuzzFuncRe.FindAllStringSubmatch(string(src), -1) {
			found = append(found, "./"+filepath.ToSlash(filepath.Dir(path))+" "+m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(listed)
	slices.Sort(found)
	if !slices.Equal(listed, found) {
		t.Fatalf(".ci/fuzz-targets lists\n  %s\nthe repository has\n  %s", strings.Join(listed, "\n  "), strings.Join(found, "\n  "))
	}
}
