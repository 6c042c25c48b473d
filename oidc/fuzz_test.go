package oidc

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/secret"
	"golang.org/x/oauth2"
)

func fuzzCodec(f *testing.F) *cookie.Codec {
	c, err := cookie.NewCodec(cookie.Key{ID: 1, Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		f.Fatal(err)
	}
	return c
}

// FuzzDecodeFlow: whatever the cookie value, decodeFlow returns an error or
// a flow whose every field is well-formed; it never panics.
func FuzzDecodeFlow(f *testing.F) {
	codec := fuzzCodec(f)
	const name = DefaultCookiePrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	good := flow{V: flowVersion, State: secret.Base62(stateLen), Nonce: secret.Base62(nonceLen),
		Verifier: oauth2.GenerateVerifier(), Provider: "idp", ReturnTo: "/x?y=1"}
	for _, fl := range []flow{good, {V: 2}, {V: 1, State: "x"}} {
		v, err := codec.SealJSON(name, fl, time.Hour)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v)
	}
	bad := good
	bad.ReturnTo = "//evil.example"
	v, _ := codec.SealJSON(name, bad, time.Hour)
	f.Add(v)
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, value string) {
		fl, err := decodeFlow(codec, name, value)
		if err != nil {
			if fl != nil {
				t.Fatal("a flow with an error")
			}
			return
		}
		if fl.V != flowVersion || !isBase62(fl.State, stateLen) || !isBase62(fl.Nonce, nonceLen) ||
			!validVerifier(fl.Verifier) || !validName(fl.Provider) || !LocalPath(fl.ReturnTo) {
			t.Fatalf("accepted a malformed flow %+v", fl)
		}
	})
}

// FuzzSealedFlowPayload feeds arbitrary payloads through a genuine seal:
// what an attacker holding the key could not do, but what a bug in the
// encoder could.
func FuzzSealedFlowPayload(f *testing.F) {
	codec := fuzzCodec(f)
	const name = DefaultCookiePrefix + "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	good, _ := json.Marshal(flow{V: 1, State: strings.Repeat("a", stateLen), Nonce: strings.Repeat("b", nonceLen),
		Verifier: strings.Repeat("c", 43), Provider: "idp", ReturnTo: "/"})
	f.Add(good)
	f.Add([]byte(`{"v":1,"r":"/\\evil"}`))
	f.Add([]byte(`{"v":1,"v":1}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		v, err := codec.Seal(name, payload, time.Hour)
		if err != nil {
			return
		}
		fl, err := decodeFlow(codec, name, v)
		if err == nil && (!LocalPath(fl.ReturnTo) || !validName(fl.Provider) || !validVerifier(fl.Verifier)) {
			t.Fatalf("accepted %+v", fl)
		}
	})
}

// FuzzParseMetadata: an accepted document names the configured issuer, has
// absolute https (or loopback http) endpoints and a safe algorithm.
func FuzzParseMetadata(f *testing.F) {
	const iss = "https://idp.example"
	doc, _ := json.Marshal(validDoc(iss))
	f.Add(doc)
	f.Add([]byte(`{"issuer":"https://idp.example","authorization_endpoint":"http://127.0.0.1/a","token_endpoint":"https://x/t","jwks_uri":"https://x/k"}`))
	f.Add([]byte(`{"issuer":"https://idp.example","authorization_endpoint":"javascript:x","token_endpoint":"https://x/t","jwks_uri":"https://x/k"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseMetadata(body, iss, false)
		if err != nil {
			return
		}
		if m.Issuer != iss || len(m.algorithms()) == 0 {
			t.Fatalf("accepted %+v", m)
		}
		for _, e := range []string{m.AuthorizationEndpoint, m.TokenEndpoint, m.JWKSURI} {
			u, err := url.Parse(e)
			if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
				t.Fatalf("accepted endpoint %q", e)
			}
		}
		for _, a := range m.algorithms() {
			if a.Symmetric() {
				t.Fatalf("accepted algorithm %s", a)
			}
		}
	})
}

// FuzzLocalPath: an accepted path, resolved against the application's URL
// as a browser would, stays on the application's origin.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/a?b#c", "//evil", "/\\evil", "/\t/evil", "https://evil", "/%2f%2fevil", "/.//evil", "/..//evil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example/some/page")
	f.Fuzz(func(t *testing.T, s string) {
		if !LocalPath(s) {
			return
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("accepted unparsable %q", s)
		}
		r := base.ResolveReference(u)
		if r.Scheme != "https" || r.Host != "app.example" {
			t.Fatalf("%q resolves to %s", s, r)
		}
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '\\' {
				t.Fatalf("accepted byte %q in %q", s[i], s)
			}
		}
	})
}

// FuzzOpenGrant: a grant record is decrypted or refused, never panics.
func FuzzOpenGrant(f *testing.F) {
	rp := &RelyingParty{codec: fuzzCodec(f), cfg: Config{Now: time.Now}}
	env, err := rp.newEnvelope(time.Now().Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	const key = "oidc:grant:k"
	good, err := env.seal(key, &grant{V: grantVersion, Provider: "idp", IDToken: "a.b.c"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, raw []byte) {
		g, _, err := rp.openGrant(key, raw)
		if err == nil && g.V != grantVersion {
			t.Fatalf("accepted %+v", g)
		}
	})
}

// FuzzErrorText: provider error text keeps only RFC 6749 characters.
func FuzzErrorText(f *testing.F) {
	f.Add("access_denied", "<script>\"x\"</script>\r\n")
	f.Fuzz(func(t *testing.T, code, desc string) {
		e := providerError("p", code, desc)
		for _, s := range []string{e.Code, e.Description} {
			for i := 0; i < len(s); i++ {
				if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
					t.Fatalf("kept byte %q", c)
				}
			}
		}
		if len(e.Code) > maxErrorCode || len(e.Description) > maxErrorDescription || e.Code == "" {
			t.Fatalf("bad lengths %d %d", len(e.Code), len(e.Description))
		}
		if strings.ContainsAny(e.Error(), "\"\\\r\n") {
			t.Fatalf("Error() %q carries unsafe characters", e.Error())
		}
	})
}

// FuzzDecodeIDToken feeds arbitrary text to the decoder of the ID token
// kept in a session's grant record: it must never panic, and refuses with
// ErrNoTokens whatever is not two base64url JSON objects.
func FuzzDecodeIDToken(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	f.Add(enc([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + enc([]byte(`{"iss":"https://idp","sub":"u","aud":["a",1],"exp":1e300,"iat":-5,"email_verified":true}`)) + ".sig")
	f.Add("a.b.c")
	f.Add("..")
	f.Add(enc([]byte(`{}`)) + "." + enc([]byte(`null`)))
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := decodeIDToken("idp", raw)
		if err != nil {
			if !errors.Is(err, ErrNoTokens) {
				t.Fatalf("error %v does not wrap ErrNoTokens", err)
			}
			return
		}
		if tok.Provider != "idp" || tok.Claims == nil {
			t.Fatalf("decoded %+v", tok)
		}
	})
}
