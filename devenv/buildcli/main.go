// Command buildcli builds the Temporal CLI that `candor dev` and the tests
// run (devenv.CLIVersion) into the cache, so that .ci/run can build it
// before the tests' own timeouts start.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/candorhq/candor/devenv"
)

func main() {
	bin, err := devenv.BuildCLI(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildcli:", err)
		os.Exit(1)
	}
	fmt.Printf("Temporal CLI %s: %s\n", devenv.CLIVersion, bin)
}
