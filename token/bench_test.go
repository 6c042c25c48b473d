package token

import (
	"context"
	"testing"

	"github.com/authkit/authkit/store"
)

func benchManager(b *testing.B, cfg Config) *Manager {
	st := store.NewMemory(store.MemoryConfig{})
	b.Cleanup(func() { st.Close() })
	return New(st, cfg)
}

func BenchmarkIssue(b *testing.B) {
	m := benchManager(b, Config{MaxPerSubject: 10})
	ctx := context.Background()
	opts := IssueOptions{Scopes: []string{"read", "write"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.Issue(ctx, "alice", opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	m := benchManager(b, Config{})
	ctx := context.Background()
	tok, _, err := m.Issue(ctx, "alice", IssueOptions{Scopes: []string{"read", "write"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyMalformed(b *testing.B) {
	m := benchManager(b, Config{})
	ctx := context.Background()
	tok, _, _ := m.Issue(ctx, "alice", IssueOptions{})
	bad := tok[:len(tok)-1] + "x" // checksum mismatch
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Verify(ctx, bad); err != ErrMalformed {
			b.Fatal(err)
		}
	}
}

func BenchmarkRefresh(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{{"NoGrace", Config{}}, {"Grace", Config{Grace: MaxGrace}}} {
		b.Run(bc.name, func(b *testing.B) {
			m := benchManager(b, bc.cfg)
			ctx := context.Background()
			rt, _, err := m.IssueRefresh(ctx, "alice", FamilyOptions{Scopes: []string{"read"}})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if rt, _, err = m.Refresh(ctx, rt, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRefreshPair(b *testing.B) {
	m := benchManager(b, Config{})
	ctx := context.Background()
	p, err := m.IssuePair(ctx, "alice", FamilyOptions{Scopes: []string{"read"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if p, err = m.RefreshPair(ctx, p.Refresh, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevokeSubject revokes a subject holding 10 access tokens, one
// refresh family with an access token and one one-time token.
func BenchmarkRevokeSubject(b *testing.B) {
	m := benchManager(b, Config{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for range 10 {
			if _, _, err := m.Issue(ctx, "alice", IssueOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := m.IssuePair(ctx, "alice", FamilyOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := m.IssueOneTime(ctx, "alice", PurposePasswordReset, OneTimeOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := m.RevokeSubject(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}
