package token_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

// Issue an access token to an API client and check it on a request.
func ExampleManager_Issue() {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	tokens := token.New(st, token.Config{})
	ctx := context.Background()

	tok, _, err := tokens.Issue(ctx, "user-42", token.IssueOptions{Scopes: []string{"read"}, Lifetime: 24 * time.Hour})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(string(tok), "ak_at_"), len(tok))

	info, err := tokens.Verify(ctx, tok)
	fmt.Println(info.Subject, info.Scopes, err)

	// A damaged token is refused without a store lookup.
	_, err = tokens.Verify(ctx, tok[:len(tok)-1])
	fmt.Println(errors.Is(err, token.ErrMalformed), errors.Is(err, authkit.ErrInvalidCredentials))

	// As middleware: the Manager is an authkit.Authenticator.
	api := authkit.Require(tokens)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := authkit.IdentityFrom(r.Context())
		fmt.Println("hello", id.Subject, "via", id.Method)
	}))
	r := httptest.NewRequest("GET", "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+string(tok))
	api.ServeHTTP(httptest.NewRecorder(), r)

	// Output:
	// true 44
	// user-42 [read] <nil>
	// true true
	// hello user-42 via token
}

// Rotate a refresh token, and see reuse of a rotated-out token revoke the
// whole family.
func ExampleManager_Refresh() {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	tokens := token.New(st, token.Config{})
	ctx := context.Background()

	rt1, fam, err := tokens.IssueRefresh(ctx, "user-42", token.FamilyOptions{Scopes: []string{"read"}})
	if err != nil {
		panic(err)
	}
	// An access JWT would carry fam.ID; here we only rotate.
	rt2, fam2, err := tokens.Refresh(ctx, rt1, "")
	fmt.Println(err, fam2.ID == fam.ID, fam2.Generation, rt2 != rt1)

	// rt1 was rotated out: presenting it again means it was copied.
	_, _, err = tokens.Refresh(ctx, rt1, "")
	fmt.Println(errors.Is(err, token.ErrReused))

	// The family is revoked, so the legitimate successor is dead too.
	_, _, err = tokens.Refresh(ctx, rt2, "")
	fmt.Println(errors.Is(err, token.ErrRevoked))

	// Output:
	// <nil> true 1 true
	// true
	// true
}

// A password-reset link works once, and only for password reset.
func ExampleManager_IssueOneTime() {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	tokens := token.New(st, token.Config{})
	ctx := context.Background()

	link, err := tokens.IssueOneTime(ctx, "user-42", token.PurposePasswordReset, token.OneTimeOptions{Lifetime: 30 * time.Minute})
	if err != nil {
		panic(err)
	}

	_, err = tokens.Consume(ctx, link, token.PurposeEmailVerification)
	fmt.Println("as email verification:", errors.Is(err, token.ErrNotFound))

	ot, err := tokens.Consume(ctx, link, token.PurposePasswordReset)
	fmt.Println("as password reset:", ot.Subject, err)

	_, err = tokens.Consume(ctx, link, token.PurposePasswordReset)
	fmt.Println("again:", errors.Is(err, token.ErrNotFound))

	// Output:
	// as email verification: true
	// as password reset: user-42 <nil>
	// again: true
}

// Pair opaque access tokens with refresh tokens; a retry inside the grace
// window gets the same refresh token back.
func ExampleManager_RefreshPair() {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	tokens := token.New(st, token.Config{AccessLifetime: 15 * time.Minute, Grace: 5 * time.Second})
	ctx := context.Background()

	p1, err := tokens.IssuePair(ctx, "user-42", token.FamilyOptions{ClientID: "mobile"})
	if err != nil {
		panic(err)
	}
	p2, err := tokens.RefreshPair(ctx, p1.Refresh, "mobile")
	fmt.Println(err, p2.AccessInfo.FamilyID == p1.Family.ID)

	// The response was lost; the app retries with the same token.
	retry, err := tokens.RefreshPair(ctx, p1.Refresh, "mobile")
	fmt.Println(err, retry.Refresh == p2.Refresh)

	// Logout: revoking the refresh token ends the family and its access tokens.
	_ = tokens.RevokeToken(ctx, p2.Refresh)
	_, err = tokens.Verify(ctx, p2.Access)
	fmt.Println(errors.Is(err, token.ErrNotFound))

	// Output:
	// <nil> true
	// <nil> true
	// true
}
