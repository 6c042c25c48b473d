package login

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/throttle"
	"github.com/authkit/authkit/token"
)

// Defaults of [LinkConfig].
const (
	DefaultLinkLifetime = 15 * time.Minute
	DefaultLinkPurpose  = "login_link"
	DefaultLinkCookie   = "__Host-login-link"
)

// LinkConfig configures [Links]. The zero value is valid. A LinkConfig must
// not be modified after it has been passed to [NewLinks].
type LinkConfig struct {
	// URL is the confirmation page the link opens, served by
	// [Links.Handler]; the token is added as the "token" query parameter.
	// Use an absolute https URL in production. "" means "/login/link".
	URL string
	// Lifetime is how long a link is valid. 0 means 15 minutes.
	Lifetime time.Duration
	// Purpose binds the one-time tokens to this use. "" means
	// DefaultLinkPurpose.
	Purpose string
	// SameBrowser binds a link to the browser that asked for it, with a
	// cookie set by Request: opened there, the confirmation page signs in
	// with one click; opened anywhere else — a phone, or an attacker who
	// got hold of the mail — the page says so and asks for an explicit
	// confirmation before signing in.
	SameBrowser bool
	// BrowserCookie is the template of that cookie. A zero Template means
	// cookie.New(DefaultLinkCookie); its MaxAge is set to Lifetime.
	BrowserCookie cookie.Template
	// PerAddress limits the links sent to one address. Zero means 3 per 15
	// minutes.
	PerAddress throttle.Rate
	// PerClient limits the links one client address may request. Zero
	// means 20 per 15 minutes.
	PerClient throttle.Rate
	// Normalize maps an address as typed to the form the Directory looks
	// up. nil means [NormalizeAddress].
	Normalize func(string) (string, error)
	// Throttle counts the requests. nil means throttle.New(st,
	// throttle.Config{}) on the store given to NewLinks.
	Throttle *throttle.Throttle
	// CrossOrigin refuses cross-origin requests. nil means
	// http.NewCrossOriginProtection().
	CrossOrigin *http.CrossOriginProtection
	// TrustedProxies: see authkit.ClientIP.
	TrustedProxies []netip.Prefix
	// Page renders the confirmation page. nil means a minimal built-in
	// page.
	Page func(w http.ResponseWriter, r *http.Request, p LinkPage)
	// Prefix namespaces the store keys of browser bindings. "" means "lnk:".
	Prefix string
	// Events receives EventLogin and EventLoginFailed.
	Events authkit.EventFunc
	// Logger receives delivery failures. nil means slog.Default().
	Logger *slog.Logger
	// Now returns the current time. nil means time.Now.
	Now func() time.Time
}

// LinkPage is what the confirmation page shows.
type LinkPage struct {
	// Token goes back in the form's hidden "token" field. It is a secret:
	// render it only into that field.
	Token string
	// OtherBrowser: the link was requested in another browser. Show a
	// warning and a "confirm" checkbox (value "other-browser").
	OtherBrowser bool
	// Invalid: the link is unknown, used or expired (after a POST).
	Invalid bool
}

// Links signs users in with one-time links sent to their email address. It
// is safe for concurrent use. Make one with [NewLinks].
type Links struct {
	st       store.Store
	tokens   *token.Manager
	mail     Mailer
	base     string
	lifetime time.Duration
	purpose  string
	same     bool
	tmpl     cookie.Template
	perAddr  throttle.Rate
	perIP    throttle.Rate
	norm     func(string) (string, error)
	th       *throttle.Throttle
	cop      *http.CrossOriginProtection
	trusted  []netip.Prefix
	page     func(http.ResponseWriter, *http.Request, LinkPage)
	prefix   string
	em       emitter
}

// NewLinks returns Links issuing one-time tokens with tokens and delivering
// through mail; st holds the throttle and browser bindings. It panics on an
// invalid configuration.
func NewLinks(st store.Store, tokens *token.Manager, mail Mailer, cfg LinkConfig) *Links {
	if st == nil || tokens == nil || mail == nil {
		panic("login: NewLinks needs a store, a token Manager and a Mailer")
	}
	l := &Links{st: st, tokens: tokens, mail: mail, base: cfg.URL, lifetime: cfg.Lifetime, purpose: cfg.Purpose,
		same: cfg.SameBrowser, tmpl: cfg.BrowserCookie, perAddr: cfg.PerAddress, perIP: cfg.PerClient, norm: cfg.Normalize,
		th: cfg.Throttle, cop: cfg.CrossOrigin, trusted: cfg.TrustedProxies, page: cfg.Page, prefix: cfg.Prefix}
	if l.base == "" {
		l.base = "/login/link"
	}
	if _, err := url.Parse(l.base); err != nil {
		panic("login: LinkConfig.URL: " + err.Error())
	}
	if l.lifetime == 0 {
		l.lifetime = DefaultLinkLifetime
	}
	if l.lifetime < 0 || l.lifetime > token.MaxOneTimeLifetime {
		panic("login: LinkConfig.Lifetime out of range")
	}
	if l.purpose == "" {
		l.purpose = DefaultLinkPurpose
	}
	if l.tmpl.Name == "" {
		l.tmpl = cookie.New(DefaultLinkCookie)
	}
	l.tmpl.MaxAge = l.lifetime
	if err := l.tmpl.Validate(); err != nil {
		panic("login: BrowserCookie: " + err.Error())
	}
	if l.perAddr == (throttle.Rate{}) {
		l.perAddr = throttle.Rate{Limit: 3, Per: 15 * time.Minute}
	}
	if l.perIP == (throttle.Rate{}) {
		l.perIP = throttle.Rate{Limit: 20, Per: 15 * time.Minute}
	}
	if l.norm == nil {
		l.norm = NormalizeAddress
	}
	if l.th == nil {
		l.th = throttle.New(st, throttle.Config{Now: cfg.Now})
	}
	if l.cop == nil {
		l.cop = http.NewCrossOriginProtection()
	}
	if l.page == nil {
		l.page = defaultLinkPage
	}
	if l.prefix == "" {
		l.prefix = "lnk:"
	}
	l.em = newEmitter(cfg.Events, cfg.Logger, cfg.Now, MethodLink)
	return l
}

// Request sends a login link to address when it belongs to an account, and
// does nothing more when it does not: the response (nil, and with
// SameBrowser the same cookie) is the same either way. Requests are
// throttled per address and per client address (a *[throttle.LimitedError]),
// for unknown addresses alike. A delivery failure is logged, not returned,
// since returning it would tell the address has an account.
func (l *Links) Request(w http.ResponseWriter, r *http.Request, address string) error {
	ctx := r.Context()
	if l.cop.Check(r) != nil {
		return ErrCrossOrigin
	}
	norm, nerr := l.norm(address)
	key := norm
	if nerr != nil {
		key = address
	}
	if err := l.th.Take(ctx, "link-address", key, l.perAddr); err != nil {
		return err
	}
	if err := l.th.Take(ctx, "link-client", throttle.Bucket(authkit.ClientIP(r, l.trusted)), l.perIP); err != nil {
		return err
	}
	var nonce string
	if l.same {
		nonce = secret.Base62(27)
		if err := l.tmpl.Set(w, nonce); err != nil {
			return fmt.Errorf("login: setting the browser cookie: %w", err)
		}
	}
	if nerr != nil {
		return nil
	}
	subject, err := l.mail.LookupAddress(ctx, norm)
	if errors.Is(err, ErrUnknownUser) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("login: looking up the address: %w", err)
	}
	tok, err := l.tokens.IssueOneTime(ctx, subject, l.purpose, token.OneTimeOptions{Lifetime: l.lifetime})
	if err != nil {
		return fmt.Errorf("login: issuing the link: %w", err)
	}
	expires := l.em.now().Add(l.lifetime)
	if l.same {
		sum := sha256.Sum256([]byte(nonce))
		if err := l.st.Set(ctx, l.bindingKey(tok), sum[:], expires); err != nil {
			return fmt.Errorf("login: storing the browser binding: %w", err)
		}
	}
	link := l.base + "?token=" + url.QueryEscape(string(tok))
	if err := l.mail.Send(ctx, Message{Kind: KindLink, To: norm, Subject: subject, Link: link, Expires: expires}); err != nil {
		l.em.log.ErrorContext(ctx, "login: sending a login link", "subject", subject, "err", err)
	}
	return nil
}

func (l *Links) bindingKey(tok token.Token) string {
	return l.prefix + "b:" + keyhash.Key("", string(tok))
}

// sameBrowser reports whether r carries the cookie the link's request set.
// A link without a binding (none was made, or it expired with the link)
// counts as the same browser: Consume decides.
func (l *Links) sameBrowser(r *http.Request, tok token.Token) (bool, error) {
	if !l.same {
		return true, nil
	}
	want, err := l.st.Get(r.Context(), l.bindingKey(tok))
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("login: reading the browser binding: %w", err)
	}
	v, err := l.tmpl.Read(r)
	if err != nil || v == "" {
		return false, nil
	}
	got := sha256.Sum256([]byte(v))
	return subtle.ConstantTimeCompare(got[:], want) == 1, nil
}

// Confirm consumes the link submitted by the confirmation page's POST (form
// field "token") and returns the signed-in subject. A GET never consumes a
// link, so a mail scanner that fetches it leaves it valid. It returns
// [ErrCrossOrigin] for a cross-origin post, [ErrConfirm] when the link is
// bound to another browser and the form lacks confirm=other-browser, and
// [ErrInvalidLink] for an unknown, used, expired or malformed link.
func (l *Links) Confirm(w http.ResponseWriter, r *http.Request) (Result, error) {
	ctx := r.Context()
	ip := addrString(authkit.ClientIP(r, l.trusted))
	if r.Method != http.MethodPost {
		return Result{}, fmt.Errorf("login: Confirm needs a POST, not %s", r.Method)
	}
	if l.cop.Check(r) != nil {
		l.em.emit(ctx, authkit.EventLoginFailed, "", authkit.ReasonCrossOrigin, ip)
		return Result{}, ErrCrossOrigin
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	tok := token.Token(r.PostFormValue("token"))
	same, err := l.sameBrowser(r, tok)
	if err != nil {
		return Result{}, err
	}
	if !same && r.PostFormValue("confirm") != "other-browser" {
		return Result{}, ErrConfirm
	}
	ot, err := l.tokens.Consume(ctx, tok, l.purpose)
	if err != nil {
		if errors.Is(err, authkit.ErrInvalidCredentials) {
			reason := authkit.ReasonUnknown
			if errors.Is(err, token.ErrExpired) {
				reason = authkit.ReasonExpired
			} else if errors.Is(err, token.ErrMalformed) {
				reason = authkit.ReasonMalformed
			}
			l.em.emit(ctx, authkit.EventLoginFailed, "", reason, ip)
			return Result{}, ErrInvalidLink
		}
		return Result{}, fmt.Errorf("login: consuming the link: %w", err)
	}
	if l.same {
		if err := l.st.Delete(ctx, l.bindingKey(tok)); err != nil {
			l.em.log.WarnContext(ctx, "login: deleting a browser binding", "err", err)
		}
		if same {
			_ = l.tmpl.Delete(w)
		}
	}
	l.em.emit(ctx, authkit.EventLogin, ot.Subject, "", ip)
	return Result{Subject: ot.Subject, Method: MethodLink}, nil
}

// Handler serves the page a link opens: GET shows a confirmation page and
// changes nothing; POST consumes the link ([Links.Confirm]) and, on
// success, calls done — which signs the subject in (session Login) and
// redirects. Failures are answered here: 403 for a cross-origin post, the
// page again for ErrConfirm and ErrInvalidLink, 503 for an outage.
func (l *Links) Handler(done func(w http.ResponseWriter, r *http.Request, res Result)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer") // the token is in the URL
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			tok := token.Token(r.URL.Query().Get("token"))
			same, err := l.sameBrowser(r, tok)
			if err != nil {
				http.Error(w, "Service unavailable", http.StatusServiceUnavailable)
				return
			}
			l.page(w, r, LinkPage{Token: string(tok), OtherBrowser: !same})
		case http.MethodPost:
			res, err := l.Confirm(w, r)
			switch {
			case err == nil:
				done(w, r, res)
			case errors.Is(err, ErrCrossOrigin):
				http.Error(w, "Forbidden", http.StatusForbidden)
			case errors.Is(err, ErrConfirm):
				l.page(w, r, LinkPage{Token: r.PostFormValue("token"), OtherBrowser: true})
			case errors.Is(err, ErrInvalidLink):
				// 400, sent once the page has set its headers.
				l.page(&statusWriter{ResponseWriter: w, status: http.StatusBadRequest}, r, LinkPage{Invalid: true})
			default:
				l.em.log.ErrorContext(r.Context(), "login: confirming a link", "err", err)
				w.Header().Set("Retry-After", "5")
				http.Error(w, "Service unavailable", http.StatusServiceUnavailable)
			}
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

var linkPage = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in</title></head><body>
{{if .Invalid}}<h1>This link is invalid or has expired</h1><p>Ask for a new one.</p>
{{else}}<h1>Sign in</h1>
<form method="post">
<input type="hidden" name="token" value="{{.Token}}">
{{if .OtherBrowser}}<p><strong>This link was requested in another browser.</strong>
Continue only if you asked for it yourself.</p>
<p><label><input type="checkbox" name="confirm" value="other-browser" required> I asked for this link</label></p>{{end}}
<button type="submit">Sign in</button>
</form>{{end}}
</body></html>
`))

func defaultLinkPage(w http.ResponseWriter, r *http.Request, p LinkPage) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	_ = linkPage.Execute(w, p)
}

// statusWriter answers with status unless the handler chose its own, at the
// first byte or WriteHeader — after the handler set its headers, which a
// WriteHeader before the handler ran would have dropped.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.WriteHeader(w.status)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
