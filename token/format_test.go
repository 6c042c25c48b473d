package token

import (
	"context"
	"errors"
	"hash/crc32"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/store"
)

// relabel returns t with its prefix replaced and a checksum recomputed for
// the new prefix.
func relabel(t Token, from, to string) Token {
	body := strings.TrimPrefix(string(t), from)
	body = body[:len(body)-checksumLen]
	b := []byte(to + body)
	return Token(secret.AppendUint32Base62(b, crc32.ChecksumIEEE(b)))
}

func TestTokenFormat(t *testing.T) {
	e := newMemEnv(t, Config{})
	ctx := context.Background()
	at, _, err := e.m.Issue(ctx, "alice", IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rt, _, err := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ot, err := e.m.IssueOneTime(ctx, "alice", PurposePasswordReset, OneTimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		tok    Token
		prefix string
		length int
		kind   Kind
	}{
		{"access", at, "ak_at_", 6 + 32 + 6, KindAccess},
		{"refresh", rt, "ak_rt_", 6 + 22 + 32 + 6, KindRefresh},
		{"one-time", ot, "ak_ot_", 6 + 32 + 6, KindOneTime},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := string(c.tok)
			if !strings.HasPrefix(s, c.prefix) || len(s) != c.length {
				t.Fatalf("token has prefix/length %q/%d, want %q/%d", s[:6], len(s), c.prefix, c.length)
			}
			if !secret.IsBase62(s[len(c.prefix):]) {
				t.Fatal("token body is not base62")
			}
			sum, err := secret.ParseUint32Base62(s[len(s)-6:])
			if err != nil || sum != crc32.ChecksumIEEE([]byte(s[:len(s)-6])) {
				t.Fatal("checksum is not the CRC32 of prefix and body")
			}
			if k := e.m.KindOf(c.tok); k != c.kind {
				t.Fatalf("KindOf = %v, want %v", k, c.kind)
			}
		})
	}
	if at[6:] == rt[6:6+32] {
		t.Fatal("tokens are not random")
	}
}

// malformed returns inputs that must all be refused by the format check.
func malformed(t *testing.T, m *Manager) map[string]Token {
	ctx := context.Background()
	at, _, err := m.Issue(ctx, "alice", IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := string(at)
	flip := func(i int) Token {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return Token(b)
	}
	return map[string]Token{
		"empty":              "",
		"prefix only":        "ak_at_",
		"jwt":                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln",
		"truncated":          at[:len(at)-1],
		"one extra char":     at + "A",
		"body char changed":  flip(10),
		"checksum changed":   flip(len(s) - 1),
		"non-base62 in body": Token(s[:10] + "-" + s[11:]),
		"non-ascii in body":  Token(s[:10] + "é" + s[12:]),
		"checksum overflow":  Token(s[:len(s)-6] + "zzzzzz"),
		"upper-case prefix":  Token("AK_AT_" + s[6:]),
		"refresh prefix":     Token("ak_rt_" + s[6:]),
		"one-time prefix":    Token("ak_ot_" + s[6:]), // same length: the checksum covers the prefix
		"relabelled refresh": relabel(at, "ak_at_", "ak_rt_"),
		"space padded":       " " + at,
		"huge":               Token(strings.Repeat("a", 1<<16)),
		"nul":                Token(s[:20] + "\x00" + s[21:]),
	}
}

func TestMalformedRejectedWithoutStoreCalls(t *testing.T) {
	e := newMemEnv(t, Config{})
	ctx := context.Background()
	for name, tok := range malformed(t, e.m) {
		t.Run(name, func(t *testing.T) {
			e.st.reset()
			if _, err := e.m.Verify(ctx, tok); !errors.Is(err, ErrMalformed) || !errors.Is(err, authkit.ErrInvalidCredentials) {
				t.Errorf("Verify: %v, want ErrMalformed", err)
			}
			if _, _, err := e.m.Refresh(ctx, tok, ""); !errors.Is(err, ErrMalformed) {
				t.Errorf("Refresh: %v, want ErrMalformed", err)
			}
			if _, err := e.m.RefreshPair(ctx, tok, ""); !errors.Is(err, ErrMalformed) {
				t.Errorf("RefreshPair: %v, want ErrMalformed", err)
			}
			if _, err := e.m.Consume(ctx, tok, PurposePasswordReset); !errors.Is(err, ErrMalformed) {
				t.Errorf("Consume: %v, want ErrMalformed", err)
			}
			if err := e.m.RevokeToken(ctx, tok); !errors.Is(err, ErrMalformed) {
				t.Errorf("Revoke: %v, want ErrMalformed", err)
			}
			if k := e.m.KindOf(tok); k != KindUnknown {
				t.Errorf("KindOf = %v", k)
			}
			if n := e.st.total(); n != 0 {
				t.Errorf("%d store calls for a malformed token, want 0", n)
			}
		})
	}
}

func TestAuthenticateClassifies(t *testing.T) {
	e := newMemEnv(t, Config{})
	ctx := context.Background()
	rt, _, err := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ot, err := e.m.IssueOneTime(ctx, "alice", PurposeEmailVerification, OneTimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	at, _, err := e.m.Issue(ctx, "alice", IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		header string
		want   error
		calls  int64
	}{
		{"no header", "", authkit.ErrNoCredentials, 0},
		{"basic", "Basic YTpi", authkit.ErrNoCredentials, 0},
		{"jwt", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", authkit.ErrNoCredentials, 0},
		{"other issuer", "Bearer ghp_16C7e42F292c6912E7710c838347Ae178B4a", authkit.ErrNoCredentials, 0},
		{"refresh as bearer", "Bearer " + string(rt), ErrMalformed, 0},
		{"one-time as bearer", "Bearer " + string(ot), ErrMalformed, 0},
		{"bad checksum", "Bearer " + string(at[:len(at)-1]) + "x", ErrMalformed, 0},
		{"unknown", "Bearer " + string(forge("ak_at_", strings.Repeat("A", 32))), ErrNotFound, 1},
		{"valid", "bearer " + string(at), nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			e.st.reset()
			id, err := e.m.Authenticate(r)
			if c.want == nil {
				if err != nil || id.Subject != "alice" || id.Method != "token" {
					t.Fatalf("Authenticate = %+v, %v", id, err)
				}
			} else if !errors.Is(err, c.want) {
				t.Fatalf("Authenticate error = %v, want %v", err, c.want)
			}
			if n := e.st.total(); n != c.calls {
				t.Fatalf("%d store calls, want %d", n, c.calls)
			}
		})
	}
}

func TestConfigRefused(t *testing.T) {
	cases := map[string]Config{
		"prefix without underscore": {AccessPrefix: "ak"},
		"prefix upper case":         {AccessPrefix: "AK_"},
		"prefix with dash":          {AccessPrefix: "a-k_"},
		"prefix too long":           {AccessPrefix: strings.Repeat("a", MaxPrefixLen) + "_"},
		"prefix underscores only":   {AccessPrefix: "__"},
		"same prefixes":             {AccessPrefix: "x_", RefreshPrefix: "x_"},
		"ambiguous prefixes":        {AccessPrefix: "ak_", RefreshPrefix: "ak_rt_"},
		"grace above max":           {Grace: MaxGrace + 1},
		"negative grace":            {Grace: -1},
		"negative access ttl":       {AccessLifetime: -1},
		"one-time ttl above max":    {OneTimeLifetime: MaxOneTimeLifetime + 1},
		"negative cap":              {MaxPerSubject: -1},
		"family access above max":   {MaxFamilyAccess: maxFamilyAccess + 1},
	}
	st := newMemEnv(t, Config{}).st
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("NewWithConfig accepted an invalid config")
				}
			}()
			New(st, cfg)
		})
	}
	t.Run("max grace accepted", func(t *testing.T) { New(st, Config{Grace: MaxGrace}) })
}

func TestTokenLogValueRedacts(t *testing.T) {
	tok := newToken(DefaultAccessPrefix, "")
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("issued", "token", tok)
	if strings.Contains(b.String(), string(tok[6:])) || !strings.Contains(b.String(), "ak_at_REDACTED") {
		t.Fatalf("log line %q", b.String())
	}
}

func FuzzParse(f *testing.F) {
	m := New(newCountingMemory(f), Config{})
	f.Add(string(newToken(DefaultAccessPrefix, "")))
	f.Add(string(newToken(DefaultRefreshPrefix, secret.Base62(locatorLen))))
	f.Add(string(newToken(DefaultOneTimePrefix, "")))
	f.Add("ak_at_")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("ak_at_" + strings.Repeat("z", 38))
	f.Fuzz(func(t *testing.T, s string) {
		st := m.st.(*countingStore)
		k := m.KindOf(Token(s))
		switch k {
		case KindAccess, KindOneTime:
			if len(s) != 6+secretLen+checksumLen {
				t.Fatalf("accepted %q of length %d", s, len(s))
			}
		case KindRefresh:
			if len(s) != 6+locatorLen+secretLen+checksumLen {
				t.Fatalf("accepted %q of length %d", s, len(s))
			}
		}
		if k != KindUnknown && !secret.IsBase62(s[6:]) {
			t.Fatalf("accepted non-base62 %q", s)
		}
		if k != KindAccess {
			before := st.total()
			if _, err := m.Verify(context.Background(), Token(s)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Verify(%q) = %v, want ErrMalformed", s, err)
			}
			if st.total() != before {
				t.Fatal("store touched for a token that is not an access token")
			}
		}
		if k != KindRefresh {
			if _, _, err := m.Refresh(context.Background(), Token(s), ""); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Refresh(%q) = %v, want ErrMalformed", s, err)
			}
		}
	})
}

func newCountingMemory(tb testing.TB) *countingStore {
	m := store.NewMemory(store.MemoryConfig{})
	tb.Cleanup(func() { m.Close() })
	return &countingStore{Store: m}
}

// forge returns a well-formed token: prefix + body + a valid checksum.
func forge(prefix, body string) Token {
	b := []byte(prefix + body)
	return Token(secret.AppendUint32Base62(b, crc32.ChecksumIEEE(b)))
}

func TestChecksumIsCRC32(t *testing.T) {
	for _, s := range []string{"", "a", "ak_at_" + strings.Repeat("Zz9", 20), string(newToken(DefaultRefreshPrefix, secret.Base62(locatorLen)))} {
		if got, want := checksum(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Fatalf("checksum(%q) = %08x, want %08x", s, got, want)
		}
	}
}
