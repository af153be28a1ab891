// Package registry is Candor's data-flow registry: one append-only,
// hash-chained entry for every touch of customer data.
//
// Entries name customers only by pseudonym (keys.Subject) and requests only by
// opaque ID, never by email, name or raw Shopify ID, so the log can outlive an
// erasure without linking back to the person. Entries are never updated or
// deleted; the database enforces that too.
package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Systems that hold or see customer data.
const (
	SystemShopify  = "shopify"
	SystemPostgres = "postgres"
	SystemTemporal = "temporal"
	SystemSendGrid = "sendgrid"
	SystemCandor   = "candor" // process memory only
)

// Actions.
const (
	ActionCollected   = "collected"
	ActionStored      = "stored"
	ActionRead        = "read"
	ActionTransmitted = "transmitted"
	ActionDeleted     = "deleted"
	ActionErased      = "erased"
	// ActionRefused is a use of a credential that was turned away (an
	// expired or revoked API token): the attempt, not a touch of data.
	ActionRefused = "refused"
)

// Data categories, named after the Fides taxonomy (docs/registry.md).
const (
	DatumEmail           = "user.contact.email"
	DatumName            = "user.name"
	DatumAddress         = "user.contact.address"
	DatumPhone           = "user.contact.phone_number"
	DatumCustomerID      = "user.unique_id"
	DatumPurchaseHistory = "user.behavior.purchase_history"
	DatumMarketingPrefs  = "user.privacy_preferences"
	// DatumLanguage is the language a customer ordered in (Shopify's
	// Order.customerLocale), read to write the email in it.
	DatumLanguage = "user.demographic.language"
	// DatumPseudonym is a customer's pseudonym: what registry exports and
	// trail lookups read.
	DatumPseudonym = "user.unique_id.pseudonymous"
	// DatumEmailDeliverability is whether the address bounced, as
	// SendGrid's Event Webhook reports it; the address is not read.
	DatumEmailDeliverability = "user.contact.email.deliverability"
	// DatumCredential is an API token's record (its ID, never the token),
	// Fides's system.authentication: what a refused attempt used.
	DatumCredential = "system.authentication"
)

// StaffShop is the shop field of entries about staff principals (auditor
// and operator tokens), which belong to no shop: their refused attempts
// form a chain of their own, exported and verified like a shop's.
const StaffShop = "candor-staff"

// Purposes and legal bases.
const (
	PurposeReviewRequest = "review_request"
	PurposeUnsubscribe   = "unsubscribe"
	PurposeAudit         = "audit"
	PurposeErasure       = "erasure"
	PurposeDataRequest   = "data_request"
	PurposeRetention     = "retention"
	PurposeSuppression   = "suppression"
	PurposeAccessControl = "access_control"

	BasisLegitimateInterest = "legitimate_interests"
	BasisConsent            = "consent"
	BasisLegalObligation    = "legal_obligation"
)

// Entry is one touch of one datum by one system.
type Entry struct {
	Seq        int64     `db:"seq" json:"-"`
	Chain      string    `db:"chain" json:"-"`    // ChainMain or ChainRetention; Append sets it
	ShopSeq    int64     `db:"shop_seq" json:"-"` // position in its chain, from 1
	At         time.Time `db:"at" json:"at"`
	Shop       string    `db:"shop" json:"shop"`
	Subject    string    `db:"subject" json:"subject"` // pseudonym; "" until the customer is known, then linked by Ref
	Datum      string    `db:"datum" json:"datum"`
	System     string    `db:"system" json:"system"`
	Action     string    `db:"action" json:"action"`
	Purpose    string    `db:"purpose" json:"purpose"`
	LegalBasis string    `db:"legal_basis" json:"legal_basis"`
	ExpiresAt  time.Time `db:"expires_at" json:"expires_at"`
	Ref        string    `db:"ref" json:"ref"`
	PrevHash   string    `db:"prev_hash" json:"prev_hash"`
	Hash       string    `db:"hash" json:"hash"`
}

// GenesisHash is the prev_hash of the first entry.
var GenesisHash = strings.Repeat("0", 64)

// timeFormat is fixed at microseconds, Postgres's precision, so a hash
// computed before storing matches one recomputed after reading back.
const timeFormat = "2006-01-02T15:04:05.000000Z"

// ComputeHash is the chain hash of e given the previous entry's hash:
// SHA-256 over prev_hash and the entry's fields, separated by a byte that
// cannot occur in them.
func ComputeHash(prev string, e Entry) string {
	// One buffer on the stack and one Sum256: the retention sweep hashes a
	// million entries, and a hash.Hash with a write per field allocated for
	// each of them.
	var buf [512]byte
	b := append(buf[:0], prev...)
	b = append(b, 0x1f)
	b = e.At.UTC().AppendFormat(b, timeFormat)
	b = append(b, 0x1f)
	for _, f := range []string{e.Shop, e.Subject, e.Datum, e.System, e.Action, e.Purpose, e.LegalBasis} {
		b = append(b, f...)
		b = append(b, 0x1f)
	}
	b = e.ExpiresAt.UTC().AppendFormat(b, timeFormat)
	b = append(b, 0x1f)
	b = append(b, e.Ref...)
	b = append(b, 0x1f)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
