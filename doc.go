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
//   - oidc: "Sign in with your identity provider" (OpenID Connect), ending
//     in a session.
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
// # Which way to sign in
//
// Cookies, sessions, tokens and JWTs carry a sign-in; they do not make one.
// First the person proves who they are, and the login package implements
// the three ways the web knows. Each ends in a login.Result whose Subject
// the application passes to its session manager's Login (or to the token
// manager, for an API client). The application supplies only what it owns —
// its user directory (login.Users, login.Directory) and delivery
// (login.Sender) — and every flow refuses a cross-origin request before any
// work, answers the same whether or not an account exists, reports
// [EventLogin] and [EventLoginFailed], and never logs a password, link or
// code.
//
//   - A password (login.Password) is the default for most sites: people
//     know how it works, and it needs no mailbox or phone at hand.
//     Its weakness is guessing and reuse, so every failure costs one hash
//     verification and looks like every other, and attempts go through the
//     throttle package: back-off per account, per client address and per
//     pair, never a lockout, and a browser that signed in to the account
//     before keeps its own allowance, so an attack cannot lock the owner out.
//     New passwords go through login.Policy (NIST SP 800-63B-4: length, a
//     blocklist, no composition rules). For valuable accounts add a second
//     factor: a one-time code after the password (login.Codes.StartFor).
//   - An email login link (login.Links) needs no password to choose, forget,
//     reuse or leak: the mailbox is the credential, so the account is as safe
//     as the mailbox. Choose it for sign-ins that are infrequent — where a
//     password would be reset every time anyway — not for several a day.
//     The link works once, for 15 minutes; opening it shows a confirmation
//     page and only the page's POST signs in, because mail scanners fetch
//     links; and it can be bound to the browser that asked for it.
//   - A one-time code (login.Codes) is a link's twin that is typed rather
//     than clicked: it works when the mail is read on another device, and
//     by text message where there is no email. Six digits, five guesses,
//     ten minutes; the store keeps a keyed hash, not the code. A code by
//     text message is only as safe as the phone number, which a SIM swap or
//     a forwarding trick can take over: as a second factor it stops password
//     guessing and reuse, not a targeted attacker.
//   - Single sign-on with an identity provider (package oidc) moves the
//     proving to a server the user already has an account with; choose it
//     when such a provider exists and the application trusts it.
//
// Several can coexist for one account — a password with a link for the day
// it is forgotten, say — since each only hands a subject to the same
// session manager.
//
// # Single sign-on with OpenID Connect
//
// Single sign-on moves the question "who is this?" to another server: the
// identity provider (Google, Microsoft, Okta, Keycloak, a company's own)
// checks the user and vouches for them with an ID token — a JWT the provider
// signs. OpenID Connect is the protocol; OAuth 2.0 underneath carries it.
// It is not a fifth kind of credential but a way to log in: the oidc package
// sends the browser to the provider, takes the code it brings back,
// exchanges it for the ID token server to server, verifies that token with
// the jwt package's strict verifier (signature by the provider's published
// keys, issuer, audience, expiry, and the nonce of this browser's sign-in),
// and then logs a session in, exactly as a password check would. From there
// on the browser holds a session cookie, nothing more: the ID token and any
// provider tokens the application keeps stay on the server, encrypted.
//
// Choose it when users already have an account at a provider the
// application trusts, or when a company wants one place to grant and
// withdraw access. The provider's word also ends sessions: its logout can
// reach the application (back-channel logout) and end the sessions signed
// in through it. Map the provider's issuer and subject to your own user,
// never its email. A JWT from a provider used as an API's bearer token is
// the other case — verify it with a jwt.Verifier on a jwt.RemoteKeySet, with
// the provider's issuer and your audience.
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
// Under network faults the stores keep two promises. Every key is
// linearizable: once a write has returned, every server reads it, never an
// older value (no replicas, no client-side caches). And a write takes effect
// at most once: when its reply is lost — a connection broken or timed out
// after the request left — the store returns an error and never sends the
// write again, because a second copy arriving after another server's write
// would undo it and bring back a session revoked in between. So a failed
// write means "unknown": it may have taken effect, and a statement the
// database was still working on may take effect shortly after the error, but
// only once. authkit's managers act on that: they re-read and retry with
// CompareAndSwap where an outcome matters, and report a write that failed as
// an error, never as done. Name what you share the store with: redisstore
// requires a key prefix and sqlstore a table name, each naming the
// application, so that two applications on one Redis or database never
// accept each other's sessions.
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
// # Revocation
//
// What sessions and opaque tokens have over bare JWTs is that they can be
// ended at once: log out, log out everywhere, a password change, a replayed
// refresh token. authkit holds these invariants, on every store it ships and
// under store failures, and tests them with forced interleavings and a
// randomized model of concurrent clients on a failing store
// (internal/revmodel):
//
//   - R1 durable: when a revocation returns nil — session Logout, RevokeID,
//     RevokeOthers, RevokeSubject; token RevokeToken, RevokeID,
//     RevokeFamily, RevokeSubject; the JWT verifier's revocations;
//     [RevokeSubject] — every credential it covers is refused by every
//     server sharing the store, from then until and after its natural
//     expiry.
//   - R2 races: a sign-in or renewal (Login, RenewID, RememberMe, Issue,
//     IssueRefresh, Refresh, RefreshPair, one-time issue) that overlaps a
//     RevokeSubject of the same subject either hands out a credential that is
//     refused once the revocation returns, or returns an error and hands
//     nothing out — unless it took effect after the revocation did, as a
//     sign-in just after it would. A renewal or refresh never takes effect
//     after the revocation of the credential it renews: what descends from a
//     revoked sign-in is refused.
//   - R3 retry: a revocation that returned an error can be called again and
//     finishes the job; no index forgets a credential that is still valid.
//   - R4 listed: every credential that authenticates is listed for its
//     subject (session.Manager.Sessions, token.Manager.List and Families),
//     so the user can see it and end it.
//   - R5 no false alarm: a refresh that failed for its client does not make
//     the client's retry with the same refresh token count as reuse; the
//     token package documents the one case where it can, and the setting
//     that bounds it.
//
// How: a subject's index record is the ordering point. A credential is
// added to the index before its record is created, and the record is created
// only if absent. A revocation marks the index members it ends in one swap
// of that record (the moment it takes effect), writes a small "revoked"
// marker under each member's key until the member's own expiry — so a record
// written late is refused, and a create that had not happened yet fails —
// and only then removes the members; what it could not mark stays in the
// index, unlisted, until a retry or any later update finishes it. Verifying a
// credential stays one store read. The costs: an issue adds one swap of the
// subject's index (as before); a revocation of n credentials costs two swaps
// and n writes, and leaves n markers of a few bytes in the store until the
// credentials would have expired.
//
// Deliberately left out: a sign-in whose password check happened before a
// password change but whose Login runs after the RevokeSubject that the
// change triggered is a new sign-in, and survives; applications that must
// refuse it compare a credential version (a password-change counter) after
// Login. JWTs are revoked by a per-subject record read on every
// verification; a JWT verifier with revocation turned off
// (InsecureDisableRevocation) keeps none of these promises.
//
// Upgrading a fleet: the "revoked" markers, and index records with members
// being revoked, are in record formats that releases from before them
// cannot decode. A server still running such a release refuses the
// credential behind a marker, and fails a sign-in or revocation that meets
// such an index record, logging a decoding error each time: nothing revoked
// comes back, but some calls fail until the upgrade is done. Finish a
// rolling upgrade quickly, or upgrade every server at once.
//
// # Responses
//
// [Guard] follows RFC 6750 §3: 401 with `WWW-Authenticate: Bearer` and no
// error code when no bearer token was sent (nothing at all, or a refused
// session cookie), `error="invalid_token"` for a bad bearer token, 400
// `invalid_request` for a token sent two ways, 403 `insufficient_scope`
// from [RequireScope], and 503 with Retry-After ([Unavailable]) when an
// Authenticator cannot decide. [Guard.Optional] serves pages for signed-in
// and anonymous visitors alike. Bodies never contain library error text.
//
// # Security events
//
// Each manager takes an optional [EventFunc] that receives logins, failed
// logins, logouts, revocations, refresh-token reuse and rejected CSRF
// attempts as [Event] values, which never carry a secret. [LogEvents] sends
// them to a *slog.Logger.
package authkit
