package jwt

import (
	"context"
	"errors"
	"testing"
)

// TestOnUnknownKID: a token signed with a key the set does not hold calls
// the hook once; when the hook adds the key and reports true, the token
// verifies on that same call; when it reports false, the token is refused.
// Tokens with a known kid never call it.
func TestOnUnknownKID(t *testing.T) {
	a, b := freshKey(t, ES256), freshKey(t, ES256)
	signer := mustKeySet(t, b)
	other := newFixture(t, signer, nil)
	tok := other.issue(t, Grant{Subject: "s"})

	ks := mustKeySet(t, a)
	f := newFixture(t, ks, nil)
	ctx := context.Background()
	calls, add := 0, false
	ks.OnUnknownKID(func(context.Context) bool {
		calls++
		if add {
			if err := ks.Add(b.Public()); err != nil {
				t.Error(err)
			}
		}
		return add
	})
	if _, err := f.ver.Verify(ctx, tok.Token); !errors.Is(err, ErrUnknownKey) || calls != 1 {
		t.Fatalf("hook reporting false: %v after %d calls", err, calls)
	}
	add = true
	if _, err := f.ver.Verify(ctx, tok.Token); err != nil || calls != 2 {
		t.Fatalf("hook adding the key: %v after %d calls", err, calls)
	}
	if _, err := f.ver.Verify(ctx, f.issue(t, Grant{Subject: "s"}).Token); err != nil || calls != 2 {
		t.Fatalf("known kid: %v after %d calls", err, calls)
	}
	ks.OnUnknownKID(nil)
	if err := ks.Retire(b.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ver.Verify(ctx, tok.Token); !errors.Is(err, ErrUnknownKey) || calls != 2 {
		t.Fatalf("hook removed: %v after %d calls", err, calls)
	}
}

// freshKey returns a new key (not the cached test key), so that
// two keys of one algorithm differ.
func freshKey(t testing.TB, alg Algorithm) *Key {
	t.Helper()
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
