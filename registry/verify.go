package registry

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Finding is why a file failed verification, with the first bad line
// (1-based, counting a CSV header) when one can be named.
type Finding struct {
	Line   int64
	Reason string
}

func (f *Finding) Error() string {
	if f.Line > 0 {
		return fmt.Sprintf("line %d: %s", f.Line, f.Reason)
	}
	return f.Reason
}

// Report is what a successful verification established.
type Report struct {
	Entries        int64
	Redacted       int64
	Shops          int
	Chains         int // a shop has up to two: main and retention
	SignatureKeyID string
	// SignedBy is the public key that verified the signature: the one
	// given, or, when none was given, the one in the manifest (compare it
	// with `candor registry pubkey`).
	SignedBy      string
	KeyWasPinned  bool
	ManifestFound bool
}

// Verify reads an export and checks, line by line, that every entry's hash
// matches its contents and that each chain of every shop links without a gap;
// then, given the signed manifest, that the segments begin and end where the
// export said, that nothing was added or dropped, that the file's digest
// matches, and that the signature is good. pub, if not nil, must be the key
// that signed. With a nil pub the signature is checked against the key the
// manifest names, which shows only that the file agrees with itself: anyone
// can re-sign a rewritten export. `candor registry verify` always pins pub.
// It holds one line in memory at a time.
func Verify(r io.Reader, signed *Signed, pub ed25519.PublicKey) (Report, error) {
	var pinned []ed25519.PublicKey
	if pub != nil {
		pinned = append(pinned, pub)
	}
	return VerifyPinned(r, signed, pinned)
}

// VerifyPinned is Verify against a pinned set of keys: the signature must
// be by one of them. A verifier pins every key the operator published and
// still trusts; after a signing-key rotation the old key stays pinned for
// old exports until the operator withdraws it (say, because it was stolen:
// then nothing it signs, old or new, verifies).
func VerifyPinned(r io.Reader, signed *Signed, pinned []ed25519.PublicKey) (Report, error) {
	var rep Report
	// Each shop's rows form one or more chains (its main chain, its
	// retention chain), interleaved in the file. A row belongs to the chain
	// whose last hash is its prev_hash; a row that continues none starts a
	// chain only where a segment of the manifest begins (or, with no
	// manifest, at the genesis hash).
	var starts map[string][]Segment // per shop, the segments not yet begun
	if signed != nil {
		rep.ManifestFound = true
		if err := checkSignature(signed, pinned, &rep); err != nil {
			return rep, err
		}
		starts = map[string][]Segment{}
		for _, s := range signed.Manifest.Segments {
			starts[s.Shop] = append(starts[s.Shop], s)
		}
	}
	sum := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(r, sum), 256<<10)
	chains := map[string][]*chain{}
	var lineNo int64
	format := ""
	for {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return rep, &Finding{lineNo + 1, "line is too long to be a registry entry"}
		}
		if len(raw) == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return rep, err
		}
		lineNo++
		if !bytes.HasSuffix(raw, []byte{'\n'}) {
			return rep, &Finding{lineNo, "last line is cut off (file truncated)"}
		}
		line := strings.TrimSuffix(string(raw), "\n")
		if format == "" {
			if strings.HasPrefix(line, "{") {
				format = FormatJSONL
			} else {
				format = FormatCSV
				if line != strings.Join(Columns, ",") {
					return rep, &Finding{lineNo, "not a registry export: the header is not " + strings.Join(Columns, ",")}
				}
				continue
			}
		}
		e, perr := parseLine(format, line)
		if perr != nil {
			return rep, &Finding{lineNo, perr.Error()}
		}
		c, err := chainFor(chains, starts, e, lineNo)
		if err != nil {
			return rep, err
		}
		if e.IsRedacted() {
			if signed != nil && signed.Manifest.Filter.Subject == "" {
				return rep, &Finding{lineNo, "row is blanked out, but this export redacts nothing: the row was modified"}
			}
			rep.Redacted++
		} else if ComputeHash(e.PrevHash, e) != e.Hash {
			return rep, &Finding{lineNo, "hash does not match the row's contents: the row was modified"}
		}
		c.last, c.lastLine = e.Hash, lineNo
		rep.Entries++
	}
	rep.Shops = len(chains)
	for _, cs := range chains {
		rep.Chains += len(cs)
	}
	if signed == nil {
		return rep, nil
	}
	return rep, checkManifest(signed.Manifest, rep, chains, starts, lineNo, sum.Sum(nil))
}

// chainFor finds the chain row e (on line lineNo) continues. A row that
// continues none starts a chain only where a segment of the manifest begins
// (starts, which it uses up) or, with no manifest, at the genesis hash;
// anything else is a finding.
func chainFor(chains map[string][]*chain, starts map[string][]Segment, e Entry, lineNo int64) (*chain, error) {
	for _, o := range chains[e.Shop] {
		if o.last == e.PrevHash {
			return o, nil
		}
	}
	var c *chain
	if starts != nil {
		segs, known := starts[e.Shop]
		if !known {
			return nil, &Finding{lineNo, fmt.Sprintf("shop %s is not in the signed manifest (row inserted)", e.Shop)}
		}
		// Two chains can begin at the same hash (the genesis);
		// the purpose says which, unless the row is redacted.
		i := slices.IndexFunc(segs, func(s Segment) bool { return s.FirstPrevHash == e.PrevHash && s.Chain == chainOf(e) })
		if i < 0 {
			i = slices.IndexFunc(segs, func(s Segment) bool { return s.FirstPrevHash == e.PrevHash })
		}
		if i >= 0 {
			starts[e.Shop] = slices.Delete(segs, i, i+1)
			c = &chain{}
		}
	} else if e.PrevHash == GenesisHash {
		c = &chain{}
	}
	if c == nil {
		return nil, &Finding{lineNo, brokenLink(chains[e.Shop])}
	}
	chains[e.Shop] = append(chains[e.Shop], c)
	return c, nil
}

// checkManifest checks what Verify read against the signed manifest: every
// segment begun, every chain reaching its signed end, the counts, and the
// file's digest (sum). lineNo is the file's last line.
func checkManifest(m Manifest, rep Report, chains map[string][]*chain, starts map[string][]Segment, lineNo int64, sum []byte) error {
	for _, s := range m.Segments {
		if slices.Contains(starts[s.Shop], s) {
			return &Finding{lineNo + 1, fmt.Sprintf("%s's entries are missing (file truncated or rows deleted)", chainName(s.Shop, s.Chain))}
		}
	}
	ends := map[string]bool{}
	for _, s := range m.Segments {
		ends[s.LastHash] = true
	}
	// A chain that stops short of its signed end: name the earliest.
	var short *chain
	var shortShop string
	for shop, cs := range chains {
		for _, c := range cs {
			if !ends[c.last] && (short == nil || c.lastLine < short.lastLine) {
				short, shortShop = c, shop
			}
		}
	}
	if short != nil {
		return &Finding{short.lastLine + 1, fmt.Sprintf("a chain of shop %s ends before the signed end (file truncated or rows deleted after line %d)", shortShop, short.lastLine)}
	}
	if rep.Entries != m.Lines {
		return &Finding{0, fmt.Sprintf("the file holds %d entries, the signed manifest %d", rep.Entries, m.Lines)}
	}
	if rep.Redacted != m.Redacted {
		return &Finding{0, fmt.Sprintf("%d rows are redacted, the signed manifest says %d: rows of this subject were blanked out", rep.Redacted, m.Redacted)}
	}
	if got := hex.EncodeToString(sum); got != m.SHA256 {
		return &Finding{0, "every chain verifies, but the file differs from what was signed (rows of different shops reordered, or bytes changed outside the entries)"}
	}
	return nil
}

// chain is one chain being read: its last hash and line so far.
type chain struct {
	last     string
	lastLine int64
}

// brokenLink explains a row whose prev_hash continues none of its shop's
// chains.
func brokenLink(open []*chain) string {
	if len(open) == 0 {
		return "prev_hash does not continue the chain where the export began (rows deleted before it, or inserted)"
	}
	lines := make([]string, len(open))
	for i, c := range open {
		lines[i] = strconv.FormatInt(c.lastLine, 10)
	}
	return fmt.Sprintf("prev_hash does not follow line %s: a row was deleted, inserted or moved", strings.Join(lines, " or "))
}

func chainName(shop, chain string) string {
	if chain == "" {
		return "shop " + shop
	}
	return "shop " + shop + "'s " + chain + " chain"
}

func checkSignature(s *Signed, pinned []ed25519.PublicKey, rep *Report) error {
	candidates := pinned
	if len(pinned) == 0 {
		k, err := base64.StdEncoding.DecodeString(s.Manifest.PublicKey)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return &Finding{0, "the manifest's public key is malformed"}
		}
		candidates = []ed25519.PublicKey{k}
	} else {
		rep.KeyWasPinned = true
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return &Finding{0, "the signature is malformed"}
	}
	body, err := json.Marshal(s.Manifest)
	if err != nil {
		return err
	}
	for _, key := range candidates {
		if ed25519.Verify(key, body, sig) {
			rep.SignedBy = base64.StdEncoding.EncodeToString(key)
			rep.SignatureKeyID = s.Manifest.KeyID
			return nil
		}
	}
	if len(pinned) > 1 {
		return &Finding{0, fmt.Sprintf("the signature verifies with none of the %d pinned public keys (manifest changed, or signed by a key not pinned)", len(pinned))}
	}
	if len(pinned) == 1 {
		return &Finding{0, "the signature does not verify with the given public key (manifest changed, or signed by another key)"}
	}
	return &Finding{0, "the signature does not verify: the manifest was changed"}
}

func parseLine(format, line string) (Entry, error) {
	var f []string
	if format == FormatJSONL {
		var j jsonEntry
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			return Entry{}, errors.New("not a registry entry (bad JSON or unknown field)")
		}
		// Decode stops after one object; what follows it on the line
		// (another object, which other JSONL readers would take for a
		// row) is a finding, not ignored.
		if dec.InputOffset() != int64(len(line)) {
			return Entry{}, errors.New("not a registry entry (more after the JSON object)")
		}
		f = []string{j.At, j.Shop, j.Subject, j.Datum, j.System, j.Action, j.Purpose, j.LegalBasis, j.ExpiresAt, j.Ref, j.PrevHash, j.Hash}
	} else if strings.IndexByte(line, '"') < 0 {
		f = strings.Split(line, ",")
	} else {
		r := csv.NewReader(strings.NewReader(line))
		rec, err := r.Read()
		if err != nil {
			return Entry{}, errors.New("not a CSV registry entry")
		}
		f = rec
	}
	if len(f) != len(Columns) {
		return Entry{}, fmt.Errorf("has %d fields, want %d", len(f), len(Columns))
	}
	e := Entry{Shop: f[1], Subject: f[2], Datum: f[3], System: f[4], Action: f[5], Purpose: f[6],
		LegalBasis: f[7], Ref: f[9], PrevHash: f[10], Hash: f[11]}
	var err error
	if e.At, err = parseTime(f[0]); err != nil {
		return Entry{}, fmt.Errorf("bad time %q", f[0])
	}
	if e.ExpiresAt, err = parseTime(f[8]); err != nil {
		return Entry{}, fmt.Errorf("bad time %q", f[8])
	}
	if len(e.Hash) != 64 || len(e.PrevHash) != 64 {
		return Entry{}, errors.New("prev_hash and hash must be 64 hex characters")
	}
	return e, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(timeFormat, s)
}

// jsonEntry is one JSONL line, for parsing; DisallowUnknownFields makes an
// added column a finding.
type jsonEntry struct {
	At         string `json:"at"`
	Shop       string `json:"shop"`
	Subject    string `json:"subject"`
	Datum      string `json:"datum"`
	System     string `json:"system"`
	Action     string `json:"action"`
	Purpose    string `json:"purpose"`
	LegalBasis string `json:"legal_basis"`
	ExpiresAt  string `json:"expires_at"`
	Ref        string `json:"ref"`
	PrevHash   string `json:"prev_hash"`
	Hash       string `json:"hash"`
}
