package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/store"
)

func TestIssueVerify(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, Config{})
		ctx := context.Background()
		auth := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
		tok, info, err := e.m.Issue(ctx, "alice", IssueOptions{
			ClientID: "cli", Scopes: []string{"read", "write:all"}, Lifetime: 10 * time.Minute,
			Metadata: map[string]string{"name": "laptop"}, AuthTime: auth,
		})
		if err != nil {
			t.Fatal(err)
		}
		e.st.reset()
		got, err := e.m.Verify(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if n, w := e.st.gets.Load(), e.st.writes(); n != 1 || w != 0 {
			t.Fatalf("Verify made %d reads and %d writes, want 1 and 0", n, w)
		}
		if got.Subject != "alice" || got.ClientID != "cli" || !slices.Equal(got.Scopes, []string{"read", "write:all"}) ||
			got.Metadata["name"] != "laptop" || !got.AuthTime.Equal(auth) || got.ID != info.ID || got.FamilyID != "" {
			t.Fatalf("Verify = %+v", got)
		}
		if d := got.Expires.Sub(got.Created); d != 10*time.Minute {
			t.Fatalf("lifetime %v, want 10m", d)
		}
		if !validID(got.ID) || strings.Contains(string(tok), got.ID) {
			t.Fatalf("ID %q is not a hash of the token", got.ID)
		}
	})
}

func TestIssueInvalidOptions(t *testing.T) {
	e := newMemEnv(t, Config{})
	ctx := context.Background()
	bigMeta := map[string]string{}
	for i := range MaxMetadata + 1 {
		bigMeta[fmt.Sprint(i)] = "v"
	}
	cases := []struct {
		name    string
		subject string
		opts    IssueOptions
	}{
		{"empty subject", "", IssueOptions{}},
		{"long subject", strings.Repeat("a", MaxSubjectLen+1), IssueOptions{}},
		{"invalid utf-8 subject", "\xff", IssueOptions{}},
		{"scope with space", "a", IssueOptions{Scopes: []string{"read write"}}},
		{"scope with quote", "a", IssueOptions{Scopes: []string{`a"b`}}},
		{"empty scope", "a", IssueOptions{Scopes: []string{""}}},
		{"too many scopes", "a", IssueOptions{Scopes: slices.Repeat([]string{"s"}, MaxScopes+1)}},
		{"negative ttl", "a", IssueOptions{Lifetime: -time.Second}},
		{"too much metadata", "a", IssueOptions{Metadata: bigMeta}},
		{"empty metadata key", "a", IssueOptions{Metadata: map[string]string{"": "v"}}},
		{"long metadata value", "a", IssueOptions{Metadata: map[string]string{"k": strings.Repeat("v", MaxMetadataValueLen+1)}}},
		{"long client id", "a", IssueOptions{ClientID: strings.Repeat("c", MaxClientIDLen+1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.st.reset()
			if _, _, err := e.m.Issue(ctx, c.subject, c.opts); !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("Issue: %v, want ErrInvalidOptions", err)
			}
			if c.opts.Lifetime == 0 { // the other options are shared with families
				if _, _, err := e.m.IssueRefresh(ctx, c.subject, FamilyOptions{ClientID: c.opts.ClientID, Scopes: c.opts.Scopes, Metadata: c.opts.Metadata}); !errors.Is(err, ErrInvalidOptions) {
					t.Fatalf("IssueRefresh: %v, want ErrInvalidOptions", err)
				}
			}
			if n := e.st.total(); n != 0 {
				t.Fatalf("%d store calls", n)
			}
		})
	}
}

func TestVerifyExpired(t *testing.T) {
	e := newMemEnv(t, Config{AccessLifetime: time.Minute})
	ctx := context.Background()
	tok, _, err := e.m.Issue(ctx, "alice", IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(59 * time.Second)
	if _, err := e.m.Verify(ctx, tok); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	e.clock.Add(time.Second)
	if _, err := e.m.Verify(ctx, tok); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: %v, want ErrExpired or ErrNotFound", err)
	}
}

// expiryOnlyInRecord is a store that never expires anything, to check that
// records carry their own deadlines.
type expiryOnlyInRecord struct{ store.Store }

func (s expiryOnlyInRecord) Set(ctx context.Context, k string, v []byte, _ time.Time) error {
	return s.Store.Set(ctx, k, v, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
}

func (s expiryOnlyInRecord) CompareAndSwap(ctx context.Context, k string, o, n []byte, _ time.Time) (bool, error) {
	return s.Store.CompareAndSwap(ctx, k, o, n, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
}

func TestRecordsCarryDeadlines(t *testing.T) {
	c := newClock()
	mem := store.NewMemory(store.MemoryConfig{})
	defer mem.Close()
	m := New(expiryOnlyInRecord{mem}, Config{Now: c.Now, AccessLifetime: time.Minute, RefreshIdleTimeout: time.Hour})
	ctx := context.Background()
	at, _, err := m.Issue(ctx, "alice", IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rt, _, err := m.IssueRefresh(ctx, "alice", FamilyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ot, err := m.IssueOneTime(ctx, "alice", PurposePasswordReset, OneTimeOptions{Lifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Hour)
	if _, err := m.Verify(ctx, at); !errors.Is(err, ErrExpired) {
		t.Errorf("Verify: %v, want ErrExpired", err)
	}
	if _, _, err := m.Refresh(ctx, rt, ""); !errors.Is(err, ErrExpired) {
		t.Errorf("Refresh: %v, want ErrExpired", err)
	}
	if _, err := m.Consume(ctx, ot, PurposePasswordReset); !errors.Is(err, ErrExpired) {
		t.Errorf("Consume: %v, want ErrExpired", err)
	}
}

func TestLastUse(t *testing.T) {
	e := newMemEnv(t, Config{LastUseInterval: time.Minute})
	ctx := context.Background()
	tok, _, err := e.m.Issue(ctx, "alice", IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.st.reset()
	first, err := e.m.Verify(ctx, tok)
	if err != nil || !first.LastUsed.Equal(e.clock.Now()) || e.st.cas.Load() != 1 {
		t.Fatalf("first use: %+v, %v, %d writes", first.LastUsed, err, e.st.cas.Load())
	}
	e.clock.Add(30 * time.Second)
	for range 5 {
		if _, err := e.m.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.st.writes(); n != 1 {
		t.Fatalf("%d writes within the interval, want 1", n)
	}
	e.clock.Add(31 * time.Second)
	got, err := e.m.Verify(ctx, tok)
	if err != nil || !got.LastUsed.Equal(e.clock.Now()) || e.st.writes() != 2 {
		t.Fatalf("after the interval: %v, %v, %d writes", got.LastUsed, err, e.st.writes())
	}
	// A revocation between the read and the last-use write must stick.
	e.clock.Add(2 * time.Minute)
	rs := &revokeAfterGet{Store: e.mem, key: string(accessKey(tok))}
	m2 := New(rs, Config{LastUseInterval: time.Minute, Now: e.clock.Now})
	if _, err := m2.Verify(ctx, tok); err != nil {
		t.Fatalf("Verify racing a revocation: %v", err)
	}
	if _, err := e.m.Verify(ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked token came back: %v", err)
	}
}

// revokeAfterGet deletes key right after the first Get of it returns.
type revokeAfterGet struct {
	store.Store
	key  string
	done bool
}

func (s *revokeAfterGet) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Store.Get(ctx, key)
	if key == s.key && !s.done {
		s.done = true
		_ = s.Store.Delete(ctx, key)
	}
	return v, err
}

func TestRevokeAndRevokeID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, Config{})
		ctx := context.Background()
		t1, _, _ := e.m.Issue(ctx, "alice", IssueOptions{})
		t2, i2, _ := e.m.Issue(ctx, "alice", IssueOptions{})
		t3, i3, _ := e.m.Issue(ctx, "bob", IssueOptions{})
		if err := e.m.RevokeToken(ctx, t1); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Verify(ctx, t1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoked token verifies: %v", err)
		}
		if err := e.m.RevokeToken(ctx, t1); err != nil {
			t.Fatalf("second Revoke: %v", err)
		}
		// Bob's ID given with Alice's subject: refused, token intact.
		if err := e.m.RevokeID(ctx, "alice", i3.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("RevokeID of another subject's token: %v", err)
		}
		if _, err := e.m.Verify(ctx, t3); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"", "x", i2.ID + "A", "tok:" + i2.ID[4:], strings.Repeat("!", 43)} {
			if err := e.m.RevokeID(ctx, "alice", bad); !errors.Is(err, ErrNotFound) {
				t.Fatalf("RevokeID(%q): %v", bad, err)
			}
		}
		if err := e.m.RevokeID(ctx, "alice", i2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Verify(ctx, t2); !errors.Is(err, ErrNotFound) {
			t.Fatalf("token revoked by ID verifies: %v", err)
		}
		if l, err := e.m.List(ctx, "alice"); err != nil || len(l) != 0 {
			t.Fatalf("List after revocations = %v, %v", l, err)
		}
	})
}

func TestListAndCap(t *testing.T) {
	e := newMemEnv(t, Config{MaxPerSubject: 3})
	ctx := context.Background()
	var toks []Token
	for i := range 4 {
		e.clock.Add(time.Second)
		tok, _, err := e.m.Issue(ctx, "alice", IssueOptions{Metadata: map[string]string{"n": fmt.Sprint(i)}})
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	if _, err := e.m.Verify(ctx, toks[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oldest token survived the cap: %v", err)
	}
	list, err := e.m.List(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range list {
		names = append(names, in.Metadata["n"])
	}
	if !slices.Equal(names, []string{"1", "2", "3"}) {
		t.Fatalf("List = %v, want tokens 1..3 oldest first", names)
	}
	// Expired tokens leave the list and the index.
	e.clock.Add(2 * time.Hour)
	if list, _ := e.m.List(ctx, "alice"); len(list) != 0 {
		t.Fatalf("List holds %d expired tokens", len(list))
	}
}

func TestRevokeSubject(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, Config{})
		ctx := context.Background()
		at, _, _ := e.m.Issue(ctx, "alice", IssueOptions{})
		pair, err := e.m.IssuePair(ctx, "alice", FamilyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rt, _, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
		ot, _ := e.m.IssueOneTime(ctx, "alice", PurposePasswordReset, OneTimeOptions{})
		bobAT, _, _ := e.m.Issue(ctx, "bob", IssueOptions{})
		bobRT, _, _ := e.m.IssueRefresh(ctx, "bob", FamilyOptions{})

		if err := authkit.RevokeSubject(ctx, "alice", e.m); err != nil {
			t.Fatal(err)
		}
		for name, tok := range map[string]Token{"access": at, "pair access": pair.Access} {
			if _, err := e.m.Verify(ctx, tok); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s token verifies after RevokeSubject: %v", name, err)
			}
		}
		for name, tok := range map[string]Token{"pair refresh": pair.Refresh, "refresh": rt} {
			if _, _, err := e.m.Refresh(ctx, tok, ""); !errors.Is(err, ErrRevoked) {
				t.Errorf("%s token refreshes after RevokeSubject: %v", name, err)
			}
		}
		if _, err := e.m.Consume(ctx, ot, PurposePasswordReset); !errors.Is(err, ErrNotFound) {
			t.Errorf("one-time token consumed after RevokeSubject: %v", err)
		}
		if fams, err := e.m.Families(ctx, "alice"); err != nil || len(fams) != 0 {
			t.Errorf("Families after RevokeSubject = %v, %v", fams, err)
		}
		// Bob is untouched.
		if _, err := e.m.Verify(ctx, bobAT); err != nil {
			t.Errorf("bob's token: %v", err)
		}
		if _, _, err := e.m.Refresh(ctx, bobRT, ""); err != nil {
			t.Errorf("bob's refresh token: %v", err)
		}
	})
}

func TestGuard(t *testing.T) {
	e := newMemEnv(t, Config{})
	ctx := context.Background()
	tok, _, err := e.m.Issue(ctx, "alice", IssueOptions{Scopes: []string{"read"}, ClientID: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	h := authkit.Require(e.m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := authkit.IdentityFrom(r.Context())
		fmt.Fprintf(w, "%s %s %v %v", id.Subject, id.Method, id.Scopes, id.Claims["client_id"])
	}))
	cases := []struct {
		name, header string
		status       int
		body         string
	}{
		{"valid", "Bearer " + string(tok), 200, "alice token [read] cli"},
		{"malformed", "Bearer ak_at_nope", 401, ""},
		{"jwt", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln", 401, ""},
		{"none", "", 401, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.status || (c.body != "" && w.Body.String() != c.body) {
				t.Fatalf("%d %q, want %d %q", w.Code, w.Body.String(), c.status, c.body)
			}
			if c.status == 401 && c.header != "" && !strings.Contains(w.Header().Get("WWW-Authenticate"), "invalid_token") {
				t.Fatalf("WWW-Authenticate = %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// failingStore fails every call.
type failingStore struct{}

var errDown = errors.New("store down")

func (failingStore) Get(context.Context, string) ([]byte, error)          { return nil, errDown }
func (failingStore) Set(context.Context, string, []byte, time.Time) error { return errDown }
func (failingStore) Delete(context.Context, string) error                 { return errDown }
func (failingStore) CompareAndSwap(context.Context, string, []byte, []byte, time.Time) (bool, error) {
	return false, errDown
}

func TestStoreFailureIsNotBadCredentials(t *testing.T) {
	m := New(failingStore{}, Config{})
	ctx := context.Background()
	at := newToken(DefaultAccessPrefix, "")
	if _, err := m.Verify(ctx, at); !errors.Is(err, errDown) || errors.Is(err, authkit.ErrInvalidCredentials) {
		t.Fatalf("Verify: %v", err)
	}
	rt := forge(DefaultRefreshPrefix, strings.Repeat("a", locatorLen+secretLen))
	if _, _, err := m.Refresh(ctx, rt, ""); !errors.Is(err, errDown) || errors.Is(err, authkit.ErrInvalidCredentials) {
		t.Fatalf("Refresh: %v", err)
	}
	if _, _, err := m.Issue(ctx, "alice", IssueOptions{}); !errors.Is(err, errDown) {
		t.Fatalf("Issue: %v", err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+string(at))
	w := httptest.NewRecorder()
	g := &authkit.Guard{Logger: slog.New(slog.DiscardHandler)}
	g.Require(m)(http.NotFoundHandler()).ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("Guard answered %d for a store outage, want 503", w.Code)
	}
}

func TestIssueReportsLogin(t *testing.T) {
	var ev events
	e := newMemEnv(t, Config{Events: ev.fn})
	if _, _, err := e.m.Issue(context.Background(), "alice", IssueOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(ev.got) != 1 || ev.got[0].Type != authkit.EventLogin || ev.got[0].Subject != "alice" || ev.got[0].Reason != "access_token" {
		t.Fatalf("events %+v, want one login of alice", ev.got)
	}
}
