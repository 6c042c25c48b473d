// Package throttle slows down password guessing without letting an attacker
// lock anyone out. Its counters live in a [store.Store], so every server of
// a fleet sharing the store shares them.
//
// It follows the OWASP Authentication and Credential Stuffing Prevention
// cheat sheets: exponential back-off after a few free failures, capped, in
// place of a hard lockout; counters for several dimensions of an attack; and
// an exemption for devices the account's owner has used before. The login
// package drives it for password sign-in; use it directly for any other
// guessable secret.
//
// # Counters
//
// [Throttle.Begin] checks one attempt against these counters and counts it:
//
//   - account ([ScopeAccount]): attempts on one account name from any address —
//     an attack spread over many addresses (a botnet) on one account;
//   - address ([ScopeAddress]): attempts from one client address on any
//     account — credential stuffing from one source. An IPv6 address counts
//     by its /64 ([Bucket]), since one host can use a whole /64;
//   - pair ([ScopePair]): attempts on one account from one address — the
//     tightest limit, for the common case of one guesser;
//   - global: failures of the whole fleet per minute. Over
//     [GlobalLimit.Failures], the fleet counts as under attack and no failure
//     is free on the three counters above.
//
// Each counter allows [Limit.Free] failures, then waits [Limit.Delay] after
// the next one, doubling with each further failure up to [Limit.MaxDelay]
// (15 minutes by default). A refusal is a [*LimitedError] carrying the wait
// (answer HTTP 429 with Retry-After); refusals are not counted, so the wait
// never grows while nobody can try. A counter is forgotten [Limit.Forget]
// (24 hours by default) after its last failure.
//
// Account names without an account are counted exactly like real ones, so
// that neither a refusal nor its timing tells which accounts exist.
//
// # Known devices
//
// A per-account limit lets anyone who knows a user name keep that account in
// back-off. To keep its owner signing in, an attempt from a known device —
// a browser that signed in to the account before, proven by a signed cookie
// that the login package checks — names that device in [Attempt.Device] and
// is checked only against the device's own counter ([ScopeDevice]). An
// attacker without the cookie cannot use that allowance, and one who stole
// a cookie gets one device's allowance for one account.
//
// # Settling an attempt
//
// An attempt is counted before the password is checked, so that fifty
// parallel guesses cannot all pass the check while a slow hash runs: each
// counter update is a CompareAndSwap, and a swap that loses to another
// server re-reads and re-checks. Settle the [Ticket] once the outcome is
// known:
//
//   - [Ticket.Success]: the account, pair and device counters start again
//     from zero; the address counter gets back only this attempt, so an
//     attacker signing in to an account of their own between guesses does
//     not clear their address;
//   - [Ticket.Failure]: the attempt stays counted and adds to the global rate;
//   - [Ticket.Cancel]: the password could not be checked (an outage); every
//     counter gets the attempt back.
//
// # Requests that are not guesses
//
// [Throttle.Take] is a fixed-window [Rate] for actions such as sending a
// login link or a code, where each request costs someone a message.
//
// # Store use
//
// Keys start with [Config.Prefix] ("thr:") and end in the SHA-256 of the
// account name, address or device, so a dump shows no user name or address.
// Records are 13 bytes with a version byte. An attempt from an unknown
// device costs three reads and three compare-and-swaps, from a known device
// one of each; a failure adds one read and one swap on one of eight global
// shards, and each server re-reads the shards at most once a second
// ([GlobalLimit.Refresh]). Every operation is on a single key, so Redis
// Cluster works.
package throttle
