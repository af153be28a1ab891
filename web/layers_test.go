package web_test

import (
	"go/build"
	"slices"
	"testing"
)

// The HTTP layer hands work to workflows and reads the review domain
// (package review); it never calls side effects directly. A web file that
// imports activities again puts domain logic back in the wrong layer.
func TestWeb_DoesNotImportActivities(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.GoFiles) == 0 {
		t.Fatal("no web source files found")
	}
	if slices.Contains(pkg.Imports, "github.com/candorhq/candor/activities") {
		t.Fatalf("web imports github.com/candorhq/candor/activities (files: %v)", pkg.GoFiles)
	}
}
