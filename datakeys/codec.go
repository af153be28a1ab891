package datakeys

import (
	"context"
	"errors"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"github.com/candorhq/candor/keys"
)

// Payload metadata of an encrypted payload. The data is nonce‖AES-GCM of the
// original payload (metadata and data, protobuf-encoded), bound to the key ID.
const (
	MetadataEncoding  = "encoding"
	EncodingEncrypted = "binary/encrypted"
	MetadataKeyID     = "encryption-key-id"
)

// OwnerFunc says whose data key encrypts a workflow's payloads. ok false
// means the service key.
type OwnerFunc func(workflowID string) (shop, owner string, ok bool)

// Codec is a Temporal PayloadCodec that encrypts every payload under one
// owner's data key and decrypts any payload whose key still exists.
type Codec struct {
	keys        *Keys
	shop, owner string
	// replaying: the payloads it encodes are a replay's, which Temporal
	// compares with the history and drops (workflow.IsReplaying). They
	// use the owner's key when it exists and never make one: a replay of
	// a history from before data keys, or one that a crowded worker
	// replays to rebuild its cache, writes nothing to data_keys.
	replaying bool
}

// Codec encrypts under owner's key in shop (ServiceOwner, "" for the
// service key).
func (k *Keys) Codec(shop, owner string) *Codec { return &Codec{keys: k, shop: shop, owner: owner} }

// The PayloadCodec interface has no context; key lookups get their own.
func lookupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// Encode encrypts payloads. With none it asks for no key, so an activity
// that returns only an error needs no key.
func (c *Codec) Encode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	if len(ps) == 0 {
		return ps, nil
	}
	ctx, cancel := lookupCtx()
	defer cancel()
	dk, err := c.key(ctx)
	if err != nil {
		return ps, fmt.Errorf("payload codec: %w", err)
	}
	out := make([]*commonpb.Payload, len(ps))
	for i, p := range ps {
		plain, err := proto.Marshal(p)
		if err != nil {
			return ps, fmt.Errorf("payload codec: %w", err)
		}
		ct, err := dk.Encrypt(plain, []byte(dk.ID))
		if err != nil {
			return ps, fmt.Errorf("payload codec: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{MetadataEncoding: []byte(EncodingEncrypted), MetadataKeyID: []byte(dk.ID)},
			Data:     ct,
		}
	}
	return out, nil
}

// key is the key Encode uses: the owner's, made on first use; in a replay
// the owner's if it exists, else the service key, which exists from the
// first workflow on.
func (c *Codec) key(ctx context.Context) (keys.DataKey, error) {
	if !c.replaying {
		return c.keys.For(ctx, c.shop, c.owner)
	}
	dk, ok, err := c.keys.Existing(ctx, c.shop, c.owner)
	if err != nil || ok {
		return dk, err
	}
	return c.keys.For(ctx, "", ServiceOwner)
}

// Decode decrypts the encrypted payloads and passes others through (payloads
// written before the codec). A payload whose key was shredded is an error
// wrapping ErrShredded.
func (c *Codec) Decode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	ctx, cancel := lookupCtx()
	defer cancel()
	out := make([]*commonpb.Payload, len(ps))
	for i, p := range ps {
		d, err := c.keys.decodeOne(ctx, p)
		if err != nil {
			return ps, err
		}
		out[i] = d
	}
	return out, nil
}

// DecodeOne decrypts one payload (or passes an unencrypted one through) and
// names the key it used ("" when none).
func (k *Keys) DecodeOne(ctx context.Context, p *commonpb.Payload) (*commonpb.Payload, string, error) {
	id, _ := encrypted(p)
	out, err := k.decodeOne(ctx, p)
	return out, id, err
}

func encrypted(p *commonpb.Payload) (string, bool) {
	if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
		return "", false
	}
	return string(p.GetMetadata()[MetadataKeyID]), true
}

func (k *Keys) decodeOne(ctx context.Context, p *commonpb.Payload) (*commonpb.Payload, error) {
	id, ok := encrypted(p)
	if !ok {
		return p, nil
	}
	if id == "" {
		return nil, fmt.Errorf("payload codec: an encrypted payload names no key")
	}
	dk, err := k.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("payload codec: %w", err)
	}
	plain, err := dk.Decrypt(p.GetData(), []byte(dk.ID))
	if err != nil {
		return nil, fmt.Errorf("payload codec: %w", err)
	}
	var out commonpb.Payload
	if err := proto.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("payload codec: decrypted payload is not a payload: %w", err)
	}
	return &out, nil
}

// DataConverter is the converter every Temporal client of Candor's uses.
// It picks the key per workflow: in a workflow or an activity it asks owner
// with the workflow's ID; a client call names its workflow with WithWorkflow.
// Anything else is encrypted under the service key.
func (k *Keys) DataConverter(owner OwnerFunc) converter.DataConverter {
	return k.bound(owner, "", ServiceOwner, false)
}

type contextConverter struct {
	converter.DataConverter
	keys  *Keys
	owner OwnerFunc
}

func (k *Keys) bound(owner OwnerFunc, shop, who string, replaying bool) *contextConverter {
	return &contextConverter{
		DataConverter: converter.NewCodecDataConverter(converter.GetDefaultDataConverter(),
			&Codec{keys: k, shop: shop, owner: who, replaying: replaying}),
		keys: k, owner: owner,
	}
}

func (c *contextConverter) forWorkflow(id string, replaying bool) converter.DataConverter {
	if c.owner != nil && id != "" {
		if shop, who, ok := c.owner(id); ok {
			return c.keys.bound(c.owner, shop, who, replaying)
		}
	}
	return c.keys.bound(c.owner, "", ServiceOwner, replaying)
}

// WithWorkflowContext binds the key of the workflow running in ctx.
func (c *contextConverter) WithWorkflowContext(ctx workflow.Context) converter.DataConverter {
	return c.forWorkflow(workflow.GetInfo(ctx).WorkflowExecution.ID, workflow.IsReplaying(ctx))
}

// WithContext binds the key of the workflow named by WithWorkflow, or of the
// workflow whose activity runs in ctx.
func (c *contextConverter) WithContext(ctx context.Context) converter.DataConverter {
	if id, ok := ctx.Value(workflowIDKey{}).(string); ok {
		return c.forWorkflow(id, false)
	}
	if activity.IsActivity(ctx) {
		return c.forWorkflow(activity.GetInfo(ctx).WorkflowExecution.ID, false)
	}
	return c
}

type workflowIDKey struct{}

// WithWorkflow tells the data converter which workflow a client call (start,
// signal, query) is for, so its payloads use that workflow's key.
func WithWorkflow(ctx context.Context, workflowID string) context.Context {
	return context.WithValue(ctx, workflowIDKey{}, workflowID)
}

// FailureConverter is the failure converter every Temporal client of
// Candor's uses. It reports an error caused by a destroyed data key (a
// payload of the request that the worker can no longer decode or encode) as
// a non-retryable application error of type ShreddedErrorType: no retry can
// bring the key back, so the activity fails at once and its workflow sees
// why. Every other error goes through Temporal's default converter as is.
func FailureConverter() converter.FailureConverter {
	return shreddedFailures{temporal.GetDefaultFailureConverter()}
}

type shreddedFailures struct{ converter.FailureConverter }

func (c shreddedFailures) ErrorToFailure(err error) *failurepb.Failure {
	var appErr *temporal.ApplicationError
	if errors.Is(err, ErrShredded) && !errors.As(err, &appErr) {
		err = temporal.NewNonRetryableApplicationError(err.Error(), ShreddedErrorType, nil)
	}
	return c.FailureConverter.ErrorToFailure(err)
}
