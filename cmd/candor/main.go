// Command candor runs Candor: the HTTP server, the Temporal worker, the
// one-process dev environment, and the operator's CLI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `candor: privacy-first review requests for Shopify

Usage:
  candor dev                      run everything in one process (Temporal, Postgres, worker, server, demo store)
  candor serve                    run the HTTP server
  candor worker                   run the Temporal worker
  candor migrate                  apply database migrations
  candor shops add|set|list       connect a shop and manage its settings
  candor shops login --shop S [--ttl 15m]
                                  print a single-use login link to the merchant pages
  candor simulate fulfillment|delivered|cancel|refund
                                  send signed Shopify webhooks to a server
  candor registry export|verify|pubkey|trail
                                  export, verify offline, and query the data-flow registry
  candor registry checkpoint | checkpoints [-o FILE] | audit --pubkey K --checkpoints FILE
                                  sign the chain heads now; export them; check the database against them
  candor tokens create --name N --role auditor|merchant|operator [--shop S] [--expires 90d]
                                  make an API token (shown once)
  candor tokens list | revoke ID | rotate ID [--expires 90d]
                                  every token; stop one; replace one with a new token
  candor access review [--json] | log --since T [--principal P]
                                  who can reach what, flagged; who looked at personal data
  candor incident impact --system S --since T1 [--until T2] [--shop X] [--drafts DIR]
                                  whose data a breached system held; draft breach notifications
  candor retention run [--wait] | policies [--shop S]
                                  one retention sweep now; the policies and their reasons
  candor reconcile run [--wait]
                                  repair webhook subscriptions; start orders no webhook announced
  candor retention set|clear --shop S --policy P [--keep 90d]
                                  a shop's own retention period, within the policy's bounds
  candor subjects report|receipt --shop S --customer-id N
                                  a customer's data-request report; an erasure's receipt
  candor keys rotate [--batch N] | rotate-login | rotate-signing | status
                                  re-seal everything under a new CANDOR_MASTER_KEY; what each key seals

Run 'candor COMMAND -h' for a command's flags. Configuration is read from the
environment (see README.md).
`

// usageError is a mistake in how the command was called: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the flags were printed
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "candor: "+err.Error())
		var ue usageError
		var ee exitError
		switch {
		case errors.As(err, &ue):
			os.Exit(2)
		case errors.As(err, &ee):
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return runDev(ctx, rest)
	case "serve":
		return runServe(ctx, rest)
	case "worker":
		return runWorker(ctx, rest)
	case "migrate":
		return runMigrate(ctx, rest)
	case "shops":
		return runShops(ctx, rest)
	case "simulate":
		return runSimulate(ctx, rest)
	case "registry":
		return runRegistry(ctx, rest)
	case "tokens":
		return runTokens(ctx, rest)
	case "access":
		return runAccess(ctx, rest)
	case "incident":
		return runIncident(ctx, rest)
	case "subjects":
		return runSubjects(ctx, rest)
	case "retention":
		return runRetention(ctx, rest)
	case "keys":
		return runKeys(ctx, rest)
	case "reconcile":
		return runReconcile(ctx, rest)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return usagef("unknown command %q", cmd)
	}
}
