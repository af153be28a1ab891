package sendgrid

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/sendgrid/rest"
	sg "github.com/sendgrid/sendgrid-go"

	"github.com/candorhq/candor/registry"
)

// Erase asks SendGrid, through its Recipients' Data Erasure API, to delete
// everything it holds about these addresses, and returns the job ID.
// SendGrid offers no way to read the job back, so the accepted job is the
// evidence. The call itself hands the addresses to SendGrid, so it too needs
// a registry proof (ref is the privacy request).
func (m *Mailer) Erase(ctx context.Context, proof registry.Proof, ref string, addresses []string) (string, error) {
	if !proof.Covers(registry.SystemSendGrid, registry.ActionErased, registry.DatumEmail, ref) {
		return "", ErrNoRecord
	}
	if len(addresses) == 0 || len(addresses) > 5000 {
		return "", &Error{Reason: "an erasure job takes 1 to 5000 addresses", NotSent: true}
	}
	body, _ := json.Marshal(map[string][]string{"email_addresses": addresses})
	req := sg.GetRequest(m.key, "/v3/recipients/erasejob", m.host)
	req.Method = rest.Post
	req.Body = body
	resp, err := m.client.SendWithContext(ctx, req)
	if err != nil {
		return "", transportError(err)
	}
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
		var out struct {
			JobID string `json:"job_id"`
		}
		if json.Unmarshal([]byte(resp.Body), &out) != nil || out.JobID == "" {
			return "", &Error{Status: resp.StatusCode, Retryable: true, Reason: "erasure accepted without a job ID"}
		}
		return out.JobID, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return "", &Error{Status: resp.StatusCode, Retryable: true, RetryAfter: resetWait(resp.Headers), Reason: "rate limited"}
	case resp.StatusCode >= 500:
		return "", &Error{Status: resp.StatusCode, Retryable: true, Reason: "SendGrid unavailable"}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// Often the recipients.erasejob.create scope is missing on older
		// accounts: retry while the operator fixes the key.
		return "", &Error{Status: resp.StatusCode, Retryable: true, Reason: "API key lacks recipients.erasejob.create"}
	default:
		return "", &Error{Status: resp.StatusCode, Reason: "erasure request rejected"}
	}
}
