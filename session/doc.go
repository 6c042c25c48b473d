// Package session provides server-side sessions for net/http: a [Manager]
// whose middleware loads and saves a session kept in a [store.Store], a typed
// data API, login with session-ID renewal, logout, idle and absolute expiry,
// remember-me, a per-user index for "log out everywhere", and a cross-origin
// (CSRF) check, all on by default.
//
//	m := session.New(st) // st: store.NewMemory(), a Redis or SQL store
//	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
//		userID := checkPassword(r) // the application's own check
//		if err := m.Login(r.Context(), userID); err != nil { … }
//	})
//	http.ListenAndServe(addr, m.Middleware(mux))
//
// # Lifecycle of a request
//
// [Manager.Middleware] reads the session ID from the cookie (default name
// "__Host-session"; see [Config.Cookie]) or, for non-browser clients, from
// [Config.Header]. It does not touch the store until the handler first uses
// the session — [Get], [Set], [Manager.Login], [Manager.Authenticate] — and
// then reads it once: SHA-256 of the ID, one store Get, a compact decode. A
// visitor who never stores anything gets no store write and no cookie.
//
// The session is saved just before the first byte of the response: on the
// handler's first WriteHeader, Write, Flush, ReadFrom or Hijack, or when it
// returns. The response body is never buffered; streaming responses and
// server-sent events work, and [http.ResponseController] reaches the
// underlying writer through Unwrap. A response that used the session gets
// "Vary: Cookie"; one that sets or clears the cookie gets
// "Cache-Control: no-store". If the save fails, the response is replaced by
// [Config.ErrorHandler] (500 by default) — the client never sees success for
// a change that was lost.
//
// Changes to an existing session's data made after the response started are
// saved when the handler returns. Changes that need a response header — a new
// session's cookie, Login, RenewID, RememberMe — fail with [ErrCommitted]
// after the response started and are logged; nothing is lost silently.
//
// # Data
//
// [Get], [Set], [Delete] and [Pop] (for flash messages) take the request
// context. Values keep their Go types without registration: strings, byte
// slices, ints, floats and bools are stored natively, anything else as JSON,
// and Get[T] decodes into T or returns an error wrapping [ErrType]. The
// encoded session is capped by [Config.MaxSize] ([ErrTooLarge]).
//
// # Concurrent requests
//
// Browsers send parallel requests with the same cookie. Each request records
// its own changes (set or delete, key by key) and, when it saves, merges them
// onto the latest stored session with CompareAndSwap, retrying a bounded
// number of times with jitter. So two requests that set different keys both
// keep their change — unlike last-write-wins session libraries, which lose
// one. Two requests that set the same key: the value of the one that saves
// last remains. A [Pop] removes its key only if it still holds the value read,
// so a newer flash survives. A save never recreates a session that was logged
// out, renewed, revoked or expired meanwhile ([ErrEnded]); its changes are
// dropped and logged, and its response leaves the cookie alone, so a request
// racing a login in the same browser cannot overwrite the new cookie.
//
// # Identity
//
// [Manager.Login] binds the session to a subject (user ID): it ends the
// current ID at once — a planted ID (session fixation) is dead — moves the
// data to a new ID, sets AuthTime, starts a new absolute lifetime and records
// the session in the subject's index. [Manager.Logout] deletes the session
// and clears the cookie. [Manager.RenewID] changes the ID on privilege
// changes. The Manager implements [authkit.Authenticator] (Method "session")
// for use with [authkit.Require], and [authkit.Revoker].
//
// # Expiry
//
// Every session has an idle timeout and an absolute lifetime, kept in its
// own record and checked on every load, so a stolen cookie cannot be kept
// alive forever (defaults: 30 minutes idle, 24 hours absolute). The idle
// deadline is extended with a store write at most once per
// [Config.IdleRefresh] of the idle timeout, not on every request.
// [Manager.RememberMe] gives a session a persistent cookie and the longer
// remember-me lifetimes (7 days idle, 30 days absolute by default).
//
// # Devices
//
// Each subject has a small index record listing its sessions, pruned of
// expired ones on every update and capped by [Config.MaxPerSubject]
// (the oldest are logged out). [Manager.Sessions] lists a user's active
// sessions with creation time, last activity, user agent and client IP;
// [Manager.RevokeID] ends one, [Manager.RevokeOthers] all but the current one,
// [Manager.RevokeSubject] all of them. [SetTag] labels a session with an
// application's identifier (for example an OpenID provider's session ID),
// shown in [Info] and kept across ID renewal, and [Manager.RevokeTagged]
// ends every session of a subject with a given tag (a back-channel logout).
//
// # CSRF
//
// Unsafe requests (POST, PUT, PATCH, DELETE) that carry the session cookie
// must pass Go's [http.CrossOriginProtection]: browsers label cross-origin
// requests with Sec-Fetch-Site or Origin, and those are refused with 403
// unless their origin is in [Config.TrustedOrigins]. A cross-origin request
// without the cookie reaches the handler but cannot create a session or log
// in ([ErrCrossOrigin]), which blocks login CSRF. Requests carrying the
// session in [Config.Header] are exempt. The check does not protect
// state-changing GET handlers: do not write them. Turning it off takes
// [Config.InsecureSkipCSRFCheck].
//
// # At rest
//
// The session ID is 32 bytes from crypto/rand. The store holds the record
// under "sess:" + base64url(SHA-256(ID)), so a dump of the store reveals no
// usable session ID; the ID and the store key are distinct Go types inside
// the package. Records start with a version byte, carry their own deadlines
// and are decoded with every length bounded. Index records live under
// "sidx:" + SHA-256 of the subject.
package session
