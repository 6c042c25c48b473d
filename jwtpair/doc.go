// Package jwtpair issues short-lived access JWTs together with opaque,
// rotating refresh tokens, and carries the refresh token in a cookie: the
// usual shape of a browser application (a single-page app) talking to its
// own API.
//
// A [Manager] ties three pieces together: a [jwt.Issuer] that signs the
// access tokens, the [jwt.Verifier] that checks them, and a
// [token.Manager] that keeps the refresh families. Building it is what
// connects them, so that nothing can be forgotten:
//
//	pairs := jwtpair.New(issuer, verifier, tokens, jwtpair.Config{})
//	mux.Handle(jwtpair.DefaultRefreshPath, pairs.Handler()) // POST refresh, DELETE log out
//
// # Access and refresh tokens
//
// Each access JWT carries the ID of the refresh family it was issued from
// (its fid claim). [New] registers a listener with
// [token.Manager.OnFamilyRevoked] that revokes the family's JWTs in the
// verifier's revocation record whenever the family is revoked — a reused
// refresh token, a logout, [token.Manager.RevokeSubject], the RFC 7009
// endpoint, the cap on families — so they stop working at once, not at
// their expiry. A JWT revocation that fails makes the family's revocation
// return an error, and calling it again finishes the job.
//
// # In a browser
//
// Keep the access token in memory only (a JavaScript variable: not
// localStorage, which any injected script can read and which outlives the
// tab) and send it as "Authorization: Bearer". Keep the refresh token where
// scripts cannot reach it: the HttpOnly, Secure, SameSite=Strict cookie
// [Manager.WriteResponse] sets, scoped to Config.RefreshPath. On page load,
// or when the API answers 401, POST to the refresh path (with credentials)
// to get a new access token; DELETE it to log out. The endpoint refuses
// cross-site requests, and SameSite=Strict keeps the cookie off them
// anyway.
//
// # Revocation
//
// The pair keeps the revocation invariants of the jwt and token packages
// (their documentation states them): a logout or a RevokeSubject that
// returned nil ends the refresh family and every JWT issued from it on every
// server sharing the store; a refresh racing RevokeSubject either returns an
// error or hands out a pair that is already refused; every JWT is listed,
// and can be ended, through its family ([token.Manager.Families]).
//
// A refresh whose rotation succeeded but whose access token could not be
// signed (a signer in a KMS that failed) returns [ErrNoAccessToken] with
// the rotated refresh token: [Manager.Handler] then sets the new refresh
// cookie and answers 503, so that the client's retry presents the
// successor and is not taken for a reuse that would log the user out.
// Whether a refresh whose store write failed can be retried with the same
// refresh token is the token package's rule (see its Refresh).
//
// # Printing
//
// A [Pair] holds two bearer credentials. Printed with fmt (any verb, value
// or pointer) or logged with slog, it shows its IDs and times and
// "REDACTED" for the tokens.
package jwtpair
