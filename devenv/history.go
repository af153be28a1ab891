package devenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"

	"go.temporal.io/sdk/client"
)

var payloadData = regexp.MustCompile(`"data":"([A-Za-z0-9+/=]+)"`)

// HistoryText renders a workflow's whole history as text with every payload
// decoded, so tests can search it for data that must never be there.
func HistoryText(ctx context.Context, c client.Client, workflowID string) (string, error) {
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, 0)
	var b strings.Builder
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return "", err
		}
		j, err := json.Marshal(ev)
		if err != nil {
			return "", err
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
	return b.String(), nil
}
