package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

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
	cp, err := registry.MakeCheckpoint(ctx, a.DB.DB, registry.Signer{KeyID: a.Keys.KeyID(), Key: a.Keys.SigningKey()}, a.now())
	var te *registry.TamperError
	if errors.As(err, &te) {
		return CheckpointResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrRegistryTampered, nil)
	}
	if err != nil {
		return CheckpointResult{}, err
	}
	return CheckpointResult{At: cp.Checkpoint.At, Chains: len(cp.Checkpoint.Heads)}, nil
}
