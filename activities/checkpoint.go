package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/registry"
)

// ErrRegistryTampered is the failure type of a checkpoint that found a
// chain broken since the last one: retrying cannot mend it.
const ErrRegistryTampered = "RegistryTampered"

// CheckpointResult is what a checkpoint signed: no shop, no hash.
type CheckpointResult struct {
	At     time.Time
	Chains int
}

// RegistryCheckpoint checks the registry's chains since the last
// checkpoint, then signs and stores their heads (registry.MakeCheckpoint).
func (a *Activities) RegistryCheckpoint(ctx context.Context) (CheckpointResult, error) {
	// The signing key rotates (candor keys rotate-signing): sign with the
	// current one, as exports do, trusting the last checkpoint's earlier key.
	signer, err := datakeys.Signer(ctx, a.DB, a.Keys)
	if err != nil {
		return CheckpointResult{}, fmt.Errorf("load the signing keys: %w", err)
	}
	cp, err := registry.MakeCheckpoint(ctx, a.DB.DB, signer, a.now())
	var te *registry.TamperError
	if errors.As(err, &te) {
		return CheckpointResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrRegistryTampered, nil)
	}
	if err != nil {
		return CheckpointResult{}, err
	}
	return CheckpointResult{At: cp.Checkpoint.At, Chains: len(cp.Checkpoint.Heads)}, nil
}
