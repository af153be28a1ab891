package sendgrid_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store/storetest"
)

func TestPurgeSuppressions_DeletesFromEveryListAndReadsBack(t *testing.T) {
	sg, mailer, hits := standIn(t)
	db, _ := storetest.New(t)
	ctx := context.Background()
	const ref = "pr_erasure0001"

	if _, err := mailer.PurgeSuppressions(ctx, registry.Proof{}, ref, recipient); !errors.Is(err, sendgrid.ErrNoRecord) || hits.Load() != 0 {
		t.Fatalf("without a proof: %v, %d requests", err, hits.Load())
	}
	wrong := proofOf(t, db, entry(registry.SystemSendGrid, registry.ActionTransmitted, ref))
	if _, err := mailer.PurgeSuppressions(ctx, wrong, ref, recipient); !errors.Is(err, sendgrid.ErrNoRecord) || hits.Load() != 0 {
		t.Fatalf("with a proof of a send, not an erasure: %v", err)
	}
	proof := proofOf(t, db, entry(registry.SystemSendGrid, registry.ActionErased, ref))

	sg.Suppress("bounces", recipient)
	sg.Suppress("spam_reports", recipient)
	sg.Suppress("global_unsubscribes", recipient)
	sg.Suppress("bounces", "someone.else@example.org")

	// A SendGrid that answers 204 but keeps the address is not believed.
	sg.IgnoreSuppressionDeletes(true)
	held, err := mailer.PurgeSuppressions(ctx, proof, ref, recipient)
	var se *sendgrid.Error
	if !errors.As(err, &se) || !se.Retryable || !slices.Equal(held, []string{"bounces"}) {
		t.Fatalf("deletes ignored: held %v, %v", held, err)
	}
	sg.IgnoreSuppressionDeletes(false)

	held, err = mailer.PurgeSuppressions(ctx, proof, ref, recipient)
	if err != nil || !slices.Equal(held, []string{"bounces", "spam_reports", "global_unsubscribes"}) {
		t.Fatalf("purge: held %v, %v", held, err)
	}
	if on := sg.SuppressedOn(recipient); len(on) != 0 {
		t.Fatalf("still on %v", on)
	}
	if on := sg.SuppressedOn("someone.else@example.org"); !slices.Equal(on, []string{"bounces"}) {
		t.Fatalf("another address's entries: %v", on)
	}
	// Again: nothing held, nothing deleted.
	if held, err = mailer.PurgeSuppressions(ctx, proof, ref, recipient); err != nil || len(held) != 0 {
		t.Fatalf("second purge: held %v, %v", held, err)
	}

	// The key is checked as SendGrid checks it; a refused key is retried.
	bad := sendgrid.New("SG.wrong", sg.URL)
	if _, err := bad.PurgeSuppressions(ctx, proof, ref, recipient); !errors.As(err, &se) || se.Status != 401 || !se.Retryable {
		t.Fatalf("wrong key: %v", err)
	}
}
