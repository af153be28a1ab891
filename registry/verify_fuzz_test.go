package registry

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzVerifyExport: `registry verify` on an export. .ci/run runs it for a
// bounded time (the list is in .ci/fuzz-targets). An export built from the
// fuzzer's field values verifies with its signed manifest; changed in any
// byte, of the file or of the signed manifest, it never does. Without a
// manifest only the chains are checked, so a change may pass only if every
// entry still reads the same (JSON matches names regardless of case).
func FuzzVerifyExport(f *testing.F) {
	f.Add(false, "sub_0a1b2c", "email", "review_request", "rq_0123456789abcdef", uint(0), byte('x'))
	f.Add(true, "sub_0a1b2c", "email", "review_request", "rq_0123456789abcdef", uint(200), byte('X'))
	f.Add(false, "", "name, address", `say "hi"`, "ex_1", uint(90), byte(','))
	f.Add(true, "", "dätum", "\\u0041", "rq_\t", uint(1000), byte('"'))
	f.Fuzz(func(t *testing.T, jsonl bool, subject, datum, purpose, ref string, pos uint, b byte) {
		format := FormatCSV
		if jsonl {
			format = FormatJSONL
		}
		file, signed, pub := fuzzExport(t, format, subject, datum, purpose, ref)
		if _, err := Verify(bytes.NewReader(file), &signed, pub); err != nil {
			t.Fatalf("an intact export does not verify: %v\n%s", err, file)
		}
		if _, err := Verify(bytes.NewReader(file), nil, nil); err != nil {
			t.Fatalf("an intact export's chains do not verify: %v\n%s", err, file)
		}

		i := int(pos % uint(len(file)))
		changed := bytes.Clone(file)
		changed[i] ^= b | 1 // never the same byte
		if _, err := Verify(bytes.NewReader(changed), &signed, pub); err == nil {
			t.Fatalf("byte %d changed (%q to %q) and the export still verifies", i, file[i], changed[i])
		}
		if _, err := Verify(bytes.NewReader(changed), nil, nil); err == nil && !reflect.DeepEqual(entriesOf(t, file), entriesOf(t, changed)) {
			t.Fatalf("byte %d changed (%q to %q): the entries differ and the chains verify", i, file[i], changed[i])
		}

		manifest, err := json.Marshal(signed)
		if err != nil {
			t.Fatal(err)
		}
		j := int(pos % uint(len(manifest)))
		manifest[j] ^= b | 1
		var tampered Signed
		if json.Unmarshal(manifest, &tampered) == nil && !reflect.DeepEqual(tampered, signed) {
			if _, err := Verify(bytes.NewReader(file), &tampered, pub); err == nil {
				t.Fatalf("manifest byte %d changed and the export still verifies: %s", j, manifest)
			}
		}
	})
}

// fuzzExport writes an export as Export does, without Postgres: two shops,
// one with a main and a retention chain, interleaved; the field values as
// the fuzzer gives them, less what cannot be stored: what Append refuses
// (the control characters that separate fields and lines) and what a
// PostgreSQL text column refuses (NUL, invalid UTF-8).
func fuzzExport(t *testing.T, format, subject, datum, purpose, ref string) ([]byte, Signed, ed25519.PublicKey) {
	t.Helper()
	clean := func(s string) string {
		return strings.ToValidUTF8(strings.NewReplacer("\x1f", "", "\n", "", "\r", "", "\x00", "").Replace(s), "")
	}
	subject, datum, purpose, ref = clean(subject), clean(datum), clean(purpose), clean(ref)
	at := time.Date(2026, 12, 2, 8, 0, 0, 123456000, time.UTC)
	rows := []Entry{
		{Shop: "a.myshopify.com", Subject: subject, Datum: datum, Purpose: purpose, Ref: ref},
		{Shop: "a.myshopify.com", Datum: datum, Purpose: PurposeRetention, Ref: "sweep_1"},
		{Shop: "b.myshopify.com", Subject: subject, Datum: datum, Purpose: purpose, Ref: ref},
		{Shop: "a.myshopify.com", Subject: "sub_x", Datum: "email", Purpose: purpose, Ref: ref},
		{Shop: "a.myshopify.com", Datum: datum, Purpose: PurposeRetention, Ref: "sweep_2"},
	}
	type key struct{ shop, chain string }
	segs := map[key]*Segment{}
	var order []key
	var buf bytes.Buffer
	if format == FormatCSV {
		buf.WriteString(strings.Join(Columns, ",") + "\n")
	}
	for n, e := range rows {
		e.At, e.ExpiresAt = at.Add(time.Duration(n)*time.Second), at.AddDate(1, 0, 0)
		e.System, e.Action, e.LegalBasis = "candor", ActionStored, BasisLegitimateInterest
		k := key{e.Shop, chainOf(e)}
		if k.chain == ChainMain {
			k.chain = ""
		}
		s := segs[k]
		if s == nil {
			s = &Segment{Shop: e.Shop, Chain: k.chain, FromSeq: 1, FirstPrevHash: GenesisHash, LastHash: GenesisHash}
			segs[k] = s
			order = append(order, k)
		}
		e.PrevHash = s.LastHash
		e.Hash = ComputeHash(e.PrevHash, e)
		s.ToSeq++
		s.LastHash, s.HeadAtExport = e.Hash, e.Hash
		if format == FormatCSV {
			buf.Write(AppendCSV(nil, e))
		} else {
			buf.Write(AppendJSONL(nil, e))
		}
	}
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	signer := Signer{KeyID: "k1", Key: priv}
	sum := sha256.Sum256(buf.Bytes())
	m := Manifest{Version: 1, ExportID: "ex_fuzz", Format: format, ExportedAt: at, Lines: int64(len(rows)),
		SHA256: hex.EncodeToString(sum[:]), KeyID: signer.KeyID, PublicKey: signer.PublicKey()}
	for _, k := range order {
		m.Segments = append(m.Segments, *segs[k])
	}
	signed, err := signer.sign(m)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), signed, priv.Public().(ed25519.PublicKey)
}

// entriesOf reads an export's entries as Verify reads them, one per line.
func entriesOf(t *testing.T, file []byte) []Entry {
	t.Helper()
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(file))
	format := FormatJSONL
	for sc.Scan() {
		line := sc.Text()
		if len(out) == 0 && line == strings.Join(Columns, ",") {
			format = FormatCSV
			continue
		}
		e, err := parseLine(format, line)
		if err != nil {
			t.Fatalf("a line that verified does not parse: %v", err)
		}
		out = append(out, e)
	}
	return out
}

// Found by FuzzVerifyExport: Verify read one JSON object per line and
// ignored what followed it, so a line holding two rows verified while
// anything reading the file as JSON saw a row the chain never held.
func TestVerify_AJSONLineWithMoreAfterItsObjectIsAFinding(t *testing.T) {
	file, signed, pub := fuzzExport(t, FormatJSONL, "sub_1", "email", "review_request", "rq_1")
	lines := bytes.SplitAfter(file, []byte("\n"))
	for name, extra := range map[string]string{
		"a second row":  strings.TrimSuffix(string(lines[3]), "\n"),
		"garbage":       ")",
		"a second line": "\r",
	} {
		changed := bytes.Replace(file, lines[0], append(bytes.TrimSuffix(bytes.Clone(lines[0]), []byte("\n")), extra+"\n"...), 1)
		_, err := Verify(bytes.NewReader(changed), nil, nil)
		var f *Finding
		if !errors.As(err, &f) || f.Line != 1 || !strings.Contains(f.Reason, "more after the JSON object") {
			t.Errorf("%s after line 1, chains only: err = %v", name, err)
		}
		if _, err := Verify(bytes.NewReader(changed), &signed, pub); err == nil {
			t.Errorf("%s after line 1: verified with the manifest", name)
		}
	}
}
