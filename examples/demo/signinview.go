package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/throttle"
)

// The sign-in section of the page: the throttle's state for one account
// name as seen from this browser, whether a code is awaited, and the outbox.
// Building it only reads: a GET of the page changes nothing in the store.

type signinView struct {
	Domain      string
	Throttle    *throttleView // nil: no account name to show
	CodePending bool          // this browser holds a code challenge
	Outbox      []outboxItem
}

type throttleView struct {
	Account     string
	Addr        string // the client address as the throttle counts it
	KnownDevice bool
	UnderAttack bool
	Wait        string // until the next attempt is allowed; "" for now
	Counters    []counterView
	Err         string
}

type counterView struct {
	Scope    string
	What     string
	Failures int
	Free     int
	Wait     string
}

type outboxItem struct {
	Kind     string
	To       string
	Link     string // the whole link (the href)
	LinkText string // shortened, for display
	Code     string
	Expires  time.Time
}

// signinView builds the section for r. The throttle state shown is that of
// the ?as= account name (a valid user name, set by the section's forms),
// else that of the signed-in subject.
func (s *server) signinView(r *http.Request, subject string) *signinView {
	v := &signinView{Domain: mailDomain}
	name := subject
	if n, err := normalizeUsername(r.URL.Query().Get("as")); err == nil {
		name = n
	}
	if name != "" {
		v.Throttle = s.throttleView(r, name)
	}
	if id, err := s.codeCookie.Read(r); err == nil && id != "" {
		v.CodePending = true
	}
	for _, m := range s.outbox.list() {
		it := outboxItem{Kind: m.Kind, To: m.To, Link: m.Link, Code: m.Code, Expires: m.Expires}
		if m.Kind == login.KindLink {
			base, tok, _ := strings.Cut(m.Link, "token=")
			it.LinkText = base + "token=" + abbrev(tok)
		}
		v.Outbox = append(v.Outbox, it)
	}
	return v
}

func (s *server) throttleView(r *http.Request, name string) *throttleView {
	a := s.password.Attempt(r, name)
	tv := &throttleView{Account: a.Account, Addr: throttle.Bucket(a.Addr), KnownDevice: a.Device != ""}
	st, err := s.password.Throttle().Status(r.Context(), a)
	if err != nil {
		s.log.Warn("throttle status", "err", err)
		tv.Err = "the store is unavailable"
		return tv
	}
	tv.UnderAttack, tv.Wait = st.UnderAttack, waitString(st.RetryAfter)
	for _, c := range st.Counters {
		what := map[throttle.Scope]string{
			throttle.ScopeAccount: "attempts on " + tv.Account + " from any address",
			throttle.ScopeAddress: "attempts from " + tv.Addr + " on any account",
			throttle.ScopePair:    "attempts on " + tv.Account + " from " + tv.Addr,
			throttle.ScopeDevice:  "attempts on " + tv.Account + " from this browser",
		}[c.Scope]
		tv.Counters = append(tv.Counters, counterView{Scope: string(c.Scope), What: what, Failures: c.Failures, Free: c.Free, Wait: waitString(c.RetryAfter)})
	}
	return tv
}

// waitString shows a wait in whole seconds, rounded up ("1m30s"); "" for
// none.
func waitString(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return (time.Duration(seconds(d)) * time.Second).String()
}

type counterJSON struct {
	Scope      string `json:"scope"`
	Failures   int    `json:"failures"`
	Free       int    `json:"free"`
	RetryAfter int    `json:"retry_after"`
}

// GET /api/signin/throttle?username= → the password throttle's counters for
// that account name from this client, as a sign-in would be checked
// against them. It counts nothing.
func (s *server) apiThrottle(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("username")
	if name == "" || len(name) > 4*maxUsernameLen {
		writeError(w, http.StatusBadRequest, "invalid_request", "username is required")
		return
	}
	a := s.password.Attempt(r, name)
	st, err := s.password.Throttle().Status(r.Context(), a)
	if err != nil {
		s.internalError(w, "throttle status", err)
		return
	}
	out := make([]counterJSON, 0, len(st.Counters))
	for _, c := range st.Counters {
		out = append(out, counterJSON{string(c.Scope), c.Failures, c.Free, seconds(c.RetryAfter)})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"account":      a.Account,
		"client":       throttle.Bucket(a.Addr),
		"known_device": a.Device != "",
		"under_attack": st.UnderAttack,
		"retry_after":  seconds(st.RetryAfter),
		"counters":     out,
	})
}

// seconds rounds a wait up to whole seconds, as Retry-After does.
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}
