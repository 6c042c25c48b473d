// Package cookie sets, reads and deletes HTTP cookies with safe defaults, and
// protects the values stored in them with a [Codec] that seals (encrypts and
// authenticates) or signs (authenticates only) a payload, with key rotation.
//
// The session and JWT packages of authkit set their cookies through
// [Template], so its defaults are theirs.
//
// # Cookies
//
// [New] returns a [Template] with Path "/", Secure, HttpOnly and
// SameSite=Lax. Prefer a name beginning with "__Host-": the browser then
// accepts the cookie only if it is Secure, has Path=/ and no Domain, so a
// sibling subdomain or a plain-HTTP page cannot plant or overwrite it.
//
//	sid := cookie.New("__Host-sid")
//	sid.MaxAge = 12 * time.Hour
//	err := sid.Set(w, token)   // Set-Cookie: __Host-sid=…; Path=/; Max-Age=43200; Secure; HttpOnly; SameSite=Lax
//	token, err := sid.Read(r)
//	err = sid.Delete(w)
//
// [Template.Set], [Template.Read], [Template.Delete] and [Template.Build]
// validate the template every time and never adjust it. [Template.Validate]
// refuses:
//   - a name that is not an RFC 7230 token ([ErrInvalidName]);
//   - an empty or relative Path, a Domain that is not a plain DNS name, a
//     negative, sub-second or over-400-day MaxAge, an Expires more than 400
//     days away, both MaxAge and Expires,
//     and a SameSite other than Lax, Strict or None ([ErrInvalidAttribute]);
//   - Secure=false without InsecureAllowHTTP, HttpOnly=false without
//     AllowScriptAccess, SameSite=None or Partitioned without Secure
//     ([ErrInsecure]);
//   - a "__Host-" name without Secure, with a Path other than "/" or with a
//     Domain; a "__Secure-" name without Secure; a "__Http-" or
//     "__Host-Http-" name without Secure and HttpOnly ([ErrPrefix]).
//
// A value must consist of RFC 6265 cookie-octets ([ErrInvalidValue]) and the
// whole Set-Cookie value must fit in [MaxLine] (4096) bytes ([ErrTooLong]);
// browsers silently drop larger cookies. Chromium stores Secure and
// "__Host-" cookies set over http://localhost and http://127.0.0.1, so local
// development keeps the defaults; InsecureAllowHTTP is for other plain-HTTP
// hosts (and for browsers that do not treat loopback as secure).
//
// [Template.Read] returns [ErrDuplicate] when the request carries the name
// more than once. Browsers send every cookie whose domain and path match, so
// a copy planted by another subdomain ("cookie tossing") or set on a narrower
// path arrives next to the genuine one, in an order the server cannot trust;
// taking the first would let the attacker choose. Treat [ErrNotFound] and
// [ErrDuplicate] alike, as "no cookie".
//
// [Template.Delete] repeats the name, Path, Domain, Secure, HttpOnly,
// SameSite and Partitioned attributes, because a browser only replaces a
// cookie with the same name, path, domain and partition, and refuses a
// prefixed name without its attributes.
//
// # Values
//
// A [Codec] turns a payload into a base64url string bound to one cookie name
// and valid until an expiry:
//
//	codec, err := cookie.NewCodec(cookie.Key{ID: 2, Secret: current}, cookie.Key{ID: 1, Secret: previous})
//	v, err := codec.Seal("__Host-state", payload, 10*time.Minute)
//	payload, err := codec.Open("__Host-state", v)
//
// [Codec.Seal] encrypts with XChaCha20-Poly1305 under a fresh random 192-bit
// nonce; random nonces of that size never repeat in practice, so there is no
// limit on the number of values per key (AES-GCM's 96-bit nonces allow
// about 2^32). [Codec.Sign] appends an HMAC-SHA256 and leaves the payload
// readable. [Codec.SealString], [Codec.SealJSON] and their counterparts
// handle strings and JSON-encodable values; there is no gob and no type
// registration.
//
// Both modes authenticate the cookie name, the key ID and the expiry with the
// payload. Opening checks, in order: the length (refused before any decoding
// once name=value exceeds [MaxLine]), the format and the key ID (read from
// the first eight characters), canonical base64url of
// the whole value (no padding, no line breaks, no stray trailing bits, so
// every value has one spelling), the authentication tag, and finally the
// expiry. Every refusal before the tag is checked allocates nothing, so a
// flood of forged values costs no garbage. Every error means "treat the
// value as absent"; the sentinels [ErrInvalid], [ErrUnknownKey],
// [ErrExpired] and [ErrTooLong] tell logs and metrics why.
//
// [Codec.OpenWithExpiry] and [Codec.VerifyWithExpiry] also return the expiry
// carried in the value, for sliding renewal: re-seal when little of the
// lifetime is left. Lifetimes are kept in whole milliseconds, so a ttl under
// one millisecond is refused ([ErrInvalidTTL]), as is one over
// [Codec.MaxTTL] when that is set.
//
// # What each mode protects against
//
// Both modes stop a client or network attacker from forging a value,
// changing any byte of one, moving one to another cookie name (a "remember
// me" value replayed as a "flash" value), converting a signed value into a
// sealed one or back, and extending one past its expiry: an old copy stops
// working even if the browser or an attacker keeps it.
//
// Sealing also hides the payload from the client, from browser extensions
// and from whatever logs the cookie. Only the format, the key ID and the
// expiry are visible, and the length of the payload.
//
// # What they do not protect against
//
// A value cannot be revoked before its expiry. Deleting the cookie only asks
// the browser to drop it; a copy taken earlier (stolen, or simply saved)
// stays valid until it expires, and logging out cannot change that. Keep
// lifetimes short, or keep the state on the server — that is what sessions
// are for: the cookie then holds only a random token that the server can
// forget.
//
// Signing does not hide anything: anyone holding a signed value can decode
// the payload. Never sign a secret.
//
// Neither mode stops replay of an unexpired value: a stolen cookie works for
// the thief until it expires. HttpOnly, Secure and a "__Host-" name make
// theft harder; they do not make it harmless. And anyone holding a key can
// forge values: keep keys out of source code and logs, and rotate one that
// may have leaked.
//
// # Keys and rotation
//
// A key is at least [MinKeySize] (32) random bytes with a numeric ID. The
// first key of the list seals and signs; every key opens and verifies. The
// key ID travels in each value, so opening picks the key directly instead of
// trying them all. To rotate, put the new key first and keep the old one
// until the longest lifetime it may have issued has passed, then remove it:
// its values then fail with [ErrUnknownKey].
//
// [Codec.SetKeys] replaces the list on a running Codec in one atomic step,
// and [Codec.OnUnknownKey] lets the Codec ask for newer keys when a value
// names an ID it does not hold. Together they let a key manager shared by a
// fleet of servers (package github.com/authkit/authkit/keyring) rotate the
// keys of every server's Codec: a key is added everywhere before any server
// seals with it, and a server that meets a value sealed with a key it has not
// loaded yet reloads at once. Keys stay in memory; opening never reads a
// store.
//
// [NewCodec] derives two subkeys from each secret with HKDF-SHA256 (RFC 5869,
// empty salt, info "authkit/cookie v1 seal XChaCha20-Poly1305" and
// "authkit/cookie v1 sign HMAC-SHA256"), so the same secret can serve both
// modes without a value of one being usable in the other, and the secret
// itself is never used directly as a cipher or MAC key.
//
// # Format
//
// A value is base64url without padding (RFC 4648 §5) of a 13-byte header —
// a format byte (1 sealed, 2 signed), the key ID (4 bytes) and the expiry in
// Unix milliseconds (8 bytes), big-endian — followed, when sealed, by the
// 24-byte nonce and the ciphertext with its 16-byte tag, or, when signed, by
// the payload and the 32-byte HMAC. A 64-byte payload becomes 156 characters
// sealed and 146 signed. The name is authenticated but not included.
package cookie
