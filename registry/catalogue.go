package registry

import "time"

// System describes one place customer data goes, as an Art. 30 record of
// processing needs it: who it is, where, for how long, and how it is
// protected.
type System struct {
	Key         string
	Name        string
	Role        string // controller, processor or sub-processor (from the merchant's view)
	Operator    string
	Location    string
	Country     string // ISO 3166-1 alpha-2
	Transfer    string // the safeguard for a transfer outside the EEA, or ""
	Retention   string // what it keeps, and for how long
	RetentionAt time.Duration
	Security    []string
	Purposes    []string
	Bases       []string
}

// Systems is the catalogue, in the order a reader meets them.
var Systems = []System{
	{
		Key: SystemShopify, Name: "Shopify", Role: "controller's system of record", Operator: "Shopify Inc. / Shopify International Ltd.",
		Location: "Shopify cloud (Canada, USA, Ireland)", Country: "CA",
		Transfer:  "Shopify's own terms (EU adequacy for Canada; SCCs for the USA)",
		Retention: "as the merchant's store keeps it; Candor reads only, just in time",
		Security:  []string{"Admin API access token, sealed at rest in Candor (AES-256-GCM, key ID)", "HTTPS", "webhook HMAC-SHA256 verified before parsing"},
		Purposes:  []string{PurposeReviewRequest}, Bases: []string{BasisConsent, BasisLegitimateInterest},
	},
	{
		Key: SystemCandor, Name: "Candor process memory", Role: "processor", Operator: "the Candor operator",
		Location: "the Candor server", Country: "operator's choice",
		Retention: "not kept: webhook payloads and the recipient address live for one request or one send", RetentionAt: 0,
		Security: []string{"payload parsed into structs holding only needed fields", "no raw bodies or personal data in logs"},
		Purposes: []string{PurposeReviewRequest, PurposeUnsubscribe}, Bases: []string{BasisConsent, BasisLegitimateInterest, BasisLegalObligation},
	},
	{
		Key: SystemPostgres, Name: "Candor database (PostgreSQL)", Role: "processor", Operator: "the Candor operator",
		Location: "the operator's database server", Country: "operator's choice",
		Retention: "review requests 180 days; suppression list while the shop is connected (at most 5 years); registry entries hold only pseudonyms", RetentionAt: 180 * 24 * time.Hour,
		Security: []string{"customers stored only as keyed pseudonyms (HMAC-SHA256)", "secrets sealed with AES-256-GCM and key IDs", "API tokens stored as SHA-256 hashes", "registry append-only (trigger) and hash-chained"},
		Purposes: []string{PurposeReviewRequest, PurposeUnsubscribe, PurposeSuppression}, Bases: []string{BasisConsent, BasisLegitimateInterest, BasisLegalObligation},
	},
	{
		Key: SystemTemporal, Name: "Temporal (workflow engine)", Role: "processor", Operator: "the Candor operator (self-hosted) or Temporal Technologies (Temporal Cloud)",
		Location: "the operator's Temporal cluster", Country: "operator's choice",
		Transfer:  "Temporal Cloud: the region chosen for the namespace",
		Retention: "workflow input (order ID, name, products) for the workflow's life plus the namespace's retention", RetentionAt: 7 * 24 * time.Hour,
		Security: []string{"no email, name, address, phone or price in workflow input, history or search attributes", "mTLS to Temporal Cloud"},
		Purposes: []string{PurposeReviewRequest}, Bases: []string{BasisLegitimateInterest},
	},
	{
		Key: SystemSendGrid, Name: "Twilio SendGrid", Role: "sub-processor", Operator: "Twilio Inc.",
		Location: "USA (or the EU, with SendGrid's EU data residency)", Country: "US",
		Transfer:  "EU-US Data Privacy Framework (Twilio is certified) and SCCs in Twilio's DPA",
		Retention: "recipient address and delivery events in email activity, 30 days", RetentionAt: 30 * 24 * time.Hour,
		Security: []string{"HTTPS", "click and open tracking off", "only an opaque request ID in custom_args", "signed Event Webhook (ECDSA)"},
		Purposes: []string{PurposeReviewRequest, PurposeSuppression}, Bases: []string{BasisConsent, BasisLegitimateInterest, BasisLegalObligation},
	},
}

// KnownSystem reports whether key names a catalogued system.
func KnownSystem(key string) bool {
	_, ok := SystemByKey(key)
	return ok
}

// SystemByKey finds a system.
func SystemByKey(key string) (System, bool) {
	for _, s := range Systems {
		if s.Key == key {
			return s, true
		}
	}
	return System{}, false
}

// Category is one data category, named after the Fides taxonomy.
type Category struct {
	Key         string
	Description string
}

// Categories lists every datum Candor records.
var Categories = []Category{
	{DatumEmail, "the customer's email address, the review request's recipient"},
	{DatumName, "first and last name (arrive only in untrimmed webhook payloads; dropped)"},
	{DatumAddress, "postal address (arrive only in untrimmed webhook payloads; dropped)"},
	{DatumPhone, "phone number (arrive only in untrimmed webhook payloads; dropped)"},
	{DatumCustomerID, "the Shopify customer ID, read to derive the pseudonym"},
	{DatumPurchaseHistory, "order ID, order name, product IDs and titles"},
	{DatumMarketingPrefs, "email-marketing consent state; the unsubscribe (suppression) list"},
	{DatumLanguage, "the language the customer ordered in, read to write the email in it"},
	{DatumPseudonym, "the customer's keyed pseudonym, as registry exports and trails show it"},
	{DatumCredential, "an API token's ID and role (never the token), as a refused use of it records"},
	{DatumEmailDeliverability, "whether the customer's address bounced or is invalid (SendGrid's Event Webhook; the address itself is not read)"},
}

// Purposes, with what they mean.
var Purposes = map[string]string{
	PurposeReviewRequest: "ask a customer, once, to review the products of a delivered order",
	PurposeUnsubscribe:   "honour a customer's request to receive no more review requests",
	PurposeAudit:         "let the merchant and auditors account for the processing (registry exports, subject trails)",
	PurposeErasure:       "carry out a customer's or shop's erasure request (Shopify's customers/redact, shop/redact)",
	PurposeDataRequest:   "answer a customer's access request (Shopify's customers/data_request)",
	PurposeRetention:     "delete what has outlived its retention period",
	PurposeAccessControl: "account for who tried to use a credential that was expired or revoked (security of processing, GDPR Art. 32; LGPD Art. 46)",
	PurposeSuppression:   "stop emailing a customer whose address bounced, who reported spam or who unsubscribed at SendGrid",
}

// Bases, with the articles they rest on.
var Bases = map[string]string{
	BasisConsent:            "GDPR Art. 6(1)(a); LGPD Art. 7 I",
	BasisLegitimateInterest: "GDPR Art. 6(1)(f); LGPD Art. 7 IX",
	BasisLegalObligation:    "GDPR Art. 6(1)(c); LGPD Art. 7 II",
}
