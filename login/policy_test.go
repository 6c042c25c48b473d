package login_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit/login"
)

func TestPolicy(t *testing.T) {
	var p login.Policy
	tests := []struct {
		pw    string
		words []string
		rule  string // "" = accepted
	}{
		{"purple tangerine lighthouse", nil, ""},
		{"short one", nil, login.RuleTooShort},
		{strings.Repeat("éa", 8), nil, ""},                 // 16 characters, 24 bytes
		{strings.Repeat("éa", 7), nil, login.RuleTooShort}, // characters, not bytes
		{strings.Repeat("ab", 129), nil, login.RuleTooLong},
		{strings.Repeat("x", 2000), nil, login.RuleTooLong},
		{"not utf-8 \xff\xfe at all", nil, login.RuleEncoding},
		{strings.Repeat("z", 20), nil, login.RuleCommon},
		{"my name is alice-cooper!", []string{"Alice-Cooper"}, login.RuleContext},
		{"authkit demo password!", []string{"alice", "AuthKit"}, login.RuleContext},
		{"bob bob bob bob bob", []string{"bob"}, ""}, // a short word only refused as the whole password
		{"only lowercase letters here", nil, ""},     // no composition rules
	}
	for _, tc := range tests {
		err := p.Check(context.Background(), tc.pw, tc.words...)
		var pe *login.PolicyError
		switch {
		case tc.rule == "" && err != nil:
			t.Errorf("%.20q refused: %v", tc.pw, err)
		case tc.rule != "" && (!errors.As(err, &pe) || pe.Rule != tc.rule || !errors.Is(err, login.ErrPolicy)):
			t.Errorf("%.20q: got %v, want rule %s", tc.pw, err, tc.rule)
		case pe != nil && strings.Contains(err.Error(), tc.pw):
			t.Errorf("the error shows the password")
		}
	}
	if err := (login.Policy{MinLength: 8}).Check(context.Background(), "8 chars!"); err != nil {
		t.Errorf("MinLength 8: %v", err)
	}
	var pe *login.PolicyError
	if err := (login.Policy{MinLength: 8}).Check(context.Background(), "PassWord123"); !errors.As(err, &pe) || pe.Rule != login.RuleCommon {
		t.Errorf("a common password: %v", err)
	}
	if err := (login.Policy{MinLength: 8, NoCommonList: true}).Check(context.Background(), "PassWord123"); err != nil {
		t.Errorf("NoCommonList: %v", err)
	}
	if !login.IsCommon("Password123") || login.IsCommon("purple tangerine lighthouse") {
		t.Error("IsCommon")
	}
}

// rangeServer is a local stand-in for the range API: it knows a few
// breached passwords and pads every answer with zero-count entries.
type rangeServer struct {
	*httptest.Server
	requests atomic.Int64
	padded   atomic.Int64
	fail     atomic.Bool
	lastPath atomic.Value
}

func newRangeServer(t *testing.T, breached map[string]int) *rangeServer {
	rs := &rangeServer{}
	byPrefix := map[string][]string{}
	for pw, n := range breached {
		sum := sha1.Sum([]byte(pw))
		h := strings.ToUpper(hex.EncodeToString(sum[:]))
		byPrefix[h[:5]] = append(byPrefix[h[:5]], fmt.Sprintf("%s:%d", h[5:], n))
	}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.requests.Add(1)
		rs.lastPath.Store(r.URL.Path)
		if rs.fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		prefix := strings.TrimPrefix(r.URL.Path, "/range/")
		lines := append([]string(nil), byPrefix[prefix]...)
		if r.Header.Get("Add-Padding") == "true" {
			rs.padded.Add(1)
			for i := range 50 {
				lines = append(lines, fmt.Sprintf("%035X:0", i))
			}
		}
		fmt.Fprint(w, strings.Join(lines, "\r\n"))
	}))
	t.Cleanup(rs.Close)
	return rs
}

func TestRangeClient(t *testing.T) {
	rs := newRangeServer(t, map[string]int{"purple tangerine lighthouse": 5, "rarely seen password": 1})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	rc := login.NewRangeClient(login.RangeConfig{URL: rs.URL + "/range/", Now: func() time.Time { return now }})
	ctx := context.Background()
	for pw, want := range map[string]bool{"purple tangerine lighthouse": true, "rarely seen password": true, "never breached passphrase": false} {
		got, err := rc.Breached(ctx, pw)
		if err != nil || got != want {
			t.Errorf("Breached(%q) = %v, %v", pw, got, err)
		}
	}
	if p := rs.lastPath.Load().(string); len(p) != len("/range/")+5 {
		t.Fatalf("sent %q: more than the 5-digit prefix", p)
	}
	if rs.padded.Load() != rs.requests.Load() {
		t.Fatal("requests without padding")
	}
	n := rs.requests.Load()
	if _, err := rc.Breached(ctx, "purple tangerine lighthouse"); err != nil || rs.requests.Load() != n {
		t.Fatalf("cache miss: %d requests, %v", rs.requests.Load()-n, err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := rc.Breached(ctx, "purple tangerine lighthouse"); err != nil || rs.requests.Load() != n+1 {
		t.Fatal("an expired cache entry was used")
	}

	// MinCount, and a Policy refusing a breached password.
	rc2 := login.NewRangeClient(login.RangeConfig{URL: rs.URL + "/range/", MinCount: 2, CacheSize: -1})
	if got, _ := rc2.Breached(ctx, "rarely seen password"); got {
		t.Error("MinCount 2 refused a password seen once")
	}
	err := login.Policy{Breached: rc2}.Check(ctx, "purple tangerine lighthouse")
	var pe *login.PolicyError
	if !errors.As(err, &pe) || pe.Rule != login.RuleBreached {
		t.Fatalf("policy: %v", err)
	}

	// The service down: fail closed by default, open when asked.
	rs.fail.Store(true)
	if err := (login.Policy{Breached: rc2}).Check(ctx, "never breached passphrase"); !errors.Is(err, login.ErrBreachCheck) {
		t.Fatalf("fail closed: %v", err)
	}
	open := login.NewRangeClient(login.RangeConfig{URL: rs.URL + "/range/", FailOpen: true, Logger: quiet})
	if err := (login.Policy{Breached: open}).Check(ctx, "never breached passphrase"); err != nil {
		t.Fatalf("fail open: %v", err)
	}
}

func TestRangeClientBadResponses(t *testing.T) {
	for name, body := range map[string]string{
		"not hex":      strings.Repeat("G", 35) + ":1",
		"short suffix": "ABCDEF:1",
		"no count":     strings.Repeat("A", 35) + ":",
		"bad count":    strings.Repeat("A", 35) + ":1x",
		"long line":    strings.Repeat("A", 100),
		"huge":         strings.Repeat(strings.Repeat("A", 35)+":1\r\n", 40000),
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }))
			defer srv.Close()
			rc := login.NewRangeClient(login.RangeConfig{URL: srv.URL + "/", MaxResponseSize: 1 << 20})
			if _, err := rc.Breached(context.Background(), "x"); !errors.Is(err, login.ErrRangeResponse) {
				t.Fatalf("got %v", err)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Fatal("plain http to a remote host accepted")
		}
	}()
	login.NewRangeClient(login.RangeConfig{URL: "http://example.com/range/"})
}
