// Package keyring shares the cookie and JWT keys of a fleet of servers
// through the store they already share, encrypted under a key-encryption
// key, and rotates them on a schedule — with no leader, no cron job and no
// redeploy.
//
// Sessions and opaque tokens work across many servers because their state is
// in the shared [store.Store]. Sealed cookies and JWTs need the servers to
// share keys instead: a value sealed or a token signed by one server must
// open or verify on every other, and keep doing so while the keys rotate.
// A [Keyring] does that:
//
//	keks, err := keyring.KEKsFromEnv("AUTHKIT_KEK")  // the same on every server
//	kr, err := keyring.New(st, keyring.Config{KEKs: keks})
//	defer kr.Close()
//	codec, err := kr.Codec(ctx, keyring.CookieSeal, keyring.Schedule{MaxLifetime: 24 * time.Hour})
//	keys, err := kr.KeySet(ctx, jwt.ES256, keyring.Schedule{MaxLifetime: time.Hour})
//	issuer := jwt.NewIssuer(keys, jwt.IssuerConfig{Issuer: "https://auth.example", Lifetime: time.Hour})
//	verifier := jwt.NewVerifier(keys, jwt.Config{Issuer: "https://auth.example", Store: st})
//	mux.Handle("GET /.well-known/jwks.json", kr.JWKSHandler())
//
// The [cookie.Codec] and the [jwt.KeySet] are the ordinary types of those
// packages: the Keyring keeps their keys in memory and swaps them as they
// rotate. Sealing, opening, signing and verifying cost exactly what they
// cost without a keyring; no request reads the store.
//
// # Keys in the store
//
// Each purpose — [CookieSeal], [CookieSign], any cookie purpose of your own,
// and one per JWT algorithm ([JWTPurpose]) — has one record in the store,
// under "kring:" + the purpose. It holds the purpose's keys with their
// dates, each key encrypted with XChaCha20-Poly1305 under the key-encryption
// key (KEK); the purpose, the algorithm and the key ID are authenticated
// with it, so a sealed key cannot be moved to another entry or record. A
// dump of the store shows key IDs and dates, never a key.
//
// The KEK comes from the environment ([KEKsFromEnv]) or a file
// ([KEKsFromFile]): 32 random bytes in base64, made with [GenerateKEK] or
// `openssl rand -base64 32`, and the same on every server. A missing KEK is
// [ErrNoKEK]; a KEK that does not decrypt the stored keys is [ErrWrongKEK]
// when the purpose is loaded, at start-up. The keyring never generates a KEK
// and never replaces keys it cannot read.
//
// # The schedule
//
// A [Schedule] gives each key four phases. A new key is published — added to
// every server's verify set and to the JWKS — Prepublish before it signs, so
// every server has reloaded it, and every remote verifier that caches the
// JWKS for the advertised max-age has fetched it, before the first token
// names it. It then signs for Rotation. Then it stays verify-only for
// MaxLifetime + Leeway, the longest anything it signed can live, and is
// removed. The first key of a new keyring signs at once (nothing can have
// cached a key set that did not exist).
//
// # No leader
//
// Every server runs the same loop: it rereads the records every
// Config.ReloadInterval (less a random fifth), wakes exactly when a key's
// phase changes, and, when it sees a step of the schedule due — a key to
// add or remove — performs it with CompareAndSwap on the record. When
// several servers see the same step at once, one write wins and the others
// adopt its result: one new key per step. A server that meets a cookie or a
// JWT naming a key ID it does not hold (a key another server has just
// added) rereads at once, at most once per Config.UnknownKeyInterval, so it
// verifies on first sight. If the store is down, servers keep the keys they
// hold and switch signing keys by the dates they know. If a record vanishes
// from the store (a flushed Redis), the first server to notice writes back
// the keys it holds.
//
// # In an incident
//
// [Keyring.Rotate] starts a rotation now: a new key is published at once and
// signs after Prepublish. [Keyring.Revoke] ends a key at once — for a leaked
// key, verify-only is not enough: its material is erased from the store,
// this server refuses it at once and every other within ReloadInterval, and
// the JWKS drops it. Revoking the signing key creates a replacement that
// signs at once. [Keyring.Keys] lists every key with its state and dates,
// for an operator's page; it never shows key material.
//
// # Rotating the KEK
//
// First give every server the new KEK after the old one ("old,new"): they
// read keys under either and still write under the old one. Once all run
// with both, put the new one first on every server ("new,old"): each
// re-encrypts the keys under it (EventKeysReencrypted). While some servers
// still list the old KEK first, the two groups re-encrypt the keys back and
// forth at each reload — harmless, since all read both, but a write each
// time — so switch the order on all servers together. Once [Keyring.Keys]
// shows every key under the new KEK's ID, drop the old one. A server that
// holds only the old KEK cannot read keys re-encrypted under the new one: it
// keeps the keys it holds and logs the failure, and a new server started
// that way fails with [ErrWrongKEK].
//
// # What it does not protect against
//
// Anyone who holds the KEK and can read the store holds every key. An
// attacker who can write to the store can replace keys, as they could
// replace sessions; that is outside authkit's threat model. The schedule
// assumes that the servers' clocks agree to within Leeway.
package keyring
