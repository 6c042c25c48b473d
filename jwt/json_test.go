package jwt

import (
	"bytes"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The strict JSON reader (json.go) is checked against
// github.com/go-json-experiment/json, the basis of Go's encoding/json/v2,
// which is as strict by default: RFC 8259 grammar, valid UTF-8, escapes
// that decode to valid code points, no duplicate names. The two must accept
// and refuse the same documents, except where the reader is stricter on
// purpose (json.go):
//
//   - names repeated under Unicode case folding ({"a":1,"A":2}), which
//     jsonv2 compares exactly;
//   - nesting deeper than maxDepth containers.
//
// Where both accept, they must read the same values: every string, the
// registered claims and the header members the verifier uses, the raw text
// of identity claims, and NumericDates (against an exact decimal
// computation).

// jsonDiff checks the reader against jsonv2 on doc and returns a description
// of the first disagreement, or "".
func jsonDiff(doc string) string {
	sc := scanner{s: doc}
	sc.ws()
	ours := sc.skipValue(0) && sc.atEnd()
	theirs := jsontext.Value(doc).IsValid()
	switch {
	case ours && !theirs:
		return "the reader accepts what jsonv2 refuses"
	case !ours && theirs:
		if why := stricter(doc); why == "" {
			return "the reader refuses a document jsonv2 accepts, for no documented reason"
		}
		return "" // refused by a documented stricter rule
	case !ours:
		return ""
	}
	if msg := sameStrings(doc); msg != "" {
		return msg
	}
	switch strings.TrimLeft(doc, " \t\r\n")[0] {
	case '{':
		if msg := sameClaims(doc); msg != "" {
			return msg
		}
		return sameHeader(doc)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return sameDate(strings.Trim(doc, " \t\r\n"))
	}
	return ""
}

// stricter reports which of the reader's documented stricter rules a
// document that jsonv2 accepts breaks: "fold" for names repeated under case
// folding, "depth" for nesting past maxDepth, or "".
func stricter(doc string) string {
	dec := jsontext.NewDecoder(strings.NewReader(doc))
	var names [][]string // the names read so far in each open object
	depth := false
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			break
		}
		switch tok.Kind() {
		case '{', '[':
			names = append(names, nil)
			depth = depth || dec.StackDepth() > maxDepth
			continue
		case '}', ']':
			names = names[:len(names)-1]
			continue
		}
		// In an object, a name is a token at an odd count of the level.
		kind, n := dec.StackIndex(dec.StackDepth())
		if kind != '{' || n%2 != 1 {
			continue
		}
		name, top := tok.String(), len(names)-1
		for _, o := range names[top] {
			if strings.EqualFold(o, name) {
				return "fold"
			}
		}
		names[top] = append(names[top], name)
	}
	if depth {
		return "depth"
	}
	return ""
}

// sameStrings compares every string of doc, names and values, as the reader
// unescapes it and as jsonv2 does.
func sameStrings(doc string) string {
	dec := jsontext.NewDecoder(strings.NewReader(doc))
	for {
		start := dec.InputOffset()
		tok, err := dec.ReadToken()
		if err != nil {
			return ""
		}
		if tok.Kind() != '"' {
			continue
		}
		// The token starts at the first quote after start (white space and a
		// separator may come before it).
		raw := doc[start:dec.InputOffset()]
		raw = raw[strings.IndexByte(raw, '"'):]
		sc := scanner{s: raw}
		got, ok := sc.str()
		if !ok || sc.i != len(raw) {
			return "the reader refuses a string jsonv2 reads: " + raw
		}
		if got != tok.String() {
			return "string " + raw + " reads differently"
		}
	}
}

// sameClaims runs parseClaims on an object and compares what it reads with
// jsonv2's decoding of the same members.
func sameClaims(doc string) string {
	var m map[string]jsontext.Value
	if err := jsonv2.Unmarshal([]byte(doc), &m); err != nil {
		return "jsonv2 cannot decode a valid object: " + err.Error()
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	var c rawClaims
	rej := parseClaims(doc, names, &c)
	if rej != nil {
		if rej == errClaimType && wrongClaimType(m) != "" {
			return ""
		}
		return "parseClaims refuses a valid object: " + rej.msg
	}
	if why := wrongClaimType(m); why != "" {
		return "parseClaims accepts " + why
	}
	for _, s := range []struct {
		name string
		got  string
		has  bool
	}{{"iss", c.iss, c.hasIss}, {"sub", c.sub, c.hasSub}, {"scope", c.scope, c.hasScope}, {"jti", c.jti, c.jti != ""}, {"fid", c.fid, c.fid != ""}} {
		raw, ok := m[s.name]
		var want string
		if ok {
			_ = jsonv2.Unmarshal(raw, &want)
		}
		if s.got != want || s.has && !ok {
			return "claim " + s.name + " reads differently"
		}
	}
	for _, d := range []struct {
		name string
		got  int64
	}{{"exp", c.exp}, {"nbf", c.nbf}, {"iat", c.iat}, {"auth_time", c.auth}} {
		want := int64(0)
		if raw, ok := m[d.name]; ok {
			want, _ = exactMillis(string(raw))
		}
		if d.got != want {
			return "claim " + d.name + " reads differently"
		}
	}
	if raw, ok := m["aud"]; ok {
		var want []string
		if raw.Kind() == '"' {
			var one string
			_ = jsonv2.Unmarshal(raw, &one)
			want = []string{one}
		} else if err := jsonv2.Unmarshal(raw, &want); err != nil {
			return "aud: " + err.Error()
		}
		got := c.aud
		if c.audKind == 1 {
			got = []string{c.audOne}
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			return "aud reads differently"
		}
	} else if c.audKind != 0 {
		return "aud read from nowhere"
	}
	if len(c.extras) != len(m) {
		return "identity claims: wrong number of members"
	}
	for _, x := range c.extras {
		if string(m[x.name]) != x.raw {
			return "identity claim " + x.name + " has other raw text"
		}
	}
	return ""
}

// wrongClaimType names a registered claim of m whose type or range
// parseClaims must refuse, or returns "".
func wrongClaimType(m map[string]jsontext.Value) string {
	for _, name := range []string{"iss", "sub", "jti", "scope", "fid"} {
		if raw, ok := m[name]; ok && raw.Kind() != '"' {
			return name + " that is not a string"
		}
	}
	for _, name := range []string{"exp", "nbf", "iat", "auth_time"} {
		if raw, ok := m[name]; ok {
			if raw.Kind() != '0' {
				return name + " that is not a number"
			}
			if _, ok := exactMillis(string(raw)); !ok {
				return name + " out of range"
			}
		}
	}
	if raw, ok := m["aud"]; ok {
		switch raw.Kind() {
		case '"':
		case '[':
			var elems []jsontext.Value
			_ = jsonv2.Unmarshal(raw, &elems)
			for _, e := range elems {
				if e.Kind() != '"' {
					return "an aud element that is not a string"
				}
			}
		default:
			return "aud that is neither a string nor an array"
		}
	}
	return ""
}

// sameHeader runs parseHeader on an object and compares it with jsonv2.
func sameHeader(doc string) string {
	var m map[string]jsontext.Value
	if err := jsonv2.Unmarshal([]byte(doc), &m); err != nil {
		return "jsonv2 cannot decode a valid object: " + err.Error()
	}
	h, rej := parseHeader(doc)
	_, crit := m["crit"]
	_, b64 := m["b64"]
	_, cty := m["cty"]
	switch {
	case rej == errCrit || rej == errB64 || rej == errCty:
		if !crit && !b64 && !cty {
			return "parseHeader refuses an extension that is not there"
		}
		return ""
	case rej == nil && (crit || b64 || cty):
		return "parseHeader accepts crit, b64 or cty"
	case rej == errNoAlg:
		if raw, ok := m["alg"]; ok && raw.Kind() != '"' {
			return ""
		}
		return "parseHeader refuses a string alg"
	case rej == errHeaderJSON:
		for _, name := range []string{"kid", "typ"} {
			if raw, ok := m[name]; ok && raw.Kind() != '"' {
				return ""
			}
		}
		return "parseHeader refuses a valid header"
	case rej != nil:
		return "parseHeader: " + rej.msg
	}
	for _, s := range []struct {
		name string
		got  string
		has  bool
	}{{"alg", h.alg, h.hasAlg}, {"kid", h.kid, h.hasKID}, {"typ", h.typ, h.hasTyp}} {
		raw, ok := m[s.name]
		if ok != s.has {
			return "header " + s.name + " presence differs"
		}
		if !ok {
			continue
		}
		var want string
		if err := jsonv2.Unmarshal(raw, &want); err != nil {
			return "header " + s.name + " is not a string"
		}
		if want != s.got {
			return "header " + s.name + " reads differently"
		}
	}
	return ""
}

// sameDate compares numericDate with an exact computation on a number
// literal jsonv2 accepts.
func sameDate(lit string) string {
	got, gotOK := numericDate(lit)
	want, wantOK := exactMillis(lit)
	if got != want || gotOK != wantOK {
		return "NumericDate " + lit + " reads differently"
	}
	return ""
}

// exactMillis is numericDate computed with math/big: floor(value × 1000),
// valid in (0, maxNumericDate×1000]. A literal whose exponent alone puts it
// far out of range is refused without building the number.
func exactMillis(lit string) (int64, bool) {
	if lit == "" || lit[0] == '-' {
		return 0, false
	}
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		var e big.Int
		if _, ok := e.SetString(strings.TrimPrefix(lit[i+1:], "+"), 10); !ok {
			return 0, false
		}
		if e.CmpAbs(big.NewInt(int64(len(lit)+32))) > 0 {
			// More than the literal's digits can make up for: the value is
			// either 0 < v < 1 ms or far beyond year 9999.
			return 0, false
		}
	}
	r, ok := new(big.Rat).SetString(lit)
	if !ok {
		return 0, false
	}
	r.Mul(r, big.NewRat(1000, 1))
	ms := new(big.Int).Quo(r.Num(), r.Denom()) // r ≥ 0: truncation is floor
	if ms.Sign() <= 0 || ms.Cmp(big.NewInt(maxNumericDate*1000)) > 0 {
		return 0, false
	}
	return ms.Int64(), true
}

var jsonSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e3`, `null`, `true`,
	`{"a":1}`, `{"a":[1,2,{"b":null}]}`, `{"a":"\u00e9\ud83d\ude00"}`,
	`{"a":1,"A":2}`, `{"a":1,"a":2}`, `{"\u0061":1,"a":2}`, `{"ſ":1,"S":2}`, "{\"\u212a\":1,\"K\":2}",
	`{"a":-0.5e+10}`, `{"a":01}`, `{"a":"\x01"}`, `{"a":"\ud800"}`, `{"a":"\udc00\ud800"}`, `"\ud83d\ude00"`, `"\udc00\udc00"`,
	"\"\xff\"", `{"a":1,}`, `[1,]`, ` { "a" : [ ] } `, `{"a":1}x`, `1 2`,
	`{"sub":"u","iss":"i","aud":["a","b"],"exp":1800000600.25,"iat":1.8e9,"nbf":1800000000,"auth_time":1799999999,"jti":"j","scope":"a b","fid":"f","x":{"y":[1]}}`,
	`{"exp":1e300}`, `{"exp":"1"}`, `{"aud":[1]}`, `{"aud":{}}`, `{"sub":1}`,
	`{"exp":1.9999999999999999999}`, `{"exp":0.0005}`, `{"exp":0.001}`, `{"exp":253402300799.9995}`, `{"exp":253402300800}`,
	`{"exp":18000000000000000000000000e-16}`, `{"exp":0.0000000000000000018e27}`, `{"exp":1e-99999999999}`,
	`{"alg":"HS256","kid":"k","typ":"at+jwt"}`, `{"alg":1}`, `{"kid":null}`, `{"crit":[]}`,
	strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
	strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	`{"a":` + strings.Repeat(`{"a":`, maxDepth) + `1` + strings.Repeat(`}`, maxDepth+1),
}

// FuzzJSONDifferential checks the strict reader against jsonv2 on any input.
func FuzzJSONDifferential(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		if msg := jsonDiff(doc); msg != "" {
			t.Fatalf("%s\ndocument: %q", msg, doc)
		}
	})
}

func TestJSONDifferentialSeeds(t *testing.T) {
	for _, s := range jsonSeeds {
		if msg := jsonDiff(s); msg != "" {
			t.Errorf("%s\ndocument: %q", msg, s)
		}
	}
	// The stricter rules are the only refusals of valid documents, and
	// each of these seeds shows one.
	for doc, want := range map[string]string{
		`{"a":1,"A":2}`:          "fold",
		`{"ſ":1,"S":2}`:          "fold",
		"{\"\u212a\":1,\"K\":2}": "fold",
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1): "depth",
	} {
		sc := scanner{s: doc}
		if sc.skipValue(0) && sc.atEnd() {
			t.Errorf("the reader accepts %q", doc)
		}
		if !jsontext.Value(doc).IsValid() {
			t.Errorf("jsonv2 refuses %q", doc)
		}
		if got := stricter(doc); got != want {
			t.Errorf("stricter(%q) = %q, want %q", doc, got, want)
		}
	}
}

// TestNumericDateExact checks the NumericDate forms whose float64 reading
// would round across a millisecond.
func TestNumericDateExact(t *testing.T) {
	for lit, want := range map[string]int64{
		"1800000000":              1800000000000,
		"1800000000.5":            1800000000500,
		"1800000000.9999":         1800000000999,
		"1.9999999999999999999":   1999,
		"1.9999999999999999999e0": 1999,
		"18e8":                    1800000000000,
		"1.8e9":                   1800000000000,
		"0.0000000018e18":         1800000000000,
		"18000000000000000e-7":    1800000000000,
		"1800000000123e-3":        1800000000123,
		"1800000000123.9e-3":      1800000000123,
		"253402300799":            maxNumericDate * 1000,
		"253402300799.0009":       maxNumericDate * 1000,
		"0.001":                   1,
		"1E+3":                    1000000,
	} {
		got, ok := numericDate(lit)
		if !ok || got != want {
			t.Errorf("numericDate(%s) = %d, %v; want %d", lit, got, ok, want)
		}
		if e, ok := exactMillis(lit); !ok || e != want {
			t.Errorf("exactMillis(%s) = %d, %v", lit, e, ok)
		}
	}
	for _, lit := range []string{"0", "0.0009", "253402300799.001", "253402300800", "1e300", "1e-300", "-1", "1e1048577", "0e5", "", "1x5", "1e", "1e+"} {
		if got, ok := numericDate(lit); ok {
			t.Errorf("numericDate(%s) = %d, accepted", lit, got)
		}
	}
}

// TestJSONDifferentialFindsBugs makes sure the differential check is not
// vacuous: a reader that skipped UTF-8 validation, or read a surrogate pair
// wrong, would be caught.
func TestJSONDifferentialFindsBugs(t *testing.T) {
	if msg := jsonDiff("\"\xff\""); msg != "" {
		t.Fatal(msg) // both refuse
	}
	if !jsontext.Value(`{"a":"b"}`).IsValid() || jsontext.Value("{\"a\":\"\xff\"}").IsValid() {
		t.Fatal("jsonv2 no longer validates UTF-8 by default")
	}
	if jsontext.Value(`{"a":1,"a":2}`).IsValid() {
		t.Fatal("jsonv2 no longer refuses duplicate names by default")
	}
	var s string
	if err := jsonv2.Unmarshal([]byte(`"\ud83d\ude00"`), &s); err != nil || s != "😀" {
		t.Fatalf("jsonv2 reads a surrogate pair as %q, %v", s, err)
	}
	dec := jsontext.NewDecoder(bytes.NewReader([]byte(`1`)))
	if _, err := dec.ReadToken(); err != nil {
		t.Fatal(err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the value: %v", err)
	}
}

// BenchmarkClaimsReader compares the strict reader with jsonv2 decoding the
// same claims set into a struct (with its duplicate-name and UTF-8 checks,
// which are on by default), to show what replacing the reader would cost.
func BenchmarkClaimsReader(b *testing.B) {
	doc := `{"iss":"https://issuer.example","sub":"user-1","aud":"https://api.example","exp":1800000900,"iat":1800000000.123,"jti":"2xZ0aQvQ1sW9yR5tU7pLkM","scope":"read write"}`
	b.Run("reader", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c rawClaims
			if parseClaims(doc, nil, &c) != nil {
				b.Fatal("refused")
			}
		}
	})
	b.Run("jsonv2", func(b *testing.B) {
		type claims struct {
			Iss   string         `json:"iss"`
			Sub   string         `json:"sub"`
			Aud   jsontext.Value `json:"aud"`
			Exp   jsontext.Value `json:"exp"`
			Iat   jsontext.Value `json:"iat"`
			JTI   string         `json:"jti"`
			Scope string         `json:"scope"`
		}
		b.ReportAllocs()
		for b.Loop() {
			var c claims
			if err := jsonv2.Unmarshal([]byte(doc), &c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
