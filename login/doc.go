// Package login implements the three ways people prove who they are on the
// web — a user name and password ([Password]), a login link sent by email
// ([Links]) and a one-time code sent by email or text message ([Codes]) —
// and a password policy for choosing passwords ([Policy]). Each flow ends
// in a [Result] whose Subject the application passes to its session
// manager's Login.
//
// The application supplies only what it owns: its user directory ([Users],
// [Directory]) and delivery ([Sender]). Everything security-critical in
// between is here, on the [store.Store] every server of a fleet shares.
//
// # Which method
//
//   - Password: the default for most sites. Pair it with a throttle (built
//     in) and, for valuable accounts, a second factor ([Codes.StartFor]).
//   - Login link: no password to forget, leak or reuse; the mailbox is the
//     credential. Good for infrequent sign-ins; slower for daily ones.
//   - One-time code: like a link, but typed — it works when the mail is
//     read on another device, and as a second factor after a password.
//
// # Password sign-in
//
// [Password.SignIn] takes the request, the user name and the password:
//
//	p := login.NewPassword(st, users, login.PasswordConfig{Devices: codec})
//	res, err := p.SignIn(w, r, r.PostFormValue("username"), r.PostFormValue("password"))
//	switch {
//	case err == nil:
//		sessions.Login(r.Context(), res.Subject)
//	case errors.Is(err, login.ErrInvalidCredentials):
//		// 401 and the same page for every cause
//	case login.SetRetryAfter(w.Header(), err):
//		// 429 Too Many Requests
//	case errors.Is(err, login.ErrCrossOrigin):
//		// 403
//	default:
//		// 503: the store or the directory is down
//	}
//
// It refuses a cross-origin unsafe request before any work (login CSRF, and
// a hostile page cannot make the server hash); counts the attempt in a
// [throttle.Throttle] before the password is checked; verifies an unknown
// user name against a dummy hash of the same cost as a real one (the legacy
// scheme's while legacy hashes remain: [PasswordConfig.LegacyScheme]), so
// neither the answer nor its time tells which accounts exist or still have
// an old hash; upgrades a hash that needs it through
// [Users.UpdatePasswordHash]; and reports [authkit.EventLogin] and
// [authkit.EventLoginFailed] with a reason and the client address.
//
// After a successful sign-in the browser gets a signed device cookie. Its
// later attempts on that account are limited by their own counter only, so
// an attack on the account from many addresses — which puts the account in
// back-off for everyone else — does not lock its owner out.
//
// # Login links
//
// [Links.Request] sends a link to an address that has an account and does
// nothing visible otherwise. The link holds a one-time token (package
// token) bound to its purpose, valid 15 minutes and usable once. Mail
// scanners open links, so [Links.Handler] answers GET with a confirmation
// page and consumes the token only on POST. With
// [LinkConfig.SameBrowser], a link opened in a browser other than the one
// that asked says so and needs an explicit confirmation.
//
// # One-time codes
//
// [Codes.Start] sends a six-digit code and returns a [Challenge];
// [Codes.Verify] checks a guess. A challenge allows five guesses, counted
// with a CompareAndSwap before each comparison — fifty parallel guesses get
// five — and is dead after them; a new challenge ends the previous one;
// codes are stored as an HMAC under [CodeConfig.Key], so a store dump does
// not reveal them. Expired, used, superseded and wrong codes all fail with
// [ErrInvalidCode].
//
// # Secrets
//
// The package never logs a password, code or link. [Message] redacts its
// secret when printed or logged; errors and events carry none.
package login
