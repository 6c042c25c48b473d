package oidc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"

	"github.com/authkit/authkit/oidc"
	"github.com/authkit/authkit/oidc/oidctest"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// A complete sign-in against the in-process stand-in provider: the
// application redirects to the provider, the user signs in there, and the
// callback logs the session in.
func Example() {
	// The application's address is needed to register it with the
	// provider, so take it before starting the application.
	app := httptest.NewUnstartedServer(nil)
	appURL := "http://" + app.Listener.Addr().String()

	idp := oidctest.NewServer(oidctest.Config{
		Clients: []oidctest.Client{{ID: "app", Secret: "app-secret", RedirectURIs: []string{appURL + "/auth/corp/callback"}}},
		Users:   []oidctest.User{{Subject: "248289761001", Username: "jane", Password: "pw", Email: "jane@corp.example"}},
	})
	defer idp.Close()

	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	sessions := session.New(st, session.Config{})
	rp := oidc.New(sessions, st, oidc.Config{
		Providers: []oidc.Provider{{
			Name:         "corp",
			Issuer:       idp.Issuer(),
			ClientID:     "app",
			ClientSecret: "app-secret",
			RedirectURL:  appURL + "/auth/corp/callback",
		}},
		// Map the provider's account to the application's user.
		Subject: func(_ context.Context, t *oidc.IDToken) (string, error) {
			if t.Subject == "248289761001" {
				return "user-1", nil
			}
			return "", errors.New("unknown account")
		},
	})
	defer rp.Close()

	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", rp.Handler()))
	mux.HandleFunc("GET /inbox", func(w http.ResponseWriter, r *http.Request) {
		id, err := sessions.Authenticate(r)
		if err != nil {
			http.Error(w, "please sign in", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "inbox of %s", id.Subject)
	})
	app.Config.Handler = sessions.Middleware(mux)
	app.Start()
	defer app.Close()

	// The browser.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(appURL + "/auth/corp/login?return_to=/inbox")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	// At the provider: the login page, then back to the callback.
	callback, err := idp.Login(context.Background(), browser, resp.Header.Get("Location"), "jane", "pw")
	if err != nil {
		log.Fatal(err)
	}
	resp, err = browser.Get(callback)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Location"))

	resp, err = browser.Get(appURL + "/inbox")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output:
	// 303 /inbox
	// inbox of user-1
}

// Applications with their own routes call Login and Callback themselves.
// The handlers must run behind the session Middleware.
func ExampleRelyingParty_Callback() {
	var rp *oidc.RelyingParty // from oidc.New
	http.HandleFunc("GET /sso/start", func(w http.ResponseWriter, r *http.Request) {
		if err := rp.Login(w, r, "corp", r.URL.Query().Get("next")); err != nil {
			oidc.ErrorPage(w, r, err)
		}
	})
	http.HandleFunc("GET /sso/callback", func(w http.ResponseWriter, r *http.Request) {
		res, err := rp.Callback(w, r, "corp")
		var pe *oidc.ProviderError
		switch {
		case errors.As(err, &pe) && pe.AccessDenied():
			http.Redirect(w, r, "/login?cancelled=1", http.StatusSeeOther)
		case err != nil:
			oidc.ErrorPage(w, r, err)
		default:
			http.Redirect(w, r, res.ReturnTo, http.StatusSeeOther)
		}
	})
}
