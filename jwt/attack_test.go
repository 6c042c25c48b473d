package jwt

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit"
)

// attackKeys is the key set of the attack table: an HS256 signing key and
// verify-only RS256 and ES256 keys.
type attackKeys struct {
	hs, rs, es, evil *Key
}

func newAttackKeys(t *testing.T) attackKeys {
	evil, err := GenerateKey(RS256) // the attacker's own key
	if err != nil {
		t.Fatal(err)
	}
	return attackKeys{hs: testKey(t, HS256), rs: testKey(t, RS256), es: testKey(t, ES256), evil: evil}
}

func (k attackKeys) set(t *testing.T) *KeySet {
	return mustKeySet(t, k.hs, k.rs.Public(), k.es.Public())
}

// claimsJSON returns a valid claims set at t0, changed by mod (a nil value
// deletes a claim).
func claimsJSON(mod map[string]any) string {
	m := map[string]any{
		"iss": testIssuer,
		"sub": "user-1",
		"aud": testAudience,
		"iat": t0.Unix(),
		"exp": t0.Add(10 * time.Minute).Unix(),
		"jti": "jti-1",
	}
	for k, v := range mod {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func hdr(alg, kid string) string {
	return `{"alg":"` + alg + `","kid":"` + kid + `","typ":"at+jwt"}`
}

func TestAttackTable(t *testing.T) {
	keys := newAttackKeys(t)
	hsSign := withKey(t, keys.hs)
	rsSign := withKey(t, keys.rs)
	valid := func(mod map[string]any) string { return forge(hdr("HS256", keys.hs.ID()), claimsJSON(mod), hsSign) }

	// The trap: any request to it fails the test.
	var trapHits atomic.Int32
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trapHits.Add(1)
		t.Errorf("outbound request to %s: a header URL was fetched", r.URL)
	}))
	defer trap.Close()

	rsaPub, err := x509.MarshalPKIXPublicKey(keys.rs.public)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPub})
	evilJWK, _ := json.Marshal(keys.evil.PublicJWK())

	other := valid(map[string]any{"sub": "user-2"})
	good := valid(nil)
	parts := strings.Split(good, ".")

	type row struct {
		name  string
		token func(f *fixture) string
		setup func(t *testing.T, f *fixture) // before the token is verified
		cfg   func(*Config)
		want  error
	}
	rows := []row{
		// alg none and friends
		{name: "alg none", want: ErrAlgorithm, token: func(*fixture) string { return forge(hdr("none", keys.hs.ID()), claimsJSON(nil), nil) }},
		{name: "alg None", want: ErrAlgorithm, token: func(*fixture) string { return forge(hdr("None", keys.hs.ID()), claimsJSON(nil), nil) }},
		{name: "alg NONE", want: ErrAlgorithm, token: func(*fixture) string { return forge(hdr("NONE", keys.hs.ID()), claimsJSON(nil), nil) }},
		{name: "alg none without kid", want: ErrUnknownKey, token: func(*fixture) string { return forge(`{"alg":"none"}`, claimsJSON(nil), nil) }},
		{name: "alg none with garbage signature", want: ErrAlgorithm, token: func(*fixture) string {
			return forge(hdr("none", keys.hs.ID()), claimsJSON(nil), func([]byte) []byte { return []byte("garbage") })
		}},
		// key confusion
		{name: "HS256 keyed with the RSA public key PEM", want: ErrAlgorithm, token: func(*fixture) string { return forge(hdr("HS256", keys.rs.ID()), claimsJSON(nil), hs256(rsaPEM)) }},
		{name: "HS256 keyed with the RSA public key DER", want: ErrAlgorithm, token: func(*fixture) string { return forge(hdr("HS256", keys.rs.ID()), claimsJSON(nil), hs256(rsaPub)) }},
		{name: "missing alg with a valid RS256 signature", want: ErrAlgorithm, token: func(*fixture) string {
			return forge(`{"kid":"`+keys.rs.ID()+`","typ":"at+jwt"}`, claimsJSON(nil), rsSign)
		}},
		{name: "alg null", want: ErrAlgorithm, token: func(*fixture) string {
			return forge(`{"alg":null,"kid":"`+keys.rs.ID()+`","typ":"at+jwt"}`, claimsJSON(nil), rsSign)
		}},
		{name: "alg RS512 on an RS256 key", want: ErrAlgorithm, token: func(*fixture) string { return forge(hdr("RS512", keys.rs.ID()), claimsJSON(nil), rsSign) }},
		{name: "alg PS256 on an RS256 key", want: ErrAlgorithm, token: func(*fixture) string { return forge(hdr("PS256", keys.rs.ID()), claimsJSON(nil), rsSign) }},
		{name: "alg ES256 on an RS256 key", want: ErrAlgorithm, token: func(*fixture) string { return forge(hdr("ES256", keys.rs.ID()), claimsJSON(nil), rsSign) }},
		{name: "alg hs256 in lower case", want: ErrAlgorithm, token: func(*fixture) string { return forge(hdr("hs256", keys.hs.ID()), claimsJSON(nil), hsSign) }},
		// kid
		{name: "missing kid with several keys", want: ErrUnknownKey, token: func(*fixture) string { return forge(`{"alg":"HS256","typ":"at+jwt"}`, claimsJSON(nil), hsSign) }},
		{name: "unknown kid", want: ErrUnknownKey, token: func(*fixture) string { return forge(hdr("HS256", "no-such-key"), claimsJSON(nil), hsSign) }},
		{name: "kid path traversal", want: ErrUnknownKey, token: func(*fixture) string { return forge(hdr("HS256", "../../etc/passwd"), claimsJSON(nil), hsSign) }},
		{name: "kid SQL injection", want: ErrUnknownKey, token: func(*fixture) string { return forge(hdr("HS256", "' OR 1=1--"), claimsJSON(nil), hsSign) }},
		{name: "kid 10 KB under the default size cap", want: ErrTooLarge, token: func(*fixture) string {
			return forge(hdr("HS256", strings.Repeat("k", 10<<10)), claimsJSON(nil), hsSign)
		}},
		{name: "kid 10 KB under a 64 KiB cap", want: ErrUnknownKey, cfg: func(c *Config) { c.MaxTokenSize = MaxMaxTokenSize },
			token: func(*fixture) string {
				return forge(hdr("HS256", strings.Repeat("k", 10<<10)), claimsJSON(nil), hsSign)
			}},
		{name: "kid not a string", want: ErrMalformed, token: func(*fixture) string { return forge(`{"alg":"HS256","kid":7,"typ":"at+jwt"}`, claimsJSON(nil), hsSign) }},
		// embedded keys and URLs are ignored and never fetched
		{name: "embedded jwk, jku and x5u with our kid", want: ErrSignature, token: func(*fixture) string {
			h := `{"alg":"RS256","kid":"` + keys.rs.ID() + `","typ":"at+jwt","jwk":` + string(evilJWK) + `,"jku":"` + trap.URL + `/jwks","x5u":"` + trap.URL + `/cert"}`
			return forge(h, claimsJSON(nil), withKey(t, keys.evil))
		}},
		{name: "embedded jwk, jku and x5u with the attacker's kid", want: ErrUnknownKey, token: func(*fixture) string {
			h := `{"alg":"RS256","kid":"` + keys.evil.ID() + `","typ":"at+jwt","jwk":` + string(evilJWK) + `,"jku":"` + trap.URL + `/jwks","x5u":"` + trap.URL + `/cert"}`
			return forge(h, claimsJSON(nil), withKey(t, keys.evil))
		}},
		// exp
		{name: "exp missing", want: ErrInvalidClaims, token: func(*fixture) string { return valid(map[string]any{"exp": nil}) }},
		{name: "exp 0", want: ErrMalformed, token: func(*fixture) string { return valid(map[string]any{"exp": 0}) }},
		{name: "exp negative", want: ErrMalformed, token: func(*fixture) string { return valid(map[string]any{"exp": -1}) }},
		{name: "exp in the past", want: ErrExpired, token: func(*fixture) string {
			return valid(map[string]any{"iat": t0.Add(-time.Hour).Unix(), "exp": t0.Add(-time.Second).Unix()})
		}},
		{name: "exp exactly now", want: ErrExpired, token: func(*fixture) string {
			return valid(map[string]any{"iat": t0.Add(-time.Hour).Unix(), "exp": t0.Unix()})
		}},
		{name: "exp past the leeway", want: ErrExpired, cfg: func(c *Config) { c.Leeway = 30 * time.Second },
			token: func(*fixture) string {
				return valid(map[string]any{"iat": t0.Add(-time.Hour).Unix(), "exp": t0.Add(-31 * time.Second).Unix()})
			}},
		{name: "exp as a string", want: ErrMalformed, token: func(*fixture) string { return valid(map[string]any{"exp": "1800000600"}) }},
		{name: "exp 1e300", want: ErrMalformed, token: func(*fixture) string { return valid(map[string]any{"exp": json.Number("1e300")}) }},
		{name: "exp after year 9999", want: ErrMalformed, token: func(*fixture) string { return valid(map[string]any{"exp": json.Number("253402300800")}) }},
		{name: "exp null", want: ErrMalformed, token: func(*fixture) string { return valid(map[string]any{"exp": json.RawMessage("null")}) }},
		{name: "exp true", want: ErrMalformed, token: func(*fixture) string { return valid(map[string]any{"exp": true}) }},
		// nbf, iat
		{name: "nbf in the future", want: ErrNotYetValid, token: func(*fixture) string { return valid(map[string]any{"nbf": t0.Add(time.Minute).Unix()}) }},
		{name: "iat in the future", want: ErrNotYetValid, token: func(*fixture) string {
			return valid(map[string]any{"iat": t0.Add(time.Minute).Unix(), "exp": t0.Add(5 * time.Minute).Unix()})
		}},
		{name: "iat missing", want: ErrInvalidClaims, token: func(*fixture) string { return valid(map[string]any{"iat": nil}) }},
		{name: "auth_time in the future", want: ErrNotYetValid, token: func(*fixture) string { return valid(map[string]any{"auth_time": t0.Add(time.Minute).Unix()}) }},
		// iss, aud, sub, typ, lifetime
		{name: "iss wrong", want: ErrInvalidClaims, token: func(*fixture) string { return valid(map[string]any{"iss": "https://evil.example"}) }},
		{name: "iss missing", want: ErrInvalidClaims, token: func(*fixture) string { return valid(map[string]any{"iss": nil}) }},
		{name: "iss in another case", want: ErrInvalidClaims, token: func(*fixture) string { return valid(map[string]any{"iss": strings.ToUpper(testIssuer)}) }},
		{name: "aud wrong", want: ErrInvalidClaims, token: func(*fixture) string { return valid(map[string]any{"aud": "https://other.example"}) }},
		{name: "aud missing", want: ErrInvalidClaims, token: func(*fixture) string { return valid(map[string]any{"aud": nil}) }},
		{name: "aud array without ours", want: ErrInvalidClaims, token: func(*fixture) string { return valid(map[string]any{"aud": []string{"a", "b"}}) }},
		{name: "aud array with a number", want: ErrMalformed, token: func(*fixture) string { return valid(map[string]any{"aud": []any{testAudience, 1}}) }},
		{name: "sub missing", want: ErrInvalidClaims, token: func(*fixture) string { return valid(map[string]any{"sub": nil}) }},
		{name: "sub empty", want: ErrInvalidClaims, token: func(*fixture) string { return valid(map[string]any{"sub": ""}) }},
		{name: "typ JWT", want: ErrInvalidClaims, token: func(*fixture) string {
			return forge(`{"alg":"HS256","kid":"`+keys.hs.ID()+`","typ":"JWT"}`, claimsJSON(nil), hsSign)
		}},
		{name: "typ missing", want: ErrInvalidClaims, token: func(*fixture) string {
			return forge(`{"alg":"HS256","kid":"`+keys.hs.ID()+`"}`, claimsJSON(nil), hsSign)
		}},
		{name: "typ of an ID token", want: ErrInvalidClaims, token: func(*fixture) string {
			return forge(`{"alg":"HS256","kid":"`+keys.hs.ID()+`","typ":"id_token+jwt"}`, claimsJSON(nil), hsSign)
		}},
		{name: "exp - iat over the maximum lifetime", want: ErrInvalidClaims, token: func(*fixture) string {
			return valid(map[string]any{"iat": t0.Add(-time.Hour).Unix(), "exp": t0.Add(24 * time.Hour).Unix()})
		}},
		{name: "exp before iat", want: ErrInvalidClaims, token: func(*fixture) string {
			return valid(map[string]any{"iat": t0.Unix(), "exp": t0.Add(-time.Second).Unix()})
		}, cfg: func(c *Config) { c.Leeway = time.Minute }},
		// tampering
		{name: "tampered payload", want: ErrSignature, token: func(*fixture) string {
			return parts[0] + "." + b64.EncodeToString([]byte(claimsJSON(map[string]any{"sub": "admin"}))) + "." + parts[2]
		}},
		{name: "signature from another token", want: ErrSignature, token: func(*fixture) string {
			return parts[0] + "." + parts[1] + "." + strings.Split(other, ".")[2]
		}},
		{name: "header changed after signing", want: ErrSignature, token: func(*fixture) string {
			return b64.EncodeToString([]byte(`{"alg":"HS256","kid":"`+keys.hs.ID()+`","typ":"at+jwt","x":1}`)) + "." + parts[1] + "." + parts[2]
		}},
		// shape
		{name: "truncated signature", want: ErrSignature, token: func(*fixture) string {
			sig, _ := b64.DecodeString(parts[2])
			return parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig[:30])
		}},
		{name: "truncated signature, impossible length", want: ErrMalformed, token: func(*fixture) string { return good[:len(good)-2] }},
		{name: "empty signature", want: ErrSignature, token: func(*fixture) string { return parts[0] + "." + parts[1] + "." }},
		{name: "signature stripped to two segments", want: ErrMalformed, token: func(*fixture) string { return parts[0] + "." + parts[1] }},
		{name: "four segments", want: ErrMalformed, token: func(*fixture) string { return good + "." + parts[2] }},
		{name: "10,000 dots", want: ErrTooLarge, token: func(*fixture) string { return strings.Repeat(".", 10000) }},
		{name: "10,000 dots under a 64 KiB cap", want: ErrMalformed, cfg: func(c *Config) { c.MaxTokenSize = MaxMaxTokenSize },
			token: func(*fixture) string { return parts[0] + strings.Repeat(".", 10000) }},
		{name: "dots after a valid token", want: ErrMalformed, token: func(*fixture) string { return good + strings.Repeat(".", 1000) }},
		{name: "empty", want: ErrMalformed, token: func(*fixture) string { return "" }},
		{name: "white space", want: ErrMalformed, token: func(*fixture) string { return "   " }},
		{name: "empty header", want: ErrMalformed, token: func(*fixture) string { return "." + parts[1] + "." + parts[2] }},
		{name: "1 MiB token", want: ErrTooLarge, token: func(*fixture) string {
			return forge(hdr("HS256", keys.hs.ID()), claimsJSON(map[string]any{"pad": strings.Repeat("x", 1<<20)}), hsSign)
		}},
		{name: "padded signature", want: ErrMalformed, token: func(*fixture) string { return good + "=" }},
		{name: "padded payload", want: ErrMalformed, token: func(*fixture) string {
			p := base64.URLEncoding.EncodeToString([]byte(claimsJSON(nil) + " "))
			if !strings.HasSuffix(p, "=") {
				t.Fatal("test payload needs padding")
			}
			in := parts[0] + "." + p
			return in + "." + b64.EncodeToString(hsSign([]byte(in)))
		}},
		{name: "standard alphabet (+ and /)", want: ErrMalformed, token: func(*fixture) string {
			// A payload whose encoding needs '+' or '/' in the standard alphabet.
			for i := 0; ; i++ {
				p := base64.RawStdEncoding.EncodeToString([]byte(claimsJSON(map[string]any{"n": i, "x": "~~~???>>>"})))
				if strings.ContainsAny(p, "+/") {
					in := parts[0] + "." + p
					return in + "." + b64.EncodeToString(hsSign([]byte(in)))
				}
			}
		}},
		{name: "non-zero trailing bits in the signature", want: ErrMalformed, token: func(*fixture) string {
			// 32 bytes encode as 43 characters; the last carries 2 unused bits.
			s := []byte(parts[2])
			last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[len(s)-1])
			s[len(s)-1] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1]
			return parts[0] + "." + parts[1] + "." + string(s)
		}},
		{name: "line break inside a segment", want: ErrMalformed, token: func(*fixture) string { return parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2] }},
		{name: "JSON serialization", want: ErrMalformed, token: func(*fixture) string {
			return `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`
		}},
		{name: "flattened JSON serialization", want: ErrMalformed, token: func(*fixture) string {
			return `{"payload":"` + parts[1] + `","signatures":[{"protected":"` + parts[0] + `","signature":"` + parts[2] + `"}]}`
		}},
		// header extensions
		{name: "unknown crit", want: ErrUnsupported, token: func(*fixture) string {
			return forge(`{"alg":"HS256","kid":"`+keys.hs.ID()+`","typ":"at+jwt","crit":["x"],"x":1}`, claimsJSON(nil), hsSign)
		}},
		{name: "empty crit", want: ErrUnsupported, token: func(*fixture) string {
			return forge(`{"alg":"HS256","kid":"`+keys.hs.ID()+`","typ":"at+jwt","crit":[]}`, claimsJSON(nil), hsSign)
		}},
		{name: "b64 false", want: ErrUnsupported, token: func(*fixture) string {
			return forge(`{"alg":"HS256","kid":"`+keys.hs.ID()+`","typ":"at+jwt","b64":false}`, claimsJSON(nil), hsSign)
		}},
		{name: "nested JWT (cty)", want: ErrUnsupported, token: func(*fixture) string {
			return forge(`{"alg":"HS256","kid":"`+keys.hs.ID()+`","typ":"at+jwt","cty":"JWT"}`, claimsJSON(nil), hsSign)
		}},
		// strict JSON
		{name: "duplicate sub", want: ErrMalformed, token: func(*fixture) string {
			c := claimsJSON(map[string]any{"sub": "user-1"})
			return forge(hdr("HS256", keys.hs.ID()), c[:len(c)-1]+`,"sub":"admin"}`, hsSign)
		}},
		{name: "duplicate sub in another case", want: ErrMalformed, token: func(*fixture) string {
			c := claimsJSON(nil)
			return forge(hdr("HS256", keys.hs.ID()), c[:len(c)-1]+`,"SUB":"admin"}`, hsSign)
		}},
		{name: "duplicate sub escaped", want: ErrMalformed, token: func(*fixture) string {
			c := claimsJSON(nil)
			return forge(hdr("HS256", keys.hs.ID()), c[:len(c)-1]+`,"s\u0075b":"admin"}`, hsSign)
		}},
		{name: "duplicate custom claim", want: ErrMalformed, token: func(*fixture) string {
			c := claimsJSON(nil)
			return forge(hdr("HS256", keys.hs.ID()), c[:len(c)-1]+`,"role":"user","Role":"admin"}`, hsSign)
		}},
		{name: "duplicate key in a nested object", want: ErrMalformed, token: func(*fixture) string {
			c := claimsJSON(nil)
			return forge(hdr("HS256", keys.hs.ID()), c[:len(c)-1]+`,"x":{"a":1,"a":2}}`, hsSign)
		}},
		{name: "duplicate alg", want: ErrMalformed, token: func(*fixture) string {
			return forge(`{"alg":"none","alg":"HS256","kid":"`+keys.hs.ID()+`","typ":"at+jwt"}`, claimsJSON(nil), hsSign)
		}},
		{name: "invalid UTF-8 in claims", want: ErrMalformed, token: func(*fixture) string {
			c := claimsJSON(nil)
			return forge(hdr("HS256", keys.hs.ID()), c[:len(c)-1]+`,"x":"`+"\xff"+`"}`, hsSign)
		}},
		{name: "lone surrogate", want: ErrMalformed, token: func(*fixture) string {
			c := claimsJSON(nil)
			return forge(hdr("HS256", keys.hs.ID()), c[:len(c)-1]+`,"x":"\ud800"}`, hsSign)
		}},
		{name: "trailing data after claims", want: ErrMalformed, token: func(*fixture) string { return forge(hdr("HS256", keys.hs.ID()), claimsJSON(nil)+"{}", hsSign) }},
		{name: "claims not an object", want: ErrMalformed, token: func(*fixture) string { return forge(hdr("HS256", keys.hs.ID()), `["sub"]`, hsSign) }},
		{name: "deep nesting", want: ErrMalformed, token: func(*fixture) string {
			c := claimsJSON(nil)
			return forge(hdr("HS256", keys.hs.ID()), c[:len(c)-1]+`,"x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`, hsSign)
		}},
		// revocation
		{name: "revoked jti", want: ErrRevoked, token: func(*fixture) string { return good },
			setup: func(t *testing.T, f *fixture) {
				if err := f.ver.RevokeJTI(context.Background(), "user-1", "jti-1", t0.Add(10*time.Minute)); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "JWT from a revoked family", want: ErrRevoked, token: func(*fixture) string { return valid(map[string]any{"fid": "fam-1", "jti": "jti-9"}) },
			setup: func(t *testing.T, f *fixture) {
				if err := f.ver.RevokeFamily(context.Background(), "user-1", "fam-1"); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "issued before the subject's watermark", want: ErrRevoked, token: func(*fixture) string { return good },
			setup: func(t *testing.T, f *fixture) {
				f.clk.Add(time.Minute)
				if err := f.ver.RevokeSubject(context.Background(), "user-1"); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "issued in the same second as the watermark (whole-second iat)", want: ErrRevoked, token: func(*fixture) string { return good },
			setup: func(t *testing.T, f *fixture) {
				f.clk.Add(999 * time.Millisecond)
				if err := f.ver.RevokeSubject(context.Background(), "user-1"); err != nil {
					t.Fatal(err)
				}
			}},
		// retired keys
		{name: "signed by a retired key", want: ErrUnknownKey, token: func(*fixture) string { return forge(hdr("RS256", keys.rs.ID()), claimsJSON(nil), rsSign) },
			setup: func(t *testing.T, f *fixture) {
				if err := f.keys.Retire(keys.rs.ID()); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "signed by a retired key, cached before retirement", want: ErrUnknownKey, token: func(*fixture) string { return forge(hdr("RS256", keys.rs.ID()), claimsJSON(nil), rsSign) },
			setup: func(t *testing.T, f *fixture) {
				tok := forge(hdr("RS256", keys.rs.ID()), claimsJSON(nil), rsSign)
				if _, err := f.ver.Verify(context.Background(), tok); err != nil {
					t.Fatalf("before retirement: %v", err)
				}
				if f.ver.cache.get(tok) == nil {
					t.Fatal("token not cached")
				}
				if err := f.keys.Retire(keys.rs.ID()); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			f := newFixture(t, keys.set(t), r.cfg)
			tok := r.token(f)
			if r.setup != nil {
				r.setup(t, f)
			}
			for i := range 2 { // twice: a refusal must not be cached
				c, err := f.ver.Verify(context.Background(), tok)
				if err == nil {
					t.Fatalf("accepted (call %d): %+v", i+1, c)
				}
				if !errors.Is(err, r.want) {
					t.Fatalf("error %q does not match %q", err, r.want)
				}
				if !errors.Is(err, authkit.ErrInvalidCredentials) {
					t.Fatalf("error %q does not match authkit.ErrInvalidCredentials", err)
				}
			}
			// Through Authenticate: invalid credentials, or no credentials for
			// a token that is not JWT-shaped.
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			_, err := f.ver.Authenticate(req)
			if err == nil {
				t.Fatal("Authenticate accepted")
			}
			if !errors.Is(err, authkit.ErrInvalidCredentials) && !errors.Is(err, authkit.ErrNoCredentials) && !errors.Is(err, authkit.ErrInvalidRequest) {
				t.Fatalf("Authenticate: %v", err)
			}
		})
	}
	if n := trapHits.Load(); n != 0 {
		t.Fatalf("%d outbound requests", n)
	}
	// The good token itself passes, so every row fails for its own reason.
	f := newFixture(t, keys.set(t), nil)
	if _, err := f.ver.Verify(context.Background(), good); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
}

func TestAttackTableAccepted(t *testing.T) {
	keys := newAttackKeys(t)
	t.Run("lower-case bearer scheme through Require", func(t *testing.T) {
		f := newFixture(t, keys.set(t), nil)
		tok := f.issue(t, Grant{Subject: "alice", Scopes: []string{"read"}}).Token
		var got *authkit.Identity
		h := authkit.Require(f.ver)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = authkit.IdentityFrom(r.Context())
		}))
		for _, scheme := range []string{"bearer", "BEARER", "Bearer"} {
			got = nil
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Authorization", scheme+" "+tok)
			h.ServeHTTP(rec, req)
			if rec.Code != 200 || got == nil || got.Subject != "alice" || got.Method != "jwt" || !got.HasScope("read") {
				t.Fatalf("%s: status %d, identity %+v", scheme, rec.Code, got)
			}
		}
	})
	t.Run("a key rotated in", func(t *testing.T) {
		f := newFixture(t, keys.set(t), nil)
		old := f.issue(t, Grant{}).Token
		next := testKey(t, HS512)
		if err := f.keys.Rotate(next); err != nil {
			t.Fatal(err)
		}
		is := f.issue(t, Grant{})
		if is.KeyID != next.ID() {
			t.Fatalf("signed with %q, want the rotated-in key", is.KeyID)
		}
		for _, tok := range []string{old, is.Token} {
			if _, err := f.ver.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("aud array containing ours", func(t *testing.T) {
		f := newFixture(t, keys.set(t), nil)
		tok := forge(hdr("HS256", keys.hs.ID()), claimsJSON(map[string]any{"aud": []string{"https://other.example", testAudience}}), withKey(t, keys.hs))
		c, err := f.ver.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Audience) != 2 || c.Audience[1] != testAudience {
			t.Fatalf("audience %q", c.Audience)
		}
	})
}
