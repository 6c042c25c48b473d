package token

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/authkit/authkit/internal/faultstore"
	"github.com/authkit/authkit/store"
)

// roundTrips counts the store calls each operation makes, from a
// faultstore's call log, and prints them with -v.
func roundTrips(t *testing.T) map[string]string {
	mem := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { mem.Close() })
	fs := faultstore.New(mem)
	m := New(fs, Config{})
	ctx := context.Background()
	out := map[string]string{}
	count := func(name string, f func() error) {
		t.Helper()
		before := len(fs.Calls())
		if err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		calls := fs.Calls()[before:]
		var ops []string
		for _, c := range calls {
			ops = append(ops, fmt.Sprintf("%s %s", c.Op, c.Key[:strings.IndexByte(c.Key, ':')+1]))
		}
		out[name] = fmt.Sprintf("%d: %s", len(calls), strings.Join(ops, ", "))
		t.Logf("%-26s %s", name, out[name])
	}
	var tok Token
	count("Issue", func() (err error) { tok, _, err = m.Issue(ctx, "alice", IssueOptions{}); return err })
	count("Verify", func() error { _, err := m.Verify(ctx, tok); return err })
	var rt Token
	count("IssueRefresh", func() (err error) { rt, _, err = m.IssueRefresh(ctx, "alice", FamilyOptions{}); return err })
	count("Refresh", func() (err error) { rt, _, err = m.Refresh(ctx, rt, ""); return err })
	var p Pair
	count("IssuePair", func() (err error) { p, err = m.IssuePair(ctx, "alice", FamilyOptions{}); return err })
	count("RefreshPair", func() (err error) { p, err = m.RefreshPair(ctx, p.Refresh, ""); return err })
	count("IssueOneTime", func() error {
		_, err := m.IssueOneTime(ctx, "alice", PurposePasswordReset, OneTimeOptions{})
		return err
	})
	count("RevokeToken(access)", func() error { return m.RevokeToken(ctx, tok) })
	for range 7 {
		if _, _, err := m.Issue(ctx, "alice", IssueOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// alice now holds 7 access tokens, 2 families (one with 2 access
	// tokens) and 1 one-time token.
	count("RevokeSubject(7+2f+1)", func() error { return m.RevokeSubject(ctx, "alice") })
	count("RevokeSubject(empty)", func() error { return m.RevokeSubject(ctx, "alice") })
	return out
}

func TestRoundTrips(t *testing.T) {
	got := roundTrips(t)
	if p := os.Getenv("AUTHKIT_TOKEN_ROUNDTRIPS"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, k := range []string{"Issue", "Verify", "IssueRefresh", "Refresh", "IssuePair", "RefreshPair", "IssueOneTime", "RevokeToken(access)", "RevokeSubject(7+2f+1)", "RevokeSubject(empty)"} {
			fmt.Fprintf(f, "%-24s %s\n", k, got[k])
		}
	}
}
