// Package jwt issues and verifies JSON Web Tokens strictly (RFC 8725), with
// key rotation, JWKS serving, remote JWKS, revocation and a verified-token
// cache. Keys and JWKS are handled with github.com/lestrrat-go/jwx/v3; the
// compact form is parsed here, and signatures are checked with the standard
// library.
//
// # Issuing and verifying
//
// A [Key] has exactly one [Algorithm] — HS256, HS384, HS512, RS256, PS256,
// ES256, ES384 or EdDSA (also named Ed25519, RFC 9864: the two names verify
// each other's tokens) — and a kid, by default its RFC 7638 thumbprint. A
// [KeySet] holds one signing key and any number of verify-only keys. An
// [Issuer] signs a [Grant] with the signing key: header alg, kid and typ
// ("at+jwt", RFC 9068, by default); claims iss, aud, sub, exp, iat (to the
// millisecond), a random jti, and scope, auth_time and fid when set. Custom
// claims come from a struct or a map through [IssueClaims].
//
// A [Verifier] checks tokens against a [KeySource] — a KeySet, or a
// [RemoteKeySet] for another issuer — and returns [Claims], or with
// [VerifyClaims] the caller's own claims type too. It implements
// [authkit.Authenticator] (Method "jwt") and [authkit.Revoker]:
//
//	mux.Handle("/api/", authkit.Require(verifier)(api))
//
// Set Config.Issuer and Config.Audience to the values the [Issuer] writes.
// They are required when the keys are another issuer's (a RemoteKeySet, or
// a KeySet holding only public keys): an identity provider signs the
// tokens of every application it serves with the same keys, and without
// an audience check application B accepts the tokens minted for
// application A. Config.InsecureAnyIssuer and Config.InsecureAnyAudience
// waive them by name.
//
// # Strict by default
//
// Raw JWT libraries accept things that lead to forgeries and confusion.
// The Verifier refuses, before or instead of trusting them:
//
//   - tokens over Config.MaxTokenSize (8 KiB), before decoding anything;
//   - anything but the compact form with three segments of canonical
//     base64url: no JSON serialization, no padding, no '+' or '/', no stray
//     bits, no line breaks;
//   - a header whose alg is missing or is not the algorithm of the key kid
//     selects (alg "none", HS256 keyed with an RSA public key, RS512 on an
//     RS256 key); a missing kid when there are several keys;
//   - crit (no extension is understood), b64 and cty; jwk, jku, x5u and x5c
//     are never used and never fetched;
//   - a typ other than the configured ones ("at+jwt" by default);
//   - header or claims that are not strict JSON: invalid UTF-8, unpaired
//     surrogates, or a key repeated in any object under case folding
//     ({"sub":"a","SUB":"b"}), which different JSON parsers would read
//     differently;
//   - exp missing, not a number, zero, negative, past 9999, or past (with
//     Config.Leeway, at most 5 minutes); nbf, iat or auth_time in the future;
//     iat missing; exp - iat over Config.MaxLifetime (24 hours); sub
//     missing; iss or aud not the configured ones;
//   - revoked tokens (below).
//
// # Revocation
//
// A JWT cannot be recalled, so the Verifier keeps one revocation record per
// subject in a [store.Store] and reads it on every verification (one Get).
// [Verifier.RevokeJTI] and [Verifier.RevokeToken] revoke one token,
// [Verifier.RevokeFamily] every token issued from a refresh-token family
// (the fid claim), and [Verifier.RevokeSubject] every token the subject
// holds so far, for log-out-everywhere and password changes: see its
// documentation for how its millisecond watermark compares with iat.
// Config.InsecureDisableRevocation turns all of it off for stateless use.
//
// Every verifier sharing the store reads the same records, whatever its
// own configuration, and the records keep their promise to all of them:
//
//   - R1 durable: a revocation that returned nil is refused by every
//     verifier on the store until the token's expiry. Records are kept for
//     as long as any verifier may accept the tokens they cover — a jti
//     until its exp plus MaxLeeway, a family or a watermark for
//     MaxMaxLifetime (the bound on every Config.MaxLifetime) plus twice
//     MaxLeeway — not for the writer's own MaxLifetime.
//   - R2 races: a token issued while RevokeSubject runs is refused if its
//     iat is at or before the watermark (the time RevokeSubject read in
//     the attempt that landed) plus the verifier's Leeway, and counts as
//     issued after the revocation otherwise. Issuing a JWT touches no
//     store, so this instant is what orders the two; tokens issued from a
//     refresh family (the jwtpair package) are also refused through their
//     family once it is revoked.
//   - R3 retry: a revocation is one compare-and-swap on the subject's
//     record, retried under contention (64 rounds with jittered back-off);
//     one that still cannot land, or whose write fails, returns an error
//     and is never only logged. Calling it again finishes the job, also
//     after a write that was applied but reported an error.
//   - R4 listed: a JWT is not listed anywhere on its own; one issued from a
//     refresh family is listed, and ended, through that family. Keep
//     stand-alone JWTs short-lived.
//   - Verification stays one store read.
//
// The watermark holds the time of the revocation with no leeway: each
// verifier refuses iat up to the watermark plus its own Leeway, because it
// accepts an iat up to Leeway ahead of its clock. The price is that tokens
// issued within Leeway after a RevokeSubject are refused by that verifier
// too; with the default Leeway of zero there is none.
//
// # Rotation and JWKS
//
// [KeySet] documents rotation without downtime: add the next key (it is
// published at once by [KeySet.JWKSHandler] at /.well-known/jwks.json, with
// Cache-Control and ETag), rotate to it, retire the old key when its
// tokens have expired. Keys are loaded from files or the environment with
// [ParseKey], [LoadKeyFile] and [KeyFromEnv]; [GenerateKey] makes new ones.
//
// A [RemoteKeySet] fetches another issuer's JWKS through jwx's jwk.Cache:
// the response size is capped, keys without alg get the algorithm their
// type implies when the allowlist permits it, an unknown kid triggers at
// most one refetch per minute (shared by concurrent requests, so a flood of
// random kids cannot hammer the issuer), and a failed fetch keeps the last
// good set.
//
// # The verified-token cache
//
// Clients send the same access token with every request. After one full
// verification, a Verifier caches the outcome under the exact token text
// (bounded, Config.CacheSize); later verifications recheck exp, nbf and
// revocation and skip the rest. Retiring a key, or a remote key set losing
// or changing a key, empties the cache; a refetch that brings the same keys
// (or more) keeps it.
//
// # Access and refresh tokens
//
// Keep access JWTs short-lived (minutes) and pair them with opaque refresh
// tokens from the token package, rotated on every use. A browser
// application keeps the access token in memory only and the refresh token
// in an HttpOnly, Secure, SameSite=Strict cookie scoped to the refresh
// endpoint. The jwtpair package does all of this, and connects the token
// manager's family revocations to [Verifier.RevokeFamily] so that a
// revoked family's JWTs stop working at once. This package imports
// neither token nor cookie.
package jwt
