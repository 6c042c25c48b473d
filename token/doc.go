// Package token issues and checks opaque tokens: access tokens for API
// clients, refresh tokens that rotate with reuse detection, and one-time
// tokens for password-reset and email-verification links. State lives in a
// [store.Store]; the store never holds a token in clear.
//
// # Format
//
// A token is a prefix naming its kind, random base62 characters from
// crypto/rand and a 6-character base62 CRC32 checksum of everything before
// it — the format GitHub introduced, so secret scanners can find leaked
// tokens and typos are caught offline:
//
//	ak_at_ + 32 random (≈190 bits) + 6 checksum            access
//	ak_rt_ + 22 random locator + 32 random + 6 checksum    refresh
//	ak_ot_ + 32 random + 6 checksum                        one-time
//
// The prefixes are configurable ([Config]). A token of the wrong length,
// alphabet, prefix or checksum is refused ([ErrMalformed]) before any store
// access. The store key of a token is "tok:" (or "ott:") followed by the
// SHA-256 of the token; the [Token] type and the unexported key type cannot
// be mixed up. Fast unsalted hashing is right here: the tokens carry far too
// much entropy to guess, and a lookup must cost nanoseconds.
//
// # Access tokens
//
// [Manager.Issue] issues a token for a subject, optionally for a client,
// with scopes, a lifetime and metadata; [Manager.Verify] checks one with a
// single store read. [Manager] implements [authkit.Authenticator]: it claims
// bearer tokens with its access prefix and leaves anything else (a JWT) to
// the next Authenticator with [authkit.ErrNoCredentials].
//
//	tokens := token.New(st, token.Config{})
//	mux.Handle("/api/", authkit.Require(tokens)(api))
//
// A subject's tokens are listed in a capped per-subject index
// ([Manager.List], [Manager.RevokeID]); [Manager.RevokeSubject] ends them
// all, with refresh families and one-time tokens — call it on password
// change ([authkit.RevokeSubject] calls every mechanism's).
//
// # Refresh tokens
//
// [Manager.IssueRefresh] starts a family: the chain of refresh tokens that
// descend from one sign-in. [Manager.Refresh] consumes a refresh token and
// returns its successor, rotating the family in one CompareAndSwap, so that
// concurrent uses of one token yield exactly one rotation. Presenting a
// token already rotated out is reuse (RFC 9700 §4.14.2): one of the two
// holders is a thief, so the whole family is revoked, with the access tokens
// issued from it, [authkit.EventRefreshReuse] is reported, and the caller
// gets [ErrReused].
//
// The refresh API stands on its own, so that another access credential —
// the jwt package's JWTs — can pair with it:
//
//	rt, fam, err := tokens.IssueRefresh(ctx, userID, token.FamilyOptions{Scopes: scopes})
//	// sign a short-lived JWT with sub = fam.Subject and a claim holding fam.ID
//
//	// later, at the refresh endpoint:
//	next, fam, err := tokens.Refresh(ctx, token.Token(presented), clientID)
//	// sign a new JWT from fam; return it with next
//
// [Manager.IssuePair] and [Manager.RefreshPair] do the same with an opaque
// access token, tied to the family so that revoking the family ends it.
// [Manager.OnFamilyRevoked] tells other code — the JWT package — when a
// family is revoked, so that it ends what it issued from the family.
//
// A family ends when it has not been rotated for Config.RefreshIdleTimeout,
// at Config.RefreshLifetime after its creation whatever happens, or when
// revoked ([Manager.RevokeFamily], [Manager.RevokeToken], [Manager.RevokeSubject]).
//
// With the default Config.Grace of zero, any second use of a refresh token
// revokes its family — including a client's retry after a response lost on
// the network. (A refresh that fails with a store error is different: its
// retry is no reuse; see "Failures and retries" on [Manager.Refresh].)
// A short grace window makes such retries return the same successor; the
// family record holds the successor sealed (AES-256-GCM) under a key derived
// (HKDF-SHA256) from the predecessor, so only the predecessor's holder can
// open it and a store dump reveals nothing. The window's risk is documented
// on [Config.Grace].
//
// # One-time tokens
//
// [Manager.IssueOneTime] issues a short-lived, single-use token bound to a
// purpose ([PurposePasswordReset], [PurposeEmailVerification], or your own);
// [Manager.Consume] redeems it once, atomically, for that purpose only, and
// returns the subject and data it was issued with.
//
// # Revocation
//
// A revocation that returns nil holds. The guarantees, for every server
// sharing the store:
//
//   - R1, durable: when [Manager.RevokeToken], [Manager.RevokeID],
//     [Manager.RevokeFamily], [Manager.RevokeOneTime],
//     [Manager.RevokeSubject] or the revocation endpoint succeeds — and
//     when [Manager.Refresh] or [Manager.RefreshPair] returns [ErrReused] —
//     every token it covers is refused from then on, until and after its
//     natural expiry.
//   - R2, races: an issue (Issue, IssueRefresh, IssuePair, IssueOneTime,
//     and the new tokens of Refresh and RefreshPair) that overlaps
//     RevokeSubject of the same subject either hands out tokens that are
//     refused once RevokeSubject has returned, or returns an error and
//     hands nothing out — unless it took its place in the subject's index
//     after RevokeSubject took the index: then it was issued after the
//     revocation, as a sign-in just after it would be.
//   - R3, retry: a revocation that returned an error has taken effect in
//     part; called again, it finishes the job. No index forgets a token
//     that may still work: a member whose end could not be written stays
//     in its index, marked as being revoked (no longer listed or counted
//     against the caps), and the next update of that index hands it back
//     to be ended. A revoked family lists the access tokens it has not yet
//     ended, and whether its [Manager.OnFamilyRevoked] listeners have all
//     succeeded; the next revocation of the family (RevokeFamily,
//     RevokeSubject, or a refresh with one of its tokens) does the rest.
//   - R4, listed: every access token from Issue that works is listed by
//     [Manager.List], every refresh family that works by
//     [Manager.Families] (with the access tokens issued from it).
//   - R5, no false alarm: a refresh that failed for its client does not
//     make the client's retry with the same token count as reuse — with
//     one exception, when the rotation's own write took effect, its reply
//     was lost and the read that would tell failed too. Config.Grace
//     bounds that case as it bounds a response lost on the network (see
//     "Failures and retries" on [Manager.Refresh]).
//
// How: the per-subject index swap is the ordering point. An issue adds its
// token to the subject's index first (a refresh family's record is the
// index of its access tokens), then creates the token's record only if
// its key is absent. A revocation takes the members out of service in one
// swap of the index, then writes a one-byte revoked marker under each
// record's key until the token's expiry: the marker replaces a live record
// and makes a creation not yet done fail. After its creation a record is
// replaced only by a marker or by a swap from the value just read, so no
// write can bring a revoked token back.
//
// Costs, in store round trips (the memory, Redis and SQL stores all take
// one per call): [Manager.Verify] 1 (verification stays one read);
// Issue, IssueRefresh, IssueOneTime 3; IssuePair 4; Refresh 2;
// RefreshPair 4; RevokeToken of an access token 4; RevokeSubject 3 reads
// of the subject's three indexes, plus, per index holding tokens, a swap
// to take them, a marker write per token and a read and a swap to remove
// them, plus per family a read and a swap (one more swap, and a marker
// write per access token, for a family with access tokens or listeners).
// Each issue past a cap adds a marker write per token evicted. A revoked token's marker stays in the store
// until the token would have expired: one key of one byte.
//
// # Token endpoint
//
// [Manager.WriteResponse] answers a token request with a [Pair] as RFC 6749
// §5.1 says (access_token, token_type, expires_in, refresh_token, scope;
// Cache-Control: no-store); [Manager.WriteError] answers the error of
// IssuePair, Refresh or RefreshPair — 400 invalid_grant for a refused
// token, 503 temporarily_unavailable with Retry-After when the store
// fails — and [WriteErrorCode] any other RFC 6749 §5.2 error, such as
// invalid_request for a request without a refresh_token.
//
// # Revocation endpoint
//
// [Manager.RevocationHandler] serves RFC 7009 token revocation: it
// authenticates the client with a hook, revokes the token only if it was
// issued to that client, and answers 200 for unknown tokens as the RFC
// requires.
//
// # Records
//
// Every record starts with a version byte and a kind byte and carries its
// own deadlines; decoders bound every length before allocating. A record a
// decoder cannot read is [ErrCorrupt], a server-side failure rather than a
// bad credential. Keys: "tok:" access tokens, "ott:" one-time tokens, "rtf:"
// refresh families, "tidx:", "otidx:" and "rtfidx:" per-subject indexes of
// access tokens, one-time tokens and families. Every key
// ends in a SHA-256, so keys show neither tokens nor user IDs, and no value
// holds a token or anything from which one could be rebuilt.
package token
