package sendgrid

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/sendgrid/rest"
	sg "github.com/sendgrid/sendgrid-go"

	"github.com/candorhq/candor/registry"
)

// SuppressionLists are SendGrid's lists that keep a recipient's address
// after a send: the four suppression lists, then the global unsubscribes
// (Candor's own suppression list keeps only a pseudonym).
var SuppressionLists = []string{"bounces", "blocks", "spam_reports", "invalid_emails", "global_unsubscribes"}

func suppressionPath(list, address string) string {
	a := url.PathEscape(address)
	if list == "global_unsubscribes" {
		return "/v3/asm/suppressions/global/" + a
	}
	return "/v3/suppression/" + list + "/" + a
}

// PurgeSuppressions deletes address from every list in SuppressionLists
// and reads each list back. It returns the lists that held the address.
// Unlike an erasure job, whose progress SendGrid does not report, this is
// verified: it fails (retryably) while any list still holds the address.
// It hands the address to SendGrid, so it needs the same proof as Erase.
func (m *Mailer) PurgeSuppressions(ctx context.Context, proof registry.Proof, ref, address string) (held []string, err error) {
	if !proof.Covers(registry.SystemSendGrid, registry.ActionErased, registry.DatumEmail, ref) {
		return nil, ErrNoRecord
	}
	if address == "" {
		return nil, &Error{Reason: "no address to purge", NotSent: true}
	}
	for _, list := range SuppressionLists {
		on, err := m.suppressed(ctx, list, address)
		if err != nil {
			return held, err
		}
		if !on {
			continue
		}
		held = append(held, list)
		if err := m.call(ctx, rest.Delete, suppressionPath(list, address), nil); err != nil {
			return held, err
		}
		if on, err = m.suppressed(ctx, list, address); err != nil {
			return held, err
		}
		if on {
			return held, &Error{Retryable: true, Reason: "the address is still on SendGrid's " + list + " list after its deletion"}
		}
	}
	return held, nil
}

// suppressed reads one list for address: the four suppression lists answer
// an array (empty when the address is not on it), the global unsubscribes
// an object with recipient_email (empty when it is not).
func (m *Mailer) suppressed(ctx context.Context, list, address string) (bool, error) {
	var body string
	if err := m.call(ctx, rest.Get, suppressionPath(list, address), &body); err != nil {
		return false, err
	}
	if body == "" {
		return false, nil // 404: not on the list
	}
	if list == "global_unsubscribes" {
		var g struct {
			RecipientEmail string `json:"recipient_email"`
		}
		if json.Unmarshal([]byte(body), &g) != nil {
			return false, &Error{Retryable: true, Reason: "unreadable answer from the " + list + " list"}
		}
		return strings.EqualFold(g.RecipientEmail, address), nil
	}
	var entries []json.RawMessage
	if json.Unmarshal([]byte(body), &entries) != nil {
		return false, &Error{Retryable: true, Reason: "unreadable answer from the " + list + " list"}
	}
	return len(entries) > 0, nil
}

// call makes one suppression API request. A 404 means the address is not
// on the list: for a DELETE that is what was wanted, and a GET leaves body
// empty.
func (m *Mailer) call(ctx context.Context, method rest.Method, path string, body *string) error {
	req := sg.GetRequest(m.key, path, m.host)
	req.Method = method
	resp, err := m.client.SendWithContext(ctx, req)
	if err != nil {
		return transportError(err)
	}
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent:
		if body != nil {
			*body = resp.Body
		}
		return nil
	case resp.StatusCode == http.StatusNotFound:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return &Error{Status: resp.StatusCode, Retryable: true, RetryAfter: resetWait(resp.Headers), Reason: "rate limited"}
	case resp.StatusCode >= 500:
		return &Error{Status: resp.StatusCode, Retryable: true, Reason: "SendGrid unavailable"}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// Retry while the operator grants the key suppression.read and
		// suppression.delete (asm.suppressions for the global list).
		return &Error{Status: resp.StatusCode, Retryable: true, Reason: "API key lacks the suppression scopes"}
	default:
		return &Error{Status: resp.StatusCode, Reason: "suppression request rejected"}
	}
}
