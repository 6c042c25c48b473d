package token

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestOneTime(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, Config{})
		ctx := context.Background()
		tok, err := e.m.IssueOneTime(ctx, "alice", PurposePasswordReset, OneTimeOptions{Data: []byte("alice@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		// Another purpose: unknown, and the token stays usable.
		if _, err := e.m.Consume(ctx, tok, PurposeEmailVerification); !errors.Is(err, ErrNotFound) {
			t.Fatalf("consumed for another purpose: %v", err)
		}
		got, err := e.m.Consume(ctx, tok, PurposePasswordReset)
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != "alice" || got.Purpose != PurposePasswordReset || string(got.Data) != "alice@example.com" {
			t.Fatalf("Consume = %+v", got)
		}
		if _, err := e.m.Consume(ctx, tok, PurposePasswordReset); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second Consume: %v, want ErrNotFound", err)
		}
		// One-time tokens are not bearer credentials.
		if _, err := e.m.Verify(ctx, tok); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Verify of a one-time token: %v", err)
		}
	})
}

func TestOneTimeConcurrentConsume(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, Config{})
		ctx := context.Background()
		tok, err := e.m.IssueOneTime(ctx, "alice", PurposeEmailVerification, OneTimeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var wins, misses atomic.Int64
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				_, err := e.m.Consume(ctx, tok, PurposeEmailVerification)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, ErrNotFound):
					misses.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || misses.Load() != 19 {
			t.Fatalf("%d successes, %d misses; want 1 and 19", wins.Load(), misses.Load())
		}
	})
}

func TestOneTimeExpiryAndOptions(t *testing.T) {
	e := newMemEnv(t, Config{OneTimeLifetime: 10 * time.Minute})
	ctx := context.Background()
	tok, _ := e.m.IssueOneTime(ctx, "alice", PurposePasswordReset, OneTimeOptions{})
	e.clock.Add(10 * time.Minute)
	if _, err := e.m.Consume(ctx, tok, PurposePasswordReset); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrExpired) {
		t.Fatalf("expired token: %v", err)
	}
	bad := []struct {
		name, subject, purpose string
		opts                   OneTimeOptions
	}{
		{"empty purpose", "a", "", OneTimeOptions{}},
		{"purpose with space", "a", "pass reset", OneTimeOptions{}},
		{"long purpose", "a", strings.Repeat("p", MaxPurposeLen+1), OneTimeOptions{}},
		{"empty subject", "", "p", OneTimeOptions{}},
		{"too much data", "a", "p", OneTimeOptions{Data: make([]byte, MaxOneTimeData+1)}},
		{"ttl too long", "a", "p", OneTimeOptions{Lifetime: MaxOneTimeLifetime + 1}},
		{"negative ttl", "a", "p", OneTimeOptions{Lifetime: -1}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := e.m.IssueOneTime(ctx, c.subject, c.purpose, c.opts); !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("IssueOneTime: %v, want ErrInvalidOptions", err)
			}
		})
	}
	if _, err := e.m.Consume(ctx, tok, ""); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Consume with no purpose: %v", err)
	}
}

func TestRevokeOneTime(t *testing.T) {
	e := newMemEnv(t, Config{})
	ctx := context.Background()
	r1, _ := e.m.IssueOneTime(ctx, "alice", PurposePasswordReset, OneTimeOptions{})
	r2, _ := e.m.IssueOneTime(ctx, "alice", PurposePasswordReset, OneTimeOptions{})
	v, _ := e.m.IssueOneTime(ctx, "alice", PurposeEmailVerification, OneTimeOptions{})
	if _, err := e.m.Consume(ctx, r2, PurposePasswordReset); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RevokeOneTime(ctx, "alice", PurposePasswordReset); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Consume(ctx, r1, PurposePasswordReset); !errors.Is(err, ErrNotFound) {
		t.Fatalf("sibling reset token: %v", err)
	}
	if _, err := e.m.Consume(ctx, v, PurposeEmailVerification); err != nil {
		t.Fatalf("verification token of another purpose: %v", err)
	}
}
