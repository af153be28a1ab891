package devenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

var payloadData = regexp.MustCompile(`"data":"([A-Za-z0-9+/=]+)"`)

// HistoryText renders a workflow's whole history as text with every payload
// decoded through codec (nil: none), so tests can search it for data that
// must never be there. Payloads the codec cannot decode (their key was
// shredded) stay as they are, and are counted in sealed.
func HistoryText(ctx context.Context, c client.Client, workflowID string, codec converter.PayloadCodec) (text string, sealed int, err error) {
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, 0)
	var b strings.Builder
	decode := proxy.VisitPayloadsOptions{Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
		out := make([]*commonpb.Payload, len(ps))
		for i, p := range ps {
			d, err := codec.Decode([]*commonpb.Payload{p})
			if err != nil {
				sealed++
				out[i] = p
				continue
			}
			out[i] = d[0]
		}
		return out, nil
	}}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return "", 0, err
		}
		if codec != nil {
			if err := proxy.VisitPayloads(ctx, ev, decode); err != nil {
				return "", 0, err
			}
		}
		j, err := json.Marshal(ev)
		if err != nil {
			return "", 0, err
		}
		b.Write(j)
		b.WriteByte('\n')
		for _, m := range payloadData.FindAllSubmatch(j, -1) {
			if d, err := base64.StdEncoding.DecodeString(string(m[1])); err == nil {
				b.Write(d)
				b.WriteByte('\n')
			}
		}
	}
	return b.String(), sealed, nil
}

// HistoryJSON is a workflow's whole history with every payload decoded
// through codec, in the JSON form that client.HistoryFromJSON and the
// Temporal CLI read: a recording that a replayer can run without Candor's
// keys. A payload the codec cannot decode is an error, not a gap.
func HistoryJSON(ctx context.Context, c client.Client, workflowID string, codec converter.PayloadCodec) ([]byte, error) {
	h := &historypb.History{}
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, err
		}
		h.Events = append(h.Events, ev)
	}
	if err := proxy.VisitPayloads(ctx, h, proxy.VisitPayloadsOptions{
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return codec.Decode(ps)
		}}); err != nil {
		return nil, fmt.Errorf("decode history of %s: %w", workflowID, err)
	}
	return temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
}
