package jwt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/authkit/authkit"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, must
// refuse with an error that is a verdict on the token, and must accept only
// canonical compact tokens.
func FuzzVerify(f *testing.F) {
	hs := testKey(f, HS256)
	es := testKey(f, ES256)
	ks := mustKeySet(f, hs, es)
	clk := newClock()
	iss := NewIssuer(ks, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}, Now: clk.Now})
	good, _ := iss.Issue(Grant{Subject: "u", Scopes: []string{"a"}, FamilyID: "f"})
	f.Add(good.Token)
	f.Add(good.Token + "=")
	f.Add(strings.Replace(good.Token, ".", "..", 1))
	f.Add(forge(hdr("none", hs.ID()), claimsJSON(nil), nil))
	f.Add(forge(`{"alg":"ES256","kid":"`+es.ID()+`","typ":"at+jwt"}`, claimsJSON(nil), withKey(f, es)))
	f.Add(forge(`{"alg":"HS256","crit":["x"]}`, `{}`, nil))
	f.Add("a.b.c")
	f.Add("")
	f.Add(strings.Repeat(".", 100))
	f.Add(`{"payload":"e30","signatures":[]}`)
	v := NewVerifier(ks, Config{Issuer: testIssuer, Audience: testAudience, InsecureDisableRevocation: true, Now: clk.Now, CacheSize: 64})
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			if !errors.Is(err, authkit.ErrInvalidCredentials) {
				t.Fatalf("refusal %v is not invalid credentials", err)
			}
			return
		}
		if c.Subject == "" || !c.ExpiresAt.After(clk.Now()) {
			t.Fatalf("accepted claims %+v", c)
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %d segments", len(parts))
		}
		for _, p := range parts {
			raw, err := b64.DecodeString(p)
			if err != nil || b64.EncodeToString(raw) != p {
				t.Fatalf("accepted a non-canonical segment %q", p)
			}
		}
	})
}

// FuzzSignedClaims signs arbitrary header and claims JSON with the
// verifier's own key, so that the strict JSON reader and the claim checks
// see fuzzed input behind a valid signature. What the verifier accepts must
// be strict JSON as encoding/json reads it, with the same values.
func FuzzSignedClaims(f *testing.F) {
	hs := testKey(f, HS256)
	ks := mustKeySet(f, hs)
	clk := newClock()
	h := hdr("HS256", hs.ID())
	f.Add(h, claimsJSON(nil))
	f.Add(h, claimsJSON(map[string]any{"scope": "a b  c", "fid": "x", "auth_time": t0.Unix() - 5}))
	f.Add(h, claimsJSON(map[string]any{"aud": []string{"x", testAudience}, "nested": map[string]any{"a": []any{1, "b", nil, true}}}))
	f.Add(h, `{"sub":"\u0075\ud83d\ude00","exp":1800000600.25,"iat":1.8e9,"iss":"https://issuer.example","aud":"https://api.example"}`)
	f.Add(h, `{"sub":"a","sub":"b"}`)
	f.Add(h, `{"sub":"a","SUB":"b"}`)
	f.Add(h, `{"exp":1e300}`)
	f.Add(`{"alg":"HS256","typ":"at+jwt","kid":"`+hs.ID()+`","x5u":"http://x"}`, claimsJSON(nil))
	f.Add(`{"alg":"HS256","alg":"HS256"}`, claimsJSON(nil))
	v := NewVerifier(ks, Config{Issuer: testIssuer, Audience: testAudience, InsecureDisableRevocation: true, Now: clk.Now, CacheSize: -1, IdentityClaims: []string{"nested"}})
	sign := withKey(f, hs)
	f.Fuzz(func(t *testing.T, header, payload string) {
		tok := forge(header, payload, sign)
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			if !errors.Is(err, authkit.ErrInvalidCredentials) {
				t.Fatalf("refusal %v is not invalid credentials", err)
			}
			return
		}
		for _, doc := range []string{header, payload} {
			if !json.Valid([]byte(doc)) || !utf8.ValidString(doc) {
				t.Fatalf("accepted invalid JSON %q", doc)
			}
			if dupKeys([]byte(doc)) {
				t.Fatalf("accepted duplicate keys in %q", doc)
			}
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(payload))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m["sub"] != c.Subject || m["iss"] != c.Issuer || c.ID != "" && m["jti"] != c.ID {
			t.Fatalf("claims %+v differ from encoding/json's %v", c, m)
		}
		if _, ok := m["exp"].(json.Number); !ok {
			t.Fatalf("accepted exp %v", m["exp"])
		}
		var hm map[string]any
		_ = json.Unmarshal([]byte(header), &hm)
		if hm["alg"] != "HS256" || hm["crit"] != nil {
			t.Fatalf("accepted header %v", hm)
		}
	})
}

// dupKeys reports whether any object in the JSON document doc repeats a key
// under case folding, using encoding/json's tokenizer.
func dupKeys(doc []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.key {
			if s, ok := tok.(string); ok {
				k := foldKey(s)
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].key = true
		}
	}
}

// FuzzJSONReader checks the strict reader against encoding/json on any
// input: whatever it accepts, encoding/json accepts too.
func FuzzJSONReader(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":[1,2,{"b":null}]}`, `{"a":"\u00e9\ud83d\ude00"}`, `{"a":1,"A":2}`, `[1]`, `{"a":-0.5e+10}`, `{"a":01}`, `{"a":"\x01"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc := scanner{s: s}
		sc.ws()
		ok := sc.peek() == '{' && sc.skipValue(0) && sc.atEnd()
		if ok && (!json.Valid([]byte(s)) || !utf8.ValidString(s)) {
			t.Fatalf("strict reader accepted %q", s)
		}
		if ok && dupKeys([]byte(s)) {
			t.Fatalf("strict reader accepted duplicate keys in %q", s)
		}
		// Strings decode like encoding/json's.
		var c rawClaims
		if parseClaims(s, nil, &c) == nil && c.hasSub {
			var m struct {
				Sub string `json:"sub"`
			}
			dec := json.NewDecoder(strings.NewReader(s))
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("encoding/json refuses what parseClaims accepts: %v", err)
			}
			if m.Sub != c.sub {
				t.Fatalf("sub %q, encoding/json reads %q", c.sub, m.Sub)
			}
		}
	})
}

// FuzzParseRevocationRecord feeds arbitrary bytes to the decoder of the
// per-subject revocation record read from the store: it must never panic,
// must refuse anything but the exact length its entry count says, and what
// it accepts must encode back to the same bytes.
func FuzzParseRevocationRecord(f *testing.F) {
	r := &record{watermark: 1800000000000, wmUntil: 1800086400000, entries: []revEntry{
		{kind: kindJTI, hash: [16]byte{1, 2, 3}, until: 1800000900000},
		{kind: kindFamily, hash: [16]byte{4, 5, 6}, until: 1800086400000},
	}}
	good, _ := r.encode()
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(bytes.Clone(good), 0))
	f.Add([]byte{recordVersion})
	f.Add(make([]byte, recordHeaderLen))
	huge := bytes.Clone(good[:recordHeaderLen])
	huge[17], huge[18] = 0xff, 0xff // 65,535 entries claimed, none present
	f.Add(huge)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRecord(b)
		if err != nil {
			if !errors.Is(err, errCorruptRecord) {
				t.Fatalf("error %v is not errCorruptRecord", err)
			}
			return
		}
		if want := recordHeaderLen + len(r.entries)*recordEntryLen; len(b) != want {
			t.Fatalf("accepted %d bytes for %d entries", len(b), len(r.entries))
		}
		if enc, _ := r.encode(); enc != nil && !bytes.Equal(enc, b) {
			t.Fatalf("accepted %x, which encodes back as %x", b, enc)
		}
	})
}

// FuzzParseKey feeds arbitrary text to ParseKey for every algorithm: it
// must never panic, an error must wrap ErrInvalidKey and hold none of the
// text, and an accepted key must be of the algorithm asked for.
func FuzzParseKey(f *testing.F) {
	for _, alg := range []Algorithm{HS256, ES256, EdDSA, RS256} {
		text, err := testKey(f, alg).Export()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(text)
		f.Add(text[:len(text)/2])
	}
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("  c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==  "))
	f.Fuzz(func(t *testing.T, text []byte) {
		for _, alg := range []Algorithm{HS256, HS512, ES256, ES384, EdDSA, RS256, PS256} {
			k, err := ParseKey(alg, text)
			if err != nil {
				if !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("%s: error %v does not wrap ErrInvalidKey", alg, err)
				}
				// Key material is base64: the fields of lines that are not
				// PEM boundaries (whose block type an error may name).
				for _, line := range strings.Split(string(text), "\n") {
					if strings.Contains(line, "-----") {
						continue
					}
					for _, field := range strings.Fields(line) {
						if len(field) >= 16 && strings.Contains(err.Error(), field) {
							t.Fatalf("%s: error %q holds part of the text", alg, err)
						}
					}
				}
				continue
			}
			if k.Algorithm() != alg {
				t.Fatalf("ParseKey(%s) returned a %s key", alg, k.Algorithm())
			}
		}
	})
}
