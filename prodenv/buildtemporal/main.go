// Command buildtemporal builds the Temporal server and SQL tool that the
// production-topology tests run (prodenv.TemporalVersion) into the cache,
// so that .ci/run can build them before the tests' own timeouts start.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/candorhq/candor/prodenv"
)

func main() {
	b, err := prodenv.BuildTemporal(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildtemporal:", err)
		os.Exit(1)
	}
	fmt.Printf("Temporal server %s: %s\n", prodenv.TemporalVersion, b.Server)
}
