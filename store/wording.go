package store

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/locale"
)

// Wording is a shop's own text for the review email in one language. Each
// field is plain text; "" means the text Candor ships for that language.
// There is deliberately no field, and no placeholder, for a customer's
// name or any other personal datum: {order}, the order name, is the only
// placeholder, and only in the subject and the opening line.
type Wording struct {
	Subject string `db:"subject"` // not for English: Settings.Subject is the English subject
	Opening string `db:"opening"`
	Button  string `db:"button"`
}

// Wordings are a shop's wordings by language (locale.Supported).
type Wordings map[string]Wording

// The wording's fields, with their longest allowed text in characters.
const (
	WordingSubject = "subject"
	WordingOpening = "opening"
	WordingButton  = "button"

	MaxWordingSubject = 150
	MaxWordingOpening = 300
	MaxWordingButton  = 40
)

// WordingFields lists the fields in form order.
var WordingFields = []string{WordingSubject, WordingOpening, WordingButton}

// WordingField is the form name of one language's field:
// "wording_it_button".
func WordingField(lang, field string) string {
	return "wording_" + strings.ReplaceAll(lang, "-", "_") + "_" + field
}

// Get returns field's text.
func (w Wording) Get(field string) string {
	switch field {
	case WordingSubject:
		return w.Subject
	case WordingOpening:
		return w.Opening
	}
	return w.Button
}

// Set sets field's text.
func (w *Wording) Set(field, v string) {
	switch field {
	case WordingSubject:
		w.Subject = v
	case WordingOpening:
		w.Opening = v
	default:
		w.Button = v
	}
}

// Problems lists each field's problem, named by WordingField, for a form
// to show next to the field. An unsupported language is a problem of the
// whole wording, named by its subject field.
func (w Wording) Problems(lang string) []*FieldError {
	if !locale.IsSupported(lang) {
		return []*FieldError{fieldError(WordingField(lang, WordingSubject), "wording_language", lang)}
	}
	var ps []*FieldError
	for _, f := range WordingFields {
		if code, args := wordingProblem(lang, f, w.Get(f)); code != "" {
			ps = append(ps, fieldError(WordingField(lang, f), code, args...))
		}
	}
	return ps
}

// wordingProblem is the code (FieldText) and arguments of what is wrong
// with one field's text, or "".
func wordingProblem(lang, field, v string) (string, []any) {
	if v == "" {
		return "", nil
	}
	max := map[string]int{WordingSubject: MaxWordingSubject, WordingOpening: MaxWordingOpening, WordingButton: MaxWordingButton}[field]
	switch {
	case field == WordingSubject && lang == locale.Default:
		return "wording_english_subject", nil
	case !utf8.ValidString(v):
		return "wording_plain_text", nil
	case utf8.RuneCountInString(v) > max:
		return "wording_too_long", []any{max, utf8.RuneCountInString(v)}
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return "wording_one_line", nil
	case strings.ContainsAny(v, "<>"):
		return "plain_text_no_html", nil
	}
	rest := v
	if field != WordingButton {
		rest = strings.ReplaceAll(v, "{order}", "")
	}
	if strings.ContainsAny(rest, "{}") {
		if field == WordingButton {
			return "wording_button_plain", nil
		}
		return "wording_placeholder", nil
	}
	return "", nil
}

// EmailWording loads a shop's wordings.
func EmailWording(ctx context.Context, q sqlx.QueryerContext, shop string) (Wordings, error) {
	var rows []struct {
		Lang string `db:"lang"`
		Wording
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT lang, subject, opening, button FROM email_wording WHERE shop = $1`, shop); err != nil {
		return nil, fmt.Errorf("load email wording: %w", err)
	}
	out := Wordings{}
	for _, r := range rows {
		out[r.Lang] = r.Wording
	}
	return out, nil
}

// saveWording replaces a shop's wordings in tx: a language with no text of
// its own has no row.
func saveWording(ctx context.Context, tx *sqlx.Tx, shop string, ws Wordings, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM email_wording WHERE shop = $1`, shop); err != nil {
		return err
	}
	for _, lang := range locale.Supported {
		w, ok := ws[lang]
		if !ok || w == (Wording{}) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO email_wording (shop, lang, subject, opening, button, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, shop, lang, w.Subject, w.Opening, w.Button, now); err != nil {
			return err
		}
	}
	return nil
}

// SaveSettingsAndWording saves a shop's settings as SaveSettings does and
// its wordings with them, in the same transaction: both are saved, or
// neither. Every wording is checked first; the error is the first
// problem's *FieldError.
func (db *DB) SaveSettingsAndWording(ctx context.Context, domain string, s Settings, keep time.Duration, ws Wordings, shopHosts ...string) error {
	for lang, w := range ws {
		if ps := w.Problems(lang); len(ps) > 0 {
			return ps[0]
		}
	}
	return db.saveSettings(ctx, domain, s, keep, func(tx *sqlx.Tx) error {
		return saveWording(ctx, tx, domain, ws, time.Now())
	}, shopHosts...)
}
