package shopifytest

import (
	"fmt"
	"strconv"
	"strings"
)

// A GraphQL parser for what the stand-in receives: enough of
// https://spec.graphql.org/October2021/#sec-Language to read any executable
// document (operations, variables and their defaults, aliases, arguments,
// directives, fragments), so query cost is computed from the real query
// text and not from a list of known queries.

// document is a parsed GraphQL request: its operations and fragments.
type document struct {
	ops       []*operation
	fragments map[string]*fragment
}

type operation struct {
	kind string // query or mutation
	name string
	vars map[string]any // variable defaults
	sel  []selection
}

type fragment struct {
	sel []selection
}

// selection is a field, an inline fragment (typed or not) or a fragment
// spread.
type selection struct {
	field  *field
	inline *inlineFragment
	spread string
}

type field struct {
	name  string // the schema field
	key   string // the alias, or the name: the key in the response
	args  map[string]any
	sel   []selection
	hasSS bool // has a selection set: an object, not a scalar
}

type inlineFragment struct {
	typed bool // has a type condition: one of several possible types
	sel   []selection
}

type varRef string

// parseDocument parses an executable GraphQL document. It accepts what
// the GraphQL spec allows a request to hold: operations with variables and
// directives, aliases, arguments of every literal kind, fragments.
func parseDocument(src string) (*document, error) {
	p := &parser{lex: lexer{src: src}}
	if err := p.next(); err != nil {
		return nil, err
	}
	doc := &document{fragments: map[string]*fragment{}}
	for p.tok.kind != tokEOF {
		switch {
		case p.tok.is(tokPunct, "{"):
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			doc.ops = append(doc.ops, &operation{kind: "query", sel: sel, vars: map[string]any{}})
		case p.tok.is(tokName, "query"), p.tok.is(tokName, "mutation"), p.tok.is(tokName, "subscription"):
			op, err := p.operation()
			if err != nil {
				return nil, err
			}
			doc.ops = append(doc.ops, op)
		case p.tok.is(tokName, "fragment"):
			name, f, err := p.fragmentDefinition()
			if err != nil {
				return nil, err
			}
			doc.fragments[name] = f
		default:
			return nil, p.unexpected()
		}
	}
	if len(doc.ops) == 0 {
		return nil, fmt.Errorf("document has no operation")
	}
	return doc, nil
}

// operation picks the operation to run, by name when there are several.
func (d *document) operation(name string) (*operation, error) {
	if name == "" {
		if len(d.ops) > 1 {
			return nil, fmt.Errorf("an operation name is required when the document has several")
		}
		return d.ops[0], nil
	}
	for _, op := range d.ops {
		if op.name == name {
			return op, nil
		}
	}
	return nil, fmt.Errorf("no operation named %q", name)
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokPunct
	tokName
	tokInt
	tokFloat
	tokString
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func (t token) is(k tokKind, text string) bool { return t.kind == k && t.text == text }

type lexer struct {
	src string
	pos int
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' && l.src[l.pos] != '\r' {
				l.pos++
			}
		default:
			return l.token()
		}
	}
	return token{kind: tokEOF, pos: l.pos}, nil
}

func (l *lexer) token() (token, error) {
	start := l.pos
	c := l.src[l.pos]
	switch {
	case strings.HasPrefix(l.src[l.pos:], "..."):
		l.pos += 3
		return token{kind: tokPunct, text: "...", pos: start}, nil
	case strings.ContainsRune("!$&()::=@[]{}|", rune(c)):
		l.pos++
		return token{kind: tokPunct, text: string(c), pos: start}, nil
	case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		for l.pos < len(l.src) && (l.src[l.pos] == '_' || isAlnum(l.src[l.pos])) {
			l.pos++
		}
		return token{kind: tokName, text: l.src[start:l.pos], pos: start}, nil
	case c == '-' || c >= '0' && c <= '9':
		l.pos++
		kind := tokInt
		for l.pos < len(l.src) {
			d := l.src[l.pos]
			if d >= '0' && d <= '9' {
				l.pos++
				continue
			}
			if d == '.' || d == 'e' || d == 'E' || (d == '+' || d == '-') && kind == tokFloat {
				kind = tokFloat
				l.pos++
				continue
			}
			break
		}
		return token{kind: kind, text: l.src[start:l.pos], pos: start}, nil
	case c == '"':
		return l.string()
	}
	return token{}, fmt.Errorf("unexpected character %q at %d", c, start)
}

func (l *lexer) string() (token, error) {
	start := l.pos
	if strings.HasPrefix(l.src[l.pos:], `"""`) {
		end := strings.Index(l.src[l.pos+3:], `"""`)
		if end < 0 {
			return token{}, fmt.Errorf("unterminated block string at %d", start)
		}
		l.pos += 3 + end + 3
		return token{kind: tokString, text: l.src[start+3 : l.pos-3], pos: start}, nil
	}
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case '"':
			l.pos++
			return token{kind: tokString, text: b.String(), pos: start}, nil
		case '\\':
			if l.pos+1 >= len(l.src) {
				return token{}, fmt.Errorf("unterminated string at %d", start)
			}
			b.WriteByte(l.src[l.pos+1])
			l.pos += 2
		case '\n', '\r':
			return token{}, fmt.Errorf("unterminated string at %d", start)
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return token{}, fmt.Errorf("unterminated string at %d", start)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

type parser struct {
	lex lexer
	tok token
}

func (p *parser) next() error {
	t, err := p.lex.next()
	p.tok = t
	return err
}

func (p *parser) unexpected() error {
	if p.tok.kind == tokEOF {
		return fmt.Errorf("unexpected end of document")
	}
	return fmt.Errorf("unexpected %q at %d", p.tok.text, p.tok.pos)
}

func (p *parser) expect(k tokKind, text string) error {
	if !p.tok.is(k, text) {
		return p.unexpected()
	}
	return p.next()
}

func (p *parser) name() (string, error) {
	if p.tok.kind != tokName {
		return "", p.unexpected()
	}
	n := p.tok.text
	return n, p.next()
}

func (p *parser) operation() (*operation, error) {
	op := &operation{kind: p.tok.text, vars: map[string]any{}}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokName {
		op.name = p.tok.text
		if err := p.next(); err != nil {
			return nil, err
		}
	}
	if p.tok.is(tokPunct, "(") {
		if err := p.next(); err != nil {
			return nil, err
		}
		for !p.tok.is(tokPunct, ")") {
			if err := p.expect(tokPunct, "$"); err != nil {
				return nil, err
			}
			name, err := p.name()
			if err != nil {
				return nil, err
			}
			if err := p.expect(tokPunct, ":"); err != nil {
				return nil, err
			}
			if err := p.typeRef(); err != nil {
				return nil, err
			}
			if p.tok.is(tokPunct, "=") {
				if err := p.next(); err != nil {
					return nil, err
				}
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				op.vars[name] = v
			}
			if err := p.directives(); err != nil {
				return nil, err
			}
		}
		if err := p.next(); err != nil {
			return nil, err
		}
	}
	if err := p.directives(); err != nil {
		return nil, err
	}
	sel, err := p.selectionSet()
	op.sel = sel
	return op, err
}

func (p *parser) typeRef() error {
	if p.tok.is(tokPunct, "[") {
		if err := p.next(); err != nil {
			return err
		}
		if err := p.typeRef(); err != nil {
			return err
		}
		if err := p.expect(tokPunct, "]"); err != nil {
			return err
		}
	} else if _, err := p.name(); err != nil {
		return err
	}
	if p.tok.is(tokPunct, "!") {
		return p.next()
	}
	return nil
}

func (p *parser) fragmentDefinition() (string, *fragment, error) {
	if err := p.next(); err != nil {
		return "", nil, err
	}
	name, err := p.name()
	if err != nil {
		return "", nil, err
	}
	if err := p.expect(tokName, "on"); err != nil {
		return "", nil, err
	}
	if _, err := p.name(); err != nil {
		return "", nil, err
	}
	if err := p.directives(); err != nil {
		return "", nil, err
	}
	sel, err := p.selectionSet()
	return name, &fragment{sel: sel}, err
}

func (p *parser) directives() error {
	for p.tok.is(tokPunct, "@") {
		if err := p.next(); err != nil {
			return err
		}
		if _, err := p.name(); err != nil {
			return err
		}
		if p.tok.is(tokPunct, "(") {
			if _, err := p.arguments(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *parser) selectionSet() ([]selection, error) {
	if err := p.expect(tokPunct, "{"); err != nil {
		return nil, err
	}
	var sel []selection
	for !p.tok.is(tokPunct, "}") {
		if p.tok.kind == tokEOF {
			return nil, p.unexpected()
		}
		s, err := p.selection()
		if err != nil {
			return nil, err
		}
		sel = append(sel, s)
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("empty selection set at %d", p.tok.pos)
	}
	return sel, p.next()
}

func (p *parser) selection() (selection, error) {
	if p.tok.is(tokPunct, "...") {
		if err := p.next(); err != nil {
			return selection{}, err
		}
		if p.tok.kind == tokName && p.tok.text != "on" {
			name := p.tok.text
			if err := p.next(); err != nil {
				return selection{}, err
			}
			return selection{spread: name}, p.directives()
		}
		in := &inlineFragment{}
		if p.tok.is(tokName, "on") {
			if err := p.next(); err != nil {
				return selection{}, err
			}
			if _, err := p.name(); err != nil {
				return selection{}, err
			}
			in.typed = true
		}
		if err := p.directives(); err != nil {
			return selection{}, err
		}
		sel, err := p.selectionSet()
		in.sel = sel
		return selection{inline: in}, err
	}
	f := &field{}
	name, err := p.name()
	if err != nil {
		return selection{}, err
	}
	f.name, f.key = name, name
	if p.tok.is(tokPunct, ":") {
		if err := p.next(); err != nil {
			return selection{}, err
		}
		if f.name, err = p.name(); err != nil {
			return selection{}, err
		}
	}
	if p.tok.is(tokPunct, "(") {
		if f.args, err = p.arguments(); err != nil {
			return selection{}, err
		}
	}
	if err := p.directives(); err != nil {
		return selection{}, err
	}
	if p.tok.is(tokPunct, "{") {
		f.hasSS = true
		if f.sel, err = p.selectionSet(); err != nil {
			return selection{}, err
		}
	}
	return selection{field: f}, nil
}

func (p *parser) arguments() (map[string]any, error) {
	if err := p.expect(tokPunct, "("); err != nil {
		return nil, err
	}
	args, err := p.namedValues(")")
	if err == nil && len(args) == 0 {
		err = fmt.Errorf("empty argument list at %d", p.tok.pos)
	}
	return args, err
}

// namedValues reads `name: value` pairs up to and including the closing
// punctuator: an argument list or an input object.
func (p *parser) namedValues(closing string) (map[string]any, error) {
	out := map[string]any{}
	for !p.tok.is(tokPunct, closing) {
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tokPunct, ":"); err != nil {
			return nil, err
		}
		if out[name], err = p.value(); err != nil {
			return nil, err
		}
	}
	return out, p.next()
}

func (p *parser) value() (any, error) {
	t := p.tok
	switch {
	case t.is(tokPunct, "$"):
		if err := p.next(); err != nil {
			return nil, err
		}
		name, err := p.name()
		return varRef(name), err
	case t.kind == tokInt:
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad integer %q at %d", t.text, t.pos)
		}
		return n, p.next()
	case t.kind == tokFloat:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q at %d", t.text, t.pos)
		}
		return f, p.next()
	case t.kind == tokString:
		return t.text, p.next()
	case t.kind == tokName:
		var v any = t.text // an enum value
		switch t.text {
		case "true":
			v = true
		case "false":
			v = false
		case "null":
			v = nil
		}
		return v, p.next()
	case t.is(tokPunct, "["):
		if err := p.next(); err != nil {
			return nil, err
		}
		list := []any{}
		for !p.tok.is(tokPunct, "]") {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, p.next()
	case t.is(tokPunct, "{"):
		if err := p.next(); err != nil {
			return nil, err
		}
		return p.namedValues("}")
	}
	return nil, p.unexpected()
}
