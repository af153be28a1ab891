package devenv

import (
	"strings"
	"testing"
)

func TestSyncBuffer_KeepsAllOrTheTailPastItsLimit(t *testing.T) {
	var all SyncBuffer
	bounded := SyncBuffer{Limit: 10}
	for _, w := range []string{"first line\n", "second line\n", "third\n"} {
		_, _ = all.Write([]byte(w))
		_, _ = bounded.Write([]byte(w))
	}
	if got := all.String(); got != "first line\nsecond line\nthird\n" {
		t.Errorf("unbounded buffer kept %q", got)
	}
	if got := bounded.String(); strings.Contains(got, "first") || !strings.HasSuffix(got, "third\n") {
		t.Errorf("bounded buffer kept %q: want the tail, without the first line", got)
	}
}
