package login_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/store"
)

// exampleUsers is a one-user directory.
type exampleUsers struct{ encoded string }

func (u *exampleUsers) LookupPassword(_ context.Context, name string) (string, string, error) {
	if name != "alice" {
		return "", "", login.ErrUnknownUser
	}
	return "user-1", u.encoded, nil
}

func (u *exampleUsers) UpdatePasswordHash(_ context.Context, _, encoded string) error {
	u.encoded = encoded
	return nil
}

// Sign in with a user name and password.
func ExamplePassword_SignIn() {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	h := hash.New(hash.Config{})
	enc, _ := h.Hash(context.Background(), "purple tangerine lighthouse")
	p := login.NewPassword(st, &exampleUsers{encoded: enc}, login.PasswordConfig{Hasher: h})

	for _, pw := range []string{"wrong guess", "purple tangerine lighthouse"} {
		r := httptest.NewRequest("POST", "/login", nil)
		w := httptest.NewRecorder()
		res, err := p.SignIn(w, r, "Alice", pw)
		switch {
		case err == nil:
			fmt.Println("signed in:", res.Subject) // sessions.Login(ctx, res.Subject)
		case errors.Is(err, login.ErrInvalidCredentials):
			fmt.Println(http.StatusUnauthorized, err)
		case login.SetRetryAfter(w.Header(), err):
			fmt.Println(http.StatusTooManyRequests)
		default:
			fmt.Println(http.StatusServiceUnavailable)
		}
	}
	// Output:
	// 401 login: invalid user name or password
	// signed in: user-1
}

// Check a new password against the policy.
func ExamplePolicy_Check() {
	var p login.Policy // NIST SP 800-63B-4 defaults: 15 to 256 characters
	for _, pw := range []string{"Password123!", "zzzzzzzzzzzzzzzzzzzz", "purple tangerine lighthouse"} {
		var pe *login.PolicyError
		if err := p.Check(context.Background(), pw, "alice"); errors.As(err, &pe) {
			fmt.Println(pe.Rule+":", pe.Message)
			continue
		}
		fmt.Println("accepted")
	}
	// Output:
	// too_short: a password has at least 15 characters
	// common: the password repeats one character
	// accepted
}
