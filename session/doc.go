// Package session provides server-side sessions for net/http: a [Manager]
// whose middleware loads and saves a session kept in a [store.Store], a typed
// data API, login with session-ID renewal, logout, idle and absolute expiry,
// remember-me, a per-user index for "log out everywhere", and a cross-origin
// (CSRF) check, all on by default.
//
//	m := session.New(st, session.Config{}) // st: store.NewMemory(), a Redis or SQL store
//	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
//		userID := checkPassword(r) // the application's own check
//		if err := m.Login(r.Context(), userID); err != nil { … }
//	})
//	http.ListenAndServe(addr, m.Middleware(mux))
//
// # Lifecycle of a request
//
// [Manager.Middleware] reads the session ID from the cookie (default name
// "__Host-session"; see [Config.Cookie] and "Cookies" below) or, for
// non-browser clients, from [Config.Header]. It does not touch the store
// until the handler first uses the session — [Get], [Set], [Manager.Login],
// [Manager.Authenticate] — and then reads it once: SHA-256 of the ID, one
// store Get, a compact decode. A visitor who never stores anything gets no
// store write and no cookie.
//
// The session is saved just before the first byte of the response: on the
// handler's first WriteHeader, Write, Flush, ReadFrom or Hijack, or when it
// returns. The response body is never buffered; streaming responses and
// server-sent events work, and [http.ResponseController] reaches the
// underlying writer through Unwrap. A response that used the session gets
// "Vary: Cookie" and "Cache-Control: private" (a handler's own private or
// no-store is kept, a public replaced), so a shared cache that ignores
// Vary never serves one user's page to another; one that sets or clears
// the cookie gets "Cache-Control: no-store". If the save fails, the
// response is replaced by [Config.ErrorHandler] (500 by default), without
// any of the handler's headers — the client never sees success for a
// change that was lost.
//
// Changes to an existing session's data made after the response started are
// saved when the handler returns. Changes that need a response header — a new
// session's cookie, Login, RenewID, RememberMe — fail with [ErrCommitted]
// after the response started and are logged; nothing is lost silently.
//
// Security events ([Config.Events]) are sent once the request's session is
// released, so an EventFunc may use it — for example [Get] of a tenant to
// add to an audit record.
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
// the session in the subject's index. [Manager.Logout] ends the session and
// clears the cookie. [Manager.RenewID] changes the ID on privilege
// changes. The Manager implements [authkit.Authenticator] (Method "session")
// for use with [authkit.Require], and [authkit.Revoker].
//
// # Expiry
//
// Every session has an idle timeout and an absolute lifetime, kept in its
// own record and checked on every load, so a stolen cookie cannot be kept
// alive forever (defaults: 30 minutes idle, 24 hours absolute). The idle
// deadline is extended with a store write at most once per
// [Config.IdleRefresh] of the idle timeout (at most half of it), not on
// every request.
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
// # Revocation
//
// The subject's index is the ordering point of every session issued and
// every revocation. Login and RenewID add the new ID to the index first,
// then create its record only if the key is absent; whatever extends a
// session's deadline (the idle extension, [Manager.RememberMe], RenewID)
// extends its index entry first, and only while the entry is live. A
// revocation ([Manager.RevokeSubject], [Manager.RevokeOthers],
// [Manager.RevokeID], [Manager.RevokeTagged], the cap) marks its members
// ending in one swap of the index, writes a small revoked marker under each
// member's key until the member's expiry — replacing a live record, or
// making a creation that has not happened yet fail — and then removes the
// members. After creation a record is only ever written by a
// compare-and-swap from the value just read, which fails on a marker.
// [Manager.Logout] deletes its own record with such a swap. On every server
// sharing the store:
//
//   - R1 durable: when a revocation or Logout returns nil, every session it
//     covers is refused from then on, until and after its natural expiry.
//   - R2 races: a Login, RenewID or RememberMe overlapping RevokeSubject of
//     the same subject either fails and hands nothing out, or ends with its
//     session refused once RevokeSubject has returned — except a Login
//     whose index entry was added after the revocation swapped the index,
//     which is a login after the revocation. A RenewID is never that
//     exception: it renews only a session still live in the index. A Logout
//     racing a RenewID or Login of the same session in a parallel request
//     (another tab) ends the new ID too: for a minute the old ID's key names
//     its successor.
//   - R3 retry: a revocation that returned an error leaves the members it
//     could not end in the index, marked ending (and still listed); calling
//     it again — or any later update of the subject's index, such as the
//     next Login — ends them. No index forgets a session whose record may
//     still be valid. A cap eviction that fails is logged and retried the
//     same way; it does not fail the Login that caused it.
//   - R4 listed: every session that authenticates is listed by
//     [Manager.Sessions], including one whose revocation is unfinished.
//   - R5 does not apply: a session has no refresh step a client retries.
//
// Authenticate stays one store read: a marker reads as a revoked session.
// The costs: a revocation writes one marker per session (a one-byte value,
// kept until the session would have expired) besides two index updates; RevokeID swaps the index where it used to read it; a
// remember-me session's index entry lasts until its absolute deadline, and
// counts toward the cap until then; RememberMe on a logged-in session
// updates the index (one read and one swap) before its record. Login and
// RenewID no longer re-read the index after creating the record. Left out:
// a Logout that loaded its session more than a minute before a parallel
// renewal of it reached the store does not end the renewed session.
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
//
// # Cookies
//
// The default cookie name starts with "__Host-": browsers accept it only
// with Secure, Path=/ and no Domain, so a sibling subdomain cannot plant
// ("toss") a session cookie for the host. With another name it can; a
// request that carries the session cookie twice is anonymous, and the
// Manager deletes nothing, since a deletion could only remove the host's
// own cookie and leave the planted one.
//
// Chrome, Edge and Firefox store Secure cookies set over http://localhost
// and http://127.0.0.1, so local development works with the defaults.
// Safari does not, nor does any browser on iOS (they all use WebKit). To
// develop with Safari, serve HTTPS locally (a development certificate;
// [net/http/httptest.NewTLSServer] in tests), or, on a loopback address
// only, use a [Config.Cookie] with another name, Secure off and
// InsecureAllowHTTP set.
package session
