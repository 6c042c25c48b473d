package oidc

import (
	"errors"
	"io"
	"net/http"

	"github.com/authkit/authkit/session"
)

// Handler serves the sign-in routes, relative to where it is mounted:
//
//	GET  /{provider}/login?return_to=/path   redirect to the provider (Login)
//	GET  /{provider}/callback                complete the sign-in (Callback), then redirect to the return-to path
//	POST /{provider}/backchannel-logout      back-channel logout (BackChannelLogout)
//	POST /logout                             end the session (Logout), then redirect to the provider's end-session endpoint or "/"
//
// Mount it behind the session Middleware, under the prefix of the
// providers' RedirectURL:
//
//	mux.Handle("/auth/", http.StripPrefix("/auth", sessions.Middleware(rp.Handler())))
//
// The Middleware refuses cross-origin POSTs carrying the session cookie, so
// another site cannot sign users out; the provider's back-channel request
// carries no cookie and is not affected. Failures are answered by
// Config.ErrorHandler.
func (rp *RelyingParty) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{provider}/login", func(w http.ResponseWriter, r *http.Request) {
		if err := rp.Login(w, r, r.PathValue("provider"), r.URL.Query().Get("return_to")); err != nil {
			rp.fail(w, r, err)
		}
	})
	mux.HandleFunc("GET /{provider}/callback", func(w http.ResponseWriter, r *http.Request) {
		res, err := rp.Callback(w, r, r.PathValue("provider"))
		if err != nil {
			rp.fail(w, r, err)
			return
		}
		w.Header().Set("Location", res.ReturnTo)
		w.WriteHeader(http.StatusSeeOther)
	})
	mux.HandleFunc("POST /{provider}/backchannel-logout", func(w http.ResponseWriter, r *http.Request) {
		_ = rp.BackChannelLogout(w, r, r.PathValue("provider"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		to, err := rp.Logout(r.Context())
		if err != nil {
			rp.fail(w, r, err)
			return
		}
		if to == "" {
			to = "/"
		}
		w.Header().Set("Location", to)
		w.WriteHeader(http.StatusSeeOther)
	})
	return mux
}

func (rp *RelyingParty) fail(w http.ResponseWriter, r *http.Request, err error) {
	if rp.cfg.ErrorHandler != nil {
		rp.cfg.ErrorHandler(w, r, err)
		return
	}
	ErrorPage(w, r, err)
}

// ErrorPage answers a failed sign-in with a plain-text page: 404 for an
// unknown provider, 403 when the provider or the user refused, 400 for a
// bad request or a refused response, 503 when the provider or the store
// could not be reached. The body says what went wrong in general terms
// and repeats nothing from the request or the provider.
func ErrorPage(w http.ResponseWriter, _ *http.Request, err error) {
	status, msg := http.StatusBadRequest, "Sign-in failed. Please try again."
	var pe *ProviderError
	isProvider := errors.As(err, &pe)
	switch {
	case errors.Is(err, ErrUnknownProvider):
		status, msg = http.StatusNotFound, "Unknown sign-in provider."
	case isProvider && pe.AccessDenied():
		status, msg = http.StatusForbidden, "Sign-in was cancelled or refused by the identity provider."
	case errors.Is(err, ErrReturnTo):
		msg = "The return address must be a page of this site."
	case errors.Is(err, ErrState), errors.Is(err, ErrReplay):
		msg = "This sign-in link has expired or was already used. Please sign in again."
	case errors.Is(err, ErrDiscovery), errors.Is(err, ErrExchange) && !isProvider:
		status, msg = http.StatusServiceUnavailable, "The identity provider cannot be reached. Please try again later."
	case errors.Is(err, session.ErrCrossOrigin):
		status, msg = http.StatusForbidden, "Cross-origin request refused."
	case errors.Is(err, ErrIssuer), errors.Is(err, ErrExchange), errors.Is(err, ErrIDToken), isProvider:
		// A refused response: 400 with the general message.
	default:
		status, msg = http.StatusServiceUnavailable, "Sign-in is unavailable right now. Please try again later."
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}
