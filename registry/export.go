package registry

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/candorhq/candor/keys"
)

// Columns are an export's columns, in order: exactly the registry model.
var Columns = []string{"at", "shop", "subject", "datum", "system", "action", "purpose", "legal_basis", "expires_at", "ref", "prev_hash", "hash"}

// Export formats.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
	FormatROPA  = "ropa"
)

// ValidFormat reports whether format is one an export can be made in: CSV
// and JSONL (Export), or the record of processing (ROPA).
func ValidFormat(format string) bool {
	return format == FormatCSV || format == FormatJSONL || format == FormatROPA
}

// Filter selects what an export covers. Since and Until bound `at`
// ([Since, Until)); Subject needs Shop, because pseudonyms are per shop.
type Filter struct {
	Shop    string    `json:"shop,omitempty"`
	Subject string    `json:"subject,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	Until   time.Time `json:"until,omitzero"`
}

// Validate explains the first problem with f.
func (f Filter) Validate() error {
	if f.Subject != "" && f.Shop == "" {
		return errors.New("a subject filter needs a shop: pseudonyms are per shop")
	}
	if f.Subject != "" && !strings.HasPrefix(f.Subject, "sub_") {
		return errors.New("subject must be a pseudonym (sub_…); use the customer ID option to look one up")
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return errors.New("since must be before until")
	}
	return nil
}

// Segment is the part of one chain an export holds: every entry from
// FromSeq to ToSeq, in order, with other subjects' entries redacted.
type Segment struct {
	Shop          string `json:"shop"`
	Chain         string `json:"chain,omitempty"` // ChainRetention, or empty for the shop's main chain
	FromSeq       int64  `json:"from_seq"`
	ToSeq         int64  `json:"to_seq"`
	FirstPrevHash string `json:"first_prev_hash"`
	LastHash      string `json:"last_hash"`
	// HeadAtExport is the chain's head when the export was made;
	// equal to LastHash unless Until cut the segment short.
	HeadAtExport string `json:"head_at_export"`
}

// Manifest describes an export exactly enough to verify it offline.
type Manifest struct {
	Version    int       `json:"version"`
	ExportID   string    `json:"export_id"`
	Format     string    `json:"format"`
	ExportedAt time.Time `json:"exported_at"`
	Filter     Filter    `json:"filter"`
	Lines      int64     `json:"lines"` // entries, not counting a CSV header
	Redacted   int64     `json:"redacted"`
	SHA256     string    `json:"sha256"` // of the whole file
	Segments   []Segment `json:"segments"`
	KeyID      string    `json:"key_id"`
	PublicKey  string    `json:"public_key"` // base64 Ed25519
}

// Signed is a manifest with its Ed25519 signature: the FILE.sig sidecar.
type Signed struct {
	Manifest  Manifest `json:"manifest"`
	Signature string   `json:"signature"` // base64, over the manifest's JSON
}

// Signer signs manifests. KeyID names the key (keys.SigningKeyID): each
// manifest records the key that signed it, so a verifier holding several
// pinned keys (a rotation) knows which one applies.
type Signer struct {
	KeyID string
	Key   ed25519.PrivateKey
	// Earlier are the signing keys in use before Key (`candor keys
	// rotate-signing`): a checkpoint one of them signed is still this
	// deployment's, and the next checkpoint builds on it.
	Earlier []ed25519.PublicKey
}

// NewSigner is the Signer for k, named by its public key.
func NewSigner(k ed25519.PrivateKey) Signer {
	return Signer{KeyID: keys.SigningKeyID(k.Public().(ed25519.PublicKey)), Key: k}
}

// PublicKey is the verification key, base64.
func (s Signer) PublicKey() string {
	return base64.StdEncoding.EncodeToString(s.Key.Public().(ed25519.PublicKey))
}

func (s Signer) sign(m Manifest) (Signed, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return Signed{}, err
	}
	return Signed{Manifest: m, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(s.Key, b))}, nil
}

// NewExportID is a random export ID, also the registry ref of the export.
func NewExportID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return "ex_" + hex.EncodeToString(b)
}

// SubjectRefs are the request IDs of a subject's entries: entries without a
// subject (written before the customer was known) belong to the subject's
// trail when their ref is one of these.
func SubjectRefs(ctx context.Context, q sqlx.QueryerContext, shop, subject string) (map[string]bool, error) {
	var refs []string
	if err := sqlx.SelectContext(ctx, q, &refs, `SELECT DISTINCT ref FROM registry_entries WHERE shop = $1 AND subject = $2 AND subject <> ''`, shop, subject); err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(refs))
	for _, r := range refs {
		m[r] = true
	}
	return m, nil
}

// segments finds, inside tx's snapshot, which part of each chain f covers.
func segments(ctx context.Context, tx *sqlx.Tx, f Filter) ([]Segment, error) {
	var heads []Head
	if err := tx.SelectContext(ctx, &heads, `SELECT shop, chain, seq, hash FROM registry_heads WHERE ($1 = '' OR shop = $1) AND seq > 0 ORDER BY shop, chain`, f.Shop); err != nil {
		return nil, fmt.Errorf("read chain heads: %w", err)
	}
	var segs []Segment
	for _, h := range heads {
		s := Segment{Shop: h.Shop, Chain: h.Chain, FromSeq: 1, ToSeq: h.Seq, HeadAtExport: h.Hash}
		if !f.Since.IsZero() {
			var from sql.NullInt64
			if err := tx.GetContext(ctx, &from, `SELECT min(shop_seq) FROM registry_entries WHERE shop = $1 AND chain = $2 AND at >= $3`, h.Shop, h.Chain, f.Since); err != nil {
				return nil, err
			}
			if !from.Valid {
				continue
			}
			s.FromSeq = from.Int64
		}
		if !f.Until.IsZero() {
			var to sql.NullInt64
			if err := tx.GetContext(ctx, &to, `SELECT max(shop_seq) FROM registry_entries WHERE shop = $1 AND chain = $2 AND at < $3`, h.Shop, h.Chain, f.Until); err != nil {
				return nil, err
			}
			if !to.Valid || to.Int64 < s.FromSeq {
				continue
			}
			s.ToSeq = to.Int64
		}
		if err := tx.GetContext(ctx, &s.FirstPrevHash, `SELECT prev_hash FROM registry_entries WHERE shop = $1 AND chain = $2 AND shop_seq = $3`, h.Shop, h.Chain, s.FromSeq); err != nil {
			return nil, err
		}
		if err := tx.GetContext(ctx, &s.LastHash, `SELECT hash FROM registry_entries WHERE shop = $1 AND chain = $2 AND shop_seq = $3`, h.Shop, h.Chain, s.ToSeq); err != nil {
			return nil, err
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// exportSQL walks the primary key (append order) over the range that holds
// every segment, with Postgres formatting the timestamps exactly as
// ComputeHash does. Rows of a chain outside its segment are dropped in Go,
// which keeps the plan an index scan with no sort.
const exportSQL = `
SELECT to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), e.shop, e.subject, e.datum, e.system,
       e.action, e.purpose, e.legal_basis, to_char(e.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       e.ref, e.prev_hash, e.hash, e.chain, e.shop_seq
FROM registry_entries e
WHERE e.seq BETWEEN %d AND %d AND e.shop IN (%s)
ORDER BY e.seq`

// Export streams the entries f selects to w as CSV or JSONL, and returns the
// signed manifest. It reads one consistent snapshot, and holds one row in
// memory at a time. progress, if not nil, is called every 10,000 lines.
func Export(ctx context.Context, db *sqlx.DB, w io.Writer, format string, f Filter, signer Signer, exportID string, progress func(lines int64)) (Signed, error) {
	if format != FormatCSV && format != FormatJSONL {
		return Signed{}, fmt.Errorf("unknown export format %q (csv, jsonl, ropa)", format)
	}
	if err := f.Validate(); err != nil {
		return Signed{}, err
	}
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return Signed{}, fmt.Errorf("begin export: %w", err)
	}
	defer tx.Rollback()
	m := Manifest{Version: 1, ExportID: exportID, Format: format, ExportedAt: time.Now().UTC().Truncate(time.Microsecond),
		Filter: f, KeyID: signer.KeyID, PublicKey: signer.PublicKey()}
	if m.Segments, err = segments(ctx, tx, f); err != nil {
		return Signed{}, err
	}
	var refs map[string]bool
	if f.Subject != "" {
		if refs, err = SubjectRefs(ctx, tx, f.Shop, f.Subject); err != nil {
			return Signed{}, err
		}
	}

	sum := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 256<<10)
	if format == FormatCSV {
		bw.WriteString(strings.Join(Columns, ",") + "\n")
	}
	if len(m.Segments) == 0 {
		if err := bw.Flush(); err != nil {
			return Signed{}, err
		}
		m.SHA256 = hex.EncodeToString(sum.Sum(nil))
		return signer.sign(m)
	}
	lo, hi, quoted, bounds, err := segmentBounds(ctx, tx, m.Segments)
	if err != nil {
		return Signed{}, err
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(exportSQL, lo, hi, strings.Join(quoted, ",")))
	if err != nil {
		return Signed{}, fmt.Errorf("read registry: %w", err)
	}
	defer rows.Close()
	if err := writeLines(rows, bw, format, f, refs, bounds, &m, progress); err != nil {
		return Signed{}, err
	}
	if err := rows.Err(); err != nil {
		return Signed{}, fmt.Errorf("read registry: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return Signed{}, err
	}
	m.SHA256 = hex.EncodeToString(sum.Sum(nil))
	return signer.sign(m)
}

// span is one chain's segment of a shop.
type span struct {
	chain    string
	from, to int64
}

// segmentBounds turns the segments into the export query's bounds: the
// lowest and highest global seq, and the shops quoted as literals (validated
// shop domains), not parameters: a query without parameters runs over
// Postgres's simple protocol, which streams a million rows faster through
// lib/pq. bounds holds each shop's chains' segments, looked up by the row's
// bytes without allocating.
func segmentBounds(ctx context.Context, tx *sqlx.Tx, segs []Segment) (lo, hi int64, quoted []string, bounds map[string][]span, err error) {
	quoted = make([]string, 0, len(segs))
	bounds = make(map[string][]span, len(segs))
	for i, sg := range segs {
		var l, h int64
		if err := tx.GetContext(ctx, &l, `SELECT seq FROM registry_entries WHERE shop = $1 AND chain = $2 AND shop_seq = $3`, sg.Shop, sg.Chain, sg.FromSeq); err != nil {
			return 0, 0, nil, nil, err
		}
		if err := tx.GetContext(ctx, &h, `SELECT seq FROM registry_entries WHERE shop = $1 AND chain = $2 AND shop_seq = $3`, sg.Shop, sg.Chain, sg.ToSeq); err != nil {
			return 0, 0, nil, nil, err
		}
		if i == 0 || l < lo {
			lo = l
		}
		if h > hi {
			hi = h
		}
		if bounds[sg.Shop] == nil {
			quoted = append(quoted, pq.QuoteLiteral(sg.Shop))
		}
		bounds[sg.Shop] = append(bounds[sg.Shop], span{sg.Chain, sg.FromSeq, sg.ToSeq})
	}
	return lo, hi, quoted, bounds, nil
}

// writeLines writes each row in the filter's segments to bw, redacting
// other subjects' entries when the export is one subject's, and counts lines
// and redactions in m. One row at a time, scanned without copying: RawBytes
// point into the driver's buffer until the next row.
func writeLines(rows *sql.Rows, bw *bufio.Writer, format string, f Filter, refs map[string]bool, bounds map[string][]span, m *Manifest, progress func(lines int64)) error {
	var raw [12]sql.RawBytes
	var chain sql.RawBytes
	var shopSeq int64
	dest := make([]any, len(raw)+2)
	for i := range raw {
		dest[i] = &raw[i]
	}
	dest[len(raw)], dest[len(raw)+1] = &chain, &shopSeq
	line := make([]byte, 0, 512)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		in := false
		for _, sp := range bounds[string(raw[1])] {
			if sp.chain == string(chain) {
				in = shopSeq >= sp.from && shopSeq <= sp.to
				break
			}
		}
		if !in {
			continue // another shop's, or outside its chain's segment
		}
		fields := raw[:]
		if f.Subject != "" && string(raw[2]) != f.Subject && !(len(raw[2]) == 0 && refs[string(raw[9])]) {
			fields = redactRaw(raw)
			m.Redacted++
		}
		if format == FormatCSV {
			line = appendCSVFields(line[:0], fields)
		} else {
			line = appendJSONFields(line[:0], fields)
		}
		if _, err := bw.Write(line); err != nil {
			return err
		}
		m.Lines++
		if progress != nil && m.Lines%10000 == 0 {
			progress(m.Lines)
		}
	}
	return nil
}

// IsRedacted reports a redacted entry: every column but shop and the
// hashes empty. A row with only some columns emptied is a modified row.
func (e Entry) IsRedacted() bool {
	return e.At.IsZero() && e.ExpiresAt.IsZero() && e.Subject == "" && e.Datum == "" && e.System == "" &&
		e.Action == "" && e.Purpose == "" && e.LegalBasis == "" && e.Ref == ""
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

var redactedRow [12]sql.RawBytes

// redactRaw keeps only what links the chain: the shop, prev_hash and hash.
func redactRaw(raw [12]sql.RawBytes) []sql.RawBytes {
	r := redactedRow
	r[1], r[10], r[11] = raw[1], raw[10], raw[11]
	return r[:]
}

func entryFields(e Entry) []sql.RawBytes {
	vs := [...]string{fmtTime(e.At), e.Shop, e.Subject, e.Datum, e.System, e.Action, e.Purpose,
		e.LegalBasis, fmtTime(e.ExpiresAt), e.Ref, e.PrevHash, e.Hash}
	out := make([]sql.RawBytes, len(vs))
	for i, v := range vs {
		out[i] = sql.RawBytes(v)
	}
	return out
}

// AppendCSV appends e as one CSV line.
func AppendCSV(b []byte, e Entry) []byte { return appendCSVFields(b, entryFields(e)) }

// AppendJSONL appends e as one JSON line with exactly the export columns.
func AppendJSONL(b []byte, e Entry) []byte { return appendJSONFields(b, entryFields(e)) }

// freeText marks the columns that can hold a comma or a quote; times and
// hashes never do.
var freeText = [12]bool{false, true, true, true, true, true, true, true, false, true, false, false}

func appendCSVFields(b []byte, fields []sql.RawBytes) []byte {
	for i, v := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		if freeText[i] && bytes.ContainsAny(v, ",\"\n\r") {
			b = append(b, '"')
			for _, c := range v {
				if c == '"' {
					b = append(b, '"')
				}
				b = append(b, c)
			}
			b = append(b, '"')
		} else {
			b = append(b, v...)
		}
	}
	return append(b, '\n')
}

func appendJSONFields(b []byte, fields []sql.RawBytes) []byte {
	b = append(b, '{')
	for i, v := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, Columns[i]...)
		b = append(b, '"', ':')
		b = appendJSONString(b, v)
	}
	return append(b, '}', '\n')
}

// appendJSONString writes v as a JSON string: quotes, backslashes and
// control characters escaped, other bytes (UTF-8) as they are.
func appendJSONString(b []byte, v []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range v {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
