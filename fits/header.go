package fits

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Card is one 80-character header record.
//
// Value is one of string, int64, float64, bool or nil. A nil Value marks a
// card without a value: commentary cards (COMMENT, HISTORY, CONTINUE,
// HIERARCH, blank keyword), whose text (columns 9–80) is in Comment, and
// cards of other keywords with an empty value field (or no "= "
// indicator), written back as KEY = / comment.
type Card struct {
	Key     string
	Value   any
	Comment string
}

// Header is the ordered list of cards of one HDU, END excluded.
type Header struct {
	Cards []Card
}

// normKey returns the canonical (upper-case, unpadded) form of a keyword.
func normKey(k string) string { return strings.ToUpper(strings.TrimSpace(k)) }

// isCommentaryKey reports whether key never carries a value.
// CONTINUE and HIERARCH cards are kept as text too (no "= " indicator).
func isCommentaryKey(k string) bool {
	switch k {
	case "", "COMMENT", "HISTORY", "CONTINUE", "HIERARCH":
		return true
	}
	return false
}

// Get returns the first card with the given keyword (case-insensitive).
func (h Header) Get(key string) (Card, bool) {
	key = normKey(key)
	for _, c := range h.Cards {
		if normKey(c.Key) == key {
			return c, true
		}
	}
	return Card{}, false
}

// Set replaces the value and comment of the first card with this keyword,
// or appends a new card. Go integer and float types are normalised to int64
// and float64. For COMMENT, HISTORY and blank keywords Set always appends.
func (h *Header) Set(key string, value any, comment string) {
	key = normKey(key)
	value = normValue(value)
	if !isCommentaryKey(key) {
		for i := range h.Cards {
			if normKey(h.Cards[i].Key) == key {
				h.Cards[i].Value = value
				h.Cards[i].Comment = comment
				return
			}
		}
	}
	h.Cards = append(h.Cards, Card{Key: key, Value: value, Comment: comment})
}

// Add appends a card even when the keyword is already present.
func (h *Header) Add(key string, value any, comment string) {
	h.Cards = append(h.Cards, Card{Key: normKey(key), Value: normValue(value), Comment: comment})
}

// AddComment appends a COMMENT card; AddHistory a HISTORY card. Text longer
// than 72 characters is split over several cards when written.
func (h *Header) AddComment(text string) { h.Add("COMMENT", nil, text) }

// AddHistory appends a HISTORY card.
func (h *Header) AddHistory(text string) { h.Add("HISTORY", nil, text) }

// Delete removes every card with the keyword and returns how many it removed.
func (h *Header) Delete(key string) int {
	key = normKey(key)
	out := h.Cards[:0]
	n := 0
	for _, c := range h.Cards {
		if normKey(c.Key) == key {
			n++
			continue
		}
		out = append(out, c)
	}
	h.Cards = out
	return n
}

// Float returns a numeric keyword (integer or real) as float64. ok is false
// when the keyword is absent; err is set when it holds a non-number.
func (h Header) Float(key string) (v float64, ok bool, err error) {
	c, ok := h.Get(key)
	if !ok {
		return 0, false, nil
	}
	switch x := c.Value.(type) {
	case int64:
		return float64(x), true, nil
	case float64:
		return x, true, nil
	}
	return 0, true, fmt.Errorf("keyword %s: value %s is not a number", normKey(key), describe(c.Value))
}

// Int returns an integer keyword.
func (h Header) Int(key string) (v int64, ok bool, err error) {
	c, ok := h.Get(key)
	if !ok {
		return 0, false, nil
	}
	if x, isInt := c.Value.(int64); isInt {
		return x, true, nil
	}
	return 0, true, fmt.Errorf("keyword %s: value %s is not an integer", normKey(key), describe(c.Value))
}

// String returns a string keyword. A value ending in '&' followed by
// CONTINUE cards (the long-string convention) is joined.
func (h Header) String(key string) (v string, ok bool, err error) {
	key = normKey(key)
	for i, c := range h.Cards {
		if normKey(c.Key) != key {
			continue
		}
		s, isStr := c.Value.(string)
		if !isStr {
			return "", true, fmt.Errorf("keyword %s: value %s is not a string", key, describe(c.Value))
		}
		for j := i + 1; strings.HasSuffix(s, "&") && j < len(h.Cards) && h.Cards[j].Key == "CONTINUE"; j++ {
			more, _, perr := parseValueField(h.Cards[j].Comment)
			ms, isStr := more.(string)
			if perr != nil || !isStr {
				break
			}
			s = s[:len(s)-1] + ms
		}
		return s, true, nil
	}
	return "", false, nil
}

// Bool returns a logical keyword.
func (h Header) Bool(key string) (v bool, ok bool, err error) {
	c, ok := h.Get(key)
	if !ok {
		return false, false, nil
	}
	if x, isBool := c.Value.(bool); isBool {
		return x, true, nil
	}
	return false, true, fmt.Errorf("keyword %s: value %s is not a logical", normKey(key), describe(c.Value))
}

func describe(v any) string {
	if v == nil {
		return "(none)"
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// normValue maps Go numeric types onto int64/float64.
func normValue(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x)
		}
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
	case float32:
		return float64(x)
	}
	return v
}

const cardLen = 80

// checkText verifies that s holds only printable ASCII (bytes 32–126).
func checkText(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] < 32 || s[i] > 126 {
			return fmt.Errorf("byte %d is 0x%02x, not printable ASCII", i+1, s[i])
		}
	}
	return nil
}

// checkKey verifies the FITS keyword syntax: up to 8 of A–Z 0–9 - _.
func checkKey(k string) error {
	if len(k) > 8 {
		return fmt.Errorf("keyword %q longer than 8 characters", k)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("keyword %q has invalid character %q", k, c)
		}
	}
	return nil
}

// parseCard decodes one 80-byte card.
func parseCard(s string) (Card, error) {
	if err := checkText(s); err != nil {
		return Card{}, err
	}
	rawKey := s[:8]
	key := strings.TrimRight(rawKey, " ")
	if strings.Contains(key, " ") {
		return Card{}, fmt.Errorf("keyword %q has embedded spaces", rawKey)
	}
	if err := checkKey(key); err != nil {
		return Card{}, err
	}
	if isCommentaryKey(key) {
		return Card{Key: key, Comment: strings.TrimRight(s[8:], " ")}, nil
	}
	if s[8:10] != "= " {
		// No value indicator: keep the text, as for an undefined value.
		return Card{Key: key, Comment: strings.TrimSpace(s[8:])}, nil
	}
	v, comment, err := parseValueField(s[10:])
	if err != nil {
		return Card{}, fmt.Errorf("keyword %s: %v", key, err)
	}
	return Card{Key: key, Value: v, Comment: comment}, nil
}

// parseValueField decodes the value/comment field (columns 11–80).
func parseValueField(f string) (v any, comment string, err error) {
	i := 0
	for i < len(f) && f[i] == ' ' {
		i++
	}
	var rest string
	switch {
	case i == len(f):
		return nil, "", nil
	case f[i] == '\'':
		var sb strings.Builder
		j, closed := i+1, false
		for j < len(f) {
			if f[j] == '\'' {
				if j+1 < len(f) && f[j+1] == '\'' {
					sb.WriteByte('\'')
					j += 2
					continue
				}
				closed = true
				j++
				break
			}
			sb.WriteByte(f[j])
			j++
		}
		if !closed {
			return nil, "", fmt.Errorf("malformed value: unterminated string %q", strings.TrimRight(f[i:], " "))
		}
		v = strings.TrimRight(sb.String(), " ")
		rest = f[j:]
	case f[i] == '/':
		rest = f[i:]
	default:
		tok := f[i:]
		if j := strings.IndexByte(tok, '/'); j >= 0 {
			tok, rest = tok[:j], tok[j:]
		}
		tok = strings.TrimRight(tok, " ")
		v, err = parseToken(tok)
		if err != nil {
			return nil, "", err
		}
	}
	rest = strings.TrimLeft(rest, " ")
	if rest == "" {
		return v, "", nil
	}
	if rest[0] != '/' {
		return nil, "", fmt.Errorf("malformed value: unexpected %q after value", rest)
	}
	return v, strings.TrimSpace(rest[1:]), nil
}

// parseToken decodes a logical, integer or real value.
func parseToken(t string) (any, error) {
	switch t {
	case "T":
		return true, nil
	case "F":
		return false, nil
	}
	isInt, ok := numberSyntax(t)
	if !ok {
		return nil, fmt.Errorf("malformed value %q (not a string, logical, integer or real)", t)
	}
	if isInt {
		n, err := strconv.ParseInt(t, 10, 64)
		if err == nil {
			return n, nil
		}
		// Beyond int64 (e.g. BZERO = 9223372036854775808 of unsigned
		// 64-bit data): keep it as a real.
	}
	x, err := strconv.ParseFloat(strings.Map(func(r rune) rune {
		if r == 'D' || r == 'd' {
			return 'E'
		}
		return r
	}, t), 64)
	if err != nil || math.IsInf(x, 0) {
		return nil, fmt.Errorf("malformed value: real %q out of float64 range", t)
	}
	return x, nil
}

// numberSyntax checks t against the FITS integer/real grammar
// [sign] digits [. digits] [(E|D) [sign] digits].
func numberSyntax(t string) (isInt, ok bool) {
	i := 0
	if i < len(t) && (t[i] == '+' || t[i] == '-') {
		i++
	}
	digits := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
		digits++
	}
	isInt = true
	if i < len(t) && t[i] == '.' {
		isInt = false
		i++
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false, false
	}
	if i < len(t) && strings.IndexByte("EeDd", t[i]) >= 0 {
		isInt = false
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		ed := 0
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
			ed++
		}
		if ed == 0 {
			return false, false
		}
	}
	return isInt, i == len(t)
}

// formatValue returns the preferred (fixed-format) and the shortest
// representation of a card value.
func formatValue(v any) (pref, short string, err error) {
	switch x := v.(type) {
	case nil:
		return "", "", nil
	case bool:
		if x {
			return fmt.Sprintf("%20s", "T"), "T", nil
		}
		return fmt.Sprintf("%20s", "F"), "F", nil
	case int64:
		s := strconv.FormatInt(x, 10)
		return fmt.Sprintf("%20s", s), s, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", "", fmt.Errorf("value %v cannot be written in a header", x)
		}
		return fmt.Sprintf("%20s", floatPref(x)), floatShort(x), nil
	case string:
		if err := checkText(x); err != nil {
			return "", "", fmt.Errorf("string value: %v", err)
		}
		esc := strings.ReplaceAll(x, "'", "''")
		short = "'" + esc + "'"
		if len(short) > 70 {
			return "", "", fmt.Errorf("string value of %d characters too long for one card (at most 68)", len(x))
		}
		if len(esc) < 8 {
			esc += strings.Repeat(" ", 8-len(esc))
		}
		return fmt.Sprintf("%-20s", "'"+esc+"'"), short, nil
	}
	return "", "", fmt.Errorf("unsupported value type %T (want string, integer, float, bool or nil)", v)
}

// floatPref is the readable form: shortest round-trip digits, always with
// a decimal point, exponent letter E.
func floatPref(x float64) string {
	s := strconv.FormatFloat(x, 'G', -1, 64)
	if strings.Contains(s, ".") {
		return s
	}
	if i := strings.IndexByte(s, 'E'); i >= 0 {
		return s[:i] + ".0" + s[i:]
	}
	return s + ".0"
}

// floatShort is the shortest valid FITS real that reads back as x.
func floatShort(x float64) string {
	e := strconv.FormatFloat(x, 'e', -1, 64) // d[.ddd]e±XX
	i := strings.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	best := e[:i] + "E" + strconv.Itoa(exp)
	f := strconv.FormatFloat(x, 'f', -1, 64)
	if !strings.Contains(f, ".") {
		f += "."
	}
	if strings.HasPrefix(f, "0.") {
		f = f[1:]
	} else if strings.HasPrefix(f, "-0.") {
		f = "-" + f[2:]
	}
	if len(f) < len(best) {
		best = f
	}
	return best
}

// formatCard renders c into one or more 80-byte cards.
func formatCard(c Card) ([]string, error) {
	key := normKey(c.Key)
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := checkText(c.Comment); err != nil {
		return nil, fmt.Errorf("keyword %s: comment: %v", key, err)
	}
	kf := key + strings.Repeat(" ", 8-len(key))
	if c.Value == nil {
		text := strings.TrimRight(c.Comment, " ")
		if isCommentaryKey(key) {
			var out []string
			for len(text) > 72 {
				out = append(out, kf+text[:72])
				text = text[72:]
			}
			return append(out, pad80(kf+text)), nil
		}
		// Undefined value: "KEY     =    / comment". If the comment would
		// not fit, fall back to the value-less form "KEY     text", which
		// reads back the same unless text itself starts with "= ".
		line, whole := valueLine(kf, strings.Repeat(" ", 20), "", strings.TrimSpace(text))
		if !whole && len(text) <= 72 && !strings.HasPrefix(text, "= ") {
			line = pad80(kf + text)
		}
		return []string{line}, nil
	}
	pref, short, err := formatValue(c.Value)
	if err != nil {
		return nil, fmt.Errorf("keyword %s: %v", key, err)
	}
	line, _ := valueLine(kf, pref, short, strings.TrimSpace(c.Comment))
	return []string{line}, nil
}

// valueLine lays out a value card, preferring the fixed format (value
// right-justified to column 30, " / " before the comment), then compact
// forms. whole is false when the comment had to be truncated.
func valueLine(kf, pref, short, com string) (line string, whole bool) {
	head := kf + "= "
	if com == "" {
		if len(head+pref) <= cardLen {
			return pad80(head + pref), true
		}
		return pad80(head + short), true
	}
	for _, s := range []string{head + pref + " / " + com, head + short + " / " + com, head + short + "/" + com} {
		if len(s) <= cardLen {
			return pad80(s), true
		}
	}
	// Comments are informational: truncate rather than fail.
	return (head + short + " / " + com)[:cardLen], false
}

func pad80(s string) string {
	if len(s) >= cardLen {
		return s[:cardLen]
	}
	return s + strings.Repeat(" ", cardLen-len(s))
}
