package revmodel_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/token"
)

// app is a server with the session Middleware and one route per session
// operation; the model drives it with httptest, one request at a time per
// client.
type app struct {
	m *session.Manager
	h http.Handler
}

func newApp(m *session.Manager) *app {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, err error) {
		switch {
		case err == nil:
		case errors.Is(err, session.ErrNotFound):
			http.Error(w, err.Error(), http.StatusNotFound)
		case errors.Is(err, session.ErrEnded):
			http.Error(w, err.Error(), http.StatusGone)
		default:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		reply(w, m.Login(r.Context(), r.URL.Query().Get("u")))
	})
	mux.HandleFunc("/renew", func(w http.ResponseWriter, r *http.Request) { reply(w, m.RenewID(r.Context())) })
	mux.HandleFunc("/remember", func(w http.ResponseWriter, r *http.Request) { reply(w, m.RememberMe(r.Context(), true)) })
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) { reply(w, m.Logout(r.Context())) })
	mux.HandleFunc("/revokeothers", func(w http.ResponseWriter, r *http.Request) { reply(w, m.RevokeOthers(r.Context())) })
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		id, err := m.Authenticate(r)
		switch {
		case err == nil:
			fmt.Fprint(w, id.Subject)
		case errors.Is(err, authkit.ErrNoCredentials), errors.Is(err, authkit.ErrInvalidCredentials):
		default:
			reply(w, err)
		}
	})
	// /listed answers "yes" when the request's session is listed by Sessions,
	// and /handle with its handle.
	current := func(r *http.Request) (session.Info, error) {
		id, err := m.Authenticate(r)
		if err != nil {
			return session.Info{}, err
		}
		infos, err := m.Sessions(r.Context(), id.Subject)
		for _, in := range infos {
			if in.Current {
				return in, err
			}
		}
		return session.Info{}, err
	}
	mux.HandleFunc("/listed", func(w http.ResponseWriter, r *http.Request) {
		in, err := current(r)
		if err != nil {
			reply(w, err)
			return
		}
		if in.Handle != "" {
			fmt.Fprint(w, "yes")
		}
	})
	mux.HandleFunc("/handle", func(w http.ResponseWriter, r *http.Request) {
		in, err := current(r)
		if err != nil {
			reply(w, err)
			return
		}
		fmt.Fprint(w, in.Handle)
	})
	return &app{m: m, h: m.Middleware(mux)}
}

type result struct {
	body    string
	err     error  // an error answered by the handler or the Middleware
	cookie  string // a session cookie the response set, "" if none
	cleared bool   // the response deleted the session cookie
}

// do sends one request for op to the app with the session cookie (if any).
func (a *app) do(ctx context.Context, op, cookie, query string) result {
	r := httptest.NewRequestWithContext(ctx, "POST", "https://app.example/"+op+"?"+query, nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, r)
	res := result{body: rec.Body.String()}
	switch rec.Code {
	case http.StatusOK:
	case http.StatusNotFound:
		res.err = fmt.Errorf("%s: %w", op, session.ErrNotFound)
	case http.StatusGone:
		res.err = fmt.Errorf("%s: %w", op, session.ErrEnded)
	default:
		res.err = fmt.Errorf("%s: %d %s", op, rec.Code, rec.Body.String())
	}
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if c.Name != session.DefaultCookieName {
			continue
		}
		if c.MaxAge < 0 || c.Value == "" {
			res.cleared = true
		} else {
			res.cookie = c.Value
		}
	}
	return res
}

// client is one user agent: it holds at most one session and one refresh
// family at a time, and acts for one subject at a time.
type client struct {
	w       *world
	rng     *rand.Rand
	subject string
	sess    *cred
	refresh *cred
	access  *cred
}

type op struct {
	weight int
	run    func(ctx context.Context)
}

func (c *client) step() {
	w := c.w
	if c.subject == "" {
		c.subject = subjects[c.rng.IntN(len(subjects))]
	}
	ctx := withRNG(context.Background(), c.rng)
	time.Sleep(time.Duration(c.rng.IntN(100)) * time.Microsecond)
	ops := []op{
		{10, c.login},
		{6, c.issue},
		{6, c.issueRefresh},
		{4, c.issueJWT},
		{3, c.revokeSubject},
		{2, c.revokeID},
		{2, c.revokeFamily},
	}
	if c.sess != nil {
		ops = append(ops, op{8, c.renew}, op{4, c.remember}, op{4, c.logout}, op{3, c.revokeOthers}, op{3, c.learnHandle})
	}
	if c.refresh != nil {
		ops = append(ops, op{8, c.refreshOnce}, op{8, c.refreshPair}, op{2, c.revokeToken})
	}
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	n := c.rng.IntN(total)
	for _, o := range ops {
		if n < o.weight {
			o.run(ctx)
			break
		}
		n -= o.weight
	}
	// Now and then the client changes hands.
	if c.rng.IntN(20) == 0 {
		c.subject, c.sess, c.refresh, c.access = "", nil, nil, nil
	}
	_ = w
}

// record logs a credential handed out by a call that ran from start to end.
func (w *world) record(c *cred) *cred {
	w.mu.Lock()
	w.creds = append(w.creds, c)
	w.mu.Unlock()
	return c
}

// revoke runs a revocation and logs it.
func (w *world) revoke(r *revocation, call func() error) {
	r.start = w.tick()
	r.err = call()
	r.end = w.tick()
	if r.err != nil && (errors.Is(r.err, session.ErrNotFound) || errors.Is(r.err, session.ErrEnded) || errors.Is(r.err, token.ErrNotFound)) {
		return // nothing to revoke: not a revocation
	}
	w.mu.Lock()
	w.revokes = append(w.revokes, r)
	w.mu.Unlock()
}

// session requests: a response that sets a cookie hands a credential out,
// whatever its status.

func (c *client) sessionCall(ctx context.Context, opName, route, query string, derived bool) {
	w := c.w
	var cookie string
	if c.sess != nil {
		cookie = c.sess.value
	}
	start := w.tick()
	res := w.app.do(ctx, route, cookie, query)
	end := w.tick()
	if res.cookie != "" && res.cookie != cookie {
		nc := &cred{kind: kindSession, subject: c.subject, value: res.cookie, start: start, end: end, op: opName}
		if derived && c.sess != nil {
			nc.parent = c.sess
			nc.subject = c.sess.subject
		}
		c.sess = w.record(nc)
	} else if res.cleared {
		c.sess = nil
	}
}

func (c *client) login(ctx context.Context) {
	c.sessionCall(ctx, "Login", "login", "u="+c.subject, false)
}

func (c *client) renew(ctx context.Context) { c.sessionCall(ctx, "RenewID", "renew", "", true) }

func (c *client) remember(ctx context.Context) {
	c.sessionCall(ctx, "RememberMe", "remember", "", true)
}

func (c *client) learnHandle(ctx context.Context) {
	res := c.w.app.do(ctx, "handle", c.sess.value, "")
	if res.err == nil && res.body != "" {
		c.w.mu.Lock()
		c.sess.handle = res.body
		c.w.mu.Unlock()
	}
}

func (c *client) logout(ctx context.Context) {
	s := c.sess
	c.w.revoke(&revocation{op: "Logout", subject: s.subject, target: s}, func() error {
		res := c.w.app.do(ctx, "logout", s.value, "")
		if res.err == nil {
			c.sess = nil
		}
		return res.err
	})
}

func (c *client) revokeOthers(ctx context.Context) {
	s := c.sess
	c.w.revoke(&revocation{op: "RevokeOthers", subject: s.subject, target: s}, func() error {
		return c.w.app.do(ctx, "revokeothers", s.value, "").err
	})
}

// revokeID ends a session of the client's subject that the "devices page"
// listed, by its handle.
func (c *client) revokeID(ctx context.Context) {
	w := c.w
	w.mu.Lock()
	var known []*cred
	for _, x := range w.creds {
		if x.kind == kindSession && x.subject == c.subject && x.handle != "" {
			known = append(known, x)
		}
	}
	w.mu.Unlock()
	if len(known) == 0 {
		return
	}
	target := known[c.rng.IntN(len(known))]
	w.revoke(&revocation{op: "RevokeID", subject: c.subject, target: target}, func() error {
		return w.sessions.RevokeID(ctx, c.subject, target.handle)
	})
}

func (c *client) revokeSubject(ctx context.Context) {
	w := c.w
	w.revoke(&revocation{op: "RevokeSubject", subject: c.subject}, func() error {
		return authkit.RevokeSubject(ctx, c.subject, w.sessions, w.tokens, w.verifier)
	})
}

// tokens

func (c *client) issue(ctx context.Context) {
	w := c.w
	start := w.tick()
	tok, _, err := w.tokens.Issue(ctx, c.subject, token.IssueOptions{})
	end := w.tick()
	if err == nil {
		c.access = w.record(&cred{kind: kindAccess, subject: c.subject, value: string(tok), start: start, end: end, op: "Issue"})
	}
}

func (c *client) issueRefresh(ctx context.Context) {
	w := c.w
	start := w.tick()
	var err error
	if c.rng.IntN(2) == 0 {
		var tok token.Token
		var fam token.FamilyInfo
		tok, fam, err = w.tokens.IssueRefresh(ctx, c.subject, token.FamilyOptions{})
		end := w.tick()
		if err == nil {
			c.refresh = w.record(&cred{kind: kindRefresh, subject: c.subject, value: string(tok), start: start, end: end, op: "IssueRefresh", family: fam.ID})
		}
		return
	}
	p, err := w.tokens.IssuePair(ctx, c.subject, token.FamilyOptions{})
	end := w.tick()
	if err == nil {
		c.refresh = w.record(&cred{kind: kindRefresh, subject: c.subject, value: string(p.Refresh), start: start, end: end, op: "IssuePair", family: p.Family.ID})
		c.access = w.record(&cred{kind: kindAccess, subject: c.subject, value: string(p.Access), start: start, end: end, op: "IssuePair", family: p.Family.ID, parent: c.refresh})
	}
}

// refreshOnce rotates the client's refresh token; refreshPair also gets an
// access token. A refresh that fails is retried once with the same token:
// being told "reuse" then is a false alarm (R5).
func (c *client) refreshOnce(ctx context.Context) { c.rotate(ctx, false) }
func (c *client) refreshPair(ctx context.Context) { c.rotate(ctx, true) }

func (c *client) rotate(ctx context.Context, pair bool) {
	w := c.w
	old := c.refresh
	for attempt := range 2 {
		start := w.tick()
		var next, access token.Token
		var err error
		if pair {
			var p token.Pair
			p, err = w.tokens.RefreshPair(ctx, token.Token(old.value), "")
			next, access = p.Refresh, p.Access
		} else {
			next, _, err = w.tokens.Refresh(ctx, token.Token(old.value), "")
		}
		end := w.tick()
		if err == nil {
			w.mu.Lock()
			old.superseded = true
			w.mu.Unlock()
			nr := w.record(&cred{kind: kindRefresh, subject: old.subject, value: string(next), start: start, end: end, op: opName(pair), family: old.family, parent: old})
			c.refresh = nr
			if pair {
				c.access = w.record(&cred{kind: kindAccess, subject: old.subject, value: string(access), start: start, end: end, op: opName(pair), family: old.family, parent: nr})
			}
			return
		}
		if attempt == 1 && errors.Is(err, token.ErrReused) {
			w.mu.Lock()
			w.alarms = append(w.alarms, fmt.Sprintf("%s of %s failed, and its retry with the same refresh token was refused as reuse [%d,%d]", opName(pair), old.subject, start, end))
			w.mu.Unlock()
		}
		if !retryable(err) {
			c.refresh = nil
			return
		}
	}
}

func opName(pair bool) string {
	if pair {
		return "RefreshPair"
	}
	return "Refresh"
}

// retryable reports whether a client would retry after err: a store or
// network failure, not a refusal of the token.
func retryable(err error) bool {
	return !errors.Is(err, authkit.ErrInvalidCredentials) && !errors.Is(err, token.ErrReused) &&
		!errors.Is(err, token.ErrRevoked) && !errors.Is(err, token.ErrExpired) && !errors.Is(err, token.ErrNotFound)
}

func (c *client) revokeFamily(ctx context.Context) {
	w := c.w
	w.mu.Lock()
	var fams []string
	for _, x := range w.creds {
		if x.kind == kindRefresh && x.subject == c.subject && !slices.Contains(fams, x.family) {
			fams = append(fams, x.family)
		}
	}
	w.mu.Unlock()
	if len(fams) == 0 {
		return
	}
	fam := fams[c.rng.IntN(len(fams))]
	w.revoke(&revocation{op: "RevokeFamily", subject: c.subject, family: fam}, func() error {
		return w.tokens.RevokeFamily(ctx, c.subject, fam)
	})
}

func (c *client) revokeToken(ctx context.Context) {
	w := c.w
	target := c.refresh
	if c.access != nil && c.rng.IntN(2) == 0 {
		target = c.access
	}
	w.revoke(&revocation{op: "RevokeToken", subject: target.subject, target: target}, func() error {
		return w.tokens.RevokeToken(ctx, token.Token(target.value))
	})
	if target == c.refresh {
		c.refresh = nil
	}
}

// JWTs: unbound ones are sign-ins of their own; one bound to the client's
// refresh family (as a refresh endpoint issues them) descends from it.
func (c *client) issueJWT(ctx context.Context) {
	w := c.w
	g := jwt.Grant{Subject: c.subject}
	var parent *cred
	if c.refresh != nil && c.rng.IntN(2) == 0 {
		parent = c.refresh
		g.FamilyID = parent.family
		g.Subject = parent.subject
	}
	start := w.tick()
	iss, err := w.issuer.Issue(g)
	end := w.tick()
	if err == nil {
		w.record(&cred{kind: kindJWT, subject: g.Subject, value: iss.Token, start: start, end: end, op: "jwt.Issue", family: g.FamilyID, parent: parent})
	}
}
