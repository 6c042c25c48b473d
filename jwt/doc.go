// Package jwt issues and verifies JSON Web Tokens strictly (RFC 8725), with
// key rotation, JWKS serving, remote JWKS, revocation and a verified-token
// cache. Keys and JWKS are handled with github.com/lestrrat-go/jwx/v3; the
// compact form is parsed here, and signatures are checked with the standard
// library.
//
// # Issuing and verifying
//
// A [Key] has exactly one [Algorithm] — HS256, HS384, HS512, RS256, PS256,
// ES256, ES384 or EdDSA — and a kid, by default its RFC 7638 thumbprint. A
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
// revocation and skip the rest. Retiring a key, or a change in a remote key
// set, empties the cache.
//
// # Access and refresh tokens
//
// Keep access JWTs short-lived (minutes) and pair them with opaque refresh
// tokens from the token package, rotated on every use. A browser
// application keeps the access token in memory only and the refresh token
// in an HttpOnly, Secure, SameSite=Strict cookie scoped to the refresh
// endpoint.
package jwt
