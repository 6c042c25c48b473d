// Package authkit proves who sent an HTTP request, with cookies, server-side
// sessions, opaque tokens and JWTs that are safe by default and fit one
// middleware shape.
//
// This root package holds what the mechanisms share: [Identity], the
// [Authenticator] and [Revoker] contracts, and [Guard], the middleware that
// runs a chain of Authenticators and answers failures as RFC 6750 says. The
// mechanisms live in small subpackages:
//
//   - cookie: secure-by-default cookies, and a Codec that signs or seals
//     values with rotating keys.
//   - session: server-side sessions — the ID in a cookie, the data in a
//     store — with login, logout, ID renewal, timeouts and "log out
//     everywhere".
//   - token: opaque access tokens, refresh tokens with rotation and reuse
//     detection, and one-time tokens for password reset and email links.
//   - jwt: strict JWT issuing and verification, key rotation, JWKS,
//     revocation.
//   - hash: password hashing (argon2id by default) that upgrades old hashes
//     on login.
//   - store: the key-value contract all state goes through, an in-memory
//     store, and Redis and SQL stores in store/redisstore and store/sqlstore.
//
// # Cookies, sessions, tokens and JWTs
//
// The four are often mixed up; they answer different questions.
//
// A cookie is a transport: a name and a value the browser stores and sends
// back to the site that set it. On its own it proves nothing. Its attributes
// decide who can read it (HttpOnly keeps scripts out), where it travels
// (Secure: HTTPS only; SameSite: not on most cross-site requests) and how long
// it lives. The cookie package sets them safely and can sign a value (readable,
// tamper-evident) or seal it (encrypted and authenticated) — useful for small
// state such as a preference or an OAuth state parameter, but a sealed cookie
// cannot be revoked: a copy works until its expiry, whatever the server wants.
//
// A session keeps the state on the server. The browser holds only a random
// 256-bit ID in a cookie; the data lives in a store under the SHA-256 of that
// ID. Logging out deletes it, so a stolen cookie stops working at once.
// Sessions suit browsers talking to their own site: choose them for web apps.
//
// An opaque token is a random string an API client sends in the
// Authorization header. Like a session ID it means nothing by itself: the
// server looks up its record (again under a SHA-256), so it can be revoked at
// once. Choose opaque tokens for API clients, mobile apps and CLIs talking to
// your own servers, with refresh tokens to renew short-lived access tokens.
//
// A JWT is a signed statement ("subject S may do X until T") that any service
// holding the public key can check without asking the issuer. That is its
// strength — no store round trip, verification in other services — and its
// weakness: it cannot be recalled. authkit keeps JWTs short-lived and checks a
// per-subject revocation record on every verify. Choose JWTs when services
// other than the issuer must verify credentials, or to interoperate with an
// OpenID Connect provider.
//
// The same handler can accept all three credentials:
//
//	mux.Handle("/api/me", authkit.Require(sessions, tokens, jwts)(me))
//
// # Sharing sessions across servers
//
// A server that keeps sessions in its own memory loses them when a load
// balancer sends the next request elsewhere. The usual answers are: replicate
// sessions between servers (complex, grows with the cluster); sticky load
// balancing (a server restart still logs its users out, and load spreads
// unevenly); a signed or sealed cookie holding the whole session (no server
// state, but no revocation and a 4 KB limit); or a shared store — Redis or a
// database — that every server reads. authkit's answer is the shared store:
// any server can serve any request, a restart loses nothing, and logout and
// revocation take effect everywhere at once. Pick a store from store/redisstore
// or store/sqlstore and hand the same one to every server; the in-memory store
// is for a single process.
//
// # Threat model
//
// In scope:
//
//   - network attackers (TLS is assumed in production; cookies are Secure);
//   - stolen cookies and tokens, bounded by expiry, rotation, reuse
//     detection and revocation;
//   - cross-site request forgery (SameSite cookies and Go's
//     http.CrossOriginProtection on every unsafe cookie-authenticated request);
//   - scripts reading cookies (HttpOnly);
//   - a read-only leak of the store or a database dump: no secret is stored in
//     clear — keys are SHA-256 of 256-bit secrets, passwords are argon2id;
//   - hostile input on every wire: malformed cookies, truncated or forged
//     tokens, hostile stored hashes, oversized headers get a clear error and
//     nothing else — no panic, no leak, no state change;
//   - resource exhaustion: login bursts (a memory budget for password
//     hashing), huge tokens (size caps before parsing), floods of unknown JWT
//     key IDs (rate-limited refetch).
//
// Out of scope: an attacker who can write to the store, which amounts to
// control of the server; a compromised client device; TLS termination and
// certificate management.
//
// # Responses
//
// [Guard] follows RFC 6750 §3: 401 with `WWW-Authenticate: Bearer` and no
// error code when nothing was sent, `error="invalid_token"` for a bad
// credential, 400 `invalid_request` for a token sent two ways, 403
// `insufficient_scope` from [RequireScope], and 503 with Retry-After when an
// Authenticator cannot decide. Bodies never contain library error text.
//
// # Security events
//
// Each manager takes an optional [EventFunc] that receives logins, failed
// logins, logouts, revocations, refresh-token reuse and rejected CSRF
// attempts as [Event] values, which never carry a secret. [LogEvents] sends
// them to a *slog.Logger.
package authkit
