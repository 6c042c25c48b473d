// Package oidc signs users in with OpenID Connect providers — "Sign in with
// Google / Microsoft / Okta / Keycloak / your company's IdP" — and ends in an
// authkit session. It is a relying party for the authorization code flow
// with PKCE, on golang.org/x/oauth2 for the code exchange and authkit's own
// jwt verifier for ID tokens.
//
// # Setting up
//
// Register the application with each provider (a client ID, a secret, the
// redirect URL of its callback, and optionally a post-logout redirect URL
// and a back-channel logout URL), then:
//
//	rp := oidc.New(sessions, st, oidc.Config{
//		Codec: codec, // the same keys on every server
//		Providers: []oidc.Provider{{
//			Name:         "corp",
//			Issuer:       "https://login.corp.example",
//			ClientID:     os.Getenv("OIDC_CLIENT_ID"),
//			ClientSecret: os.Getenv("OIDC_CLIENT_SECRET"),
//			RedirectURL:  "https://app.example/auth/corp/callback",
//		}},
//		Subject: func(ctx context.Context, t *oidc.IDToken) (string, error) {
//			return users.LinkOrCreate(ctx, t.Issuer, t.Subject, t.Email)
//		},
//	})
//	mux.Handle("/auth/", http.StripPrefix("/auth", sessions.Middleware(rp.Handler())))
//
// A link to /auth/corp/login?return_to=/inbox starts the sign-in; the
// provider sends the browser back to /auth/corp/callback, which logs the
// session in and redirects to /inbox. [RelyingParty.Handler] also serves
// POST /auth/logout and the provider's back-channel logout. Applications
// with their own routing call [RelyingParty.Login],
// [RelyingParty.Callback], [RelyingParty.Logout] and
// [RelyingParty.BackChannelLogout] directly.
//
// Several providers work side by side, each under its own Name and its
// own redirect URL. Each provider's discovery document
// (/.well-known/openid-configuration) is fetched on first use and cached
// for Config.DiscoveryInterval; its issuer must equal Provider.Issuer
// exactly. Providers whose document lives elsewhere set
// Provider.DiscoveryURL. Multi-tenant endpoints whose ID tokens carry a
// different issuer per tenant (such as Microsoft's "common") are not
// supported: configure each tenant's own issuer.
//
// # The sign-in flow
//
// [RelyingParty.Login] makes a fresh state, nonce and PKCE verifier
// (S256) and keeps them, with the provider's name and the local return-to
// path, in a flow cookie sealed by the [cookie.Codec]: "__Host-oidc-"
// followed by the state, SameSite=Lax, valid for Config.FlowLifetime (10
// minutes). Nothing touches the store before the user comes back. Each
// flow has its own cookie, so sign-ins in several tabs do not disturb each
// other. The return-to path must be a [LocalPath]: no "//host", no
// "/\host", no scheme, no control characters, so the login link cannot be
// turned into an open redirect.
//
// [RelyingParty.Callback] then refuses, in this order:
//
//   - a missing, repeated or unknown state, or a flow cookie that is
//     forged, expired or was made for another provider's callback
//     ([ErrState]); this is what stops login CSRF (an attacker's own code
//     and state planted in the victim's browser) and mix-up between
//     providers;
//   - a callback already used, even with a copy of its cookie ([ErrReplay]:
//     the state is recorded in the store when consumed);
//   - an iss parameter naming another issuer, or none when the provider
//     advertises authorization_response_iss_parameter_supported (RFC 9207,
//     [ErrIssuer]);
//   - an error from the provider, returned as a [*ProviderError];
//   - a code the token endpoint refuses, such as one injected from another
//     browser's flow, which fails PKCE ([ErrExchange]);
//   - an ID token that fails verification ([ErrIDToken], below).
//
// Only then does it map the ID token to a subject with Config.Subject and
// call [session.Manager.Login], which gives the session a new ID (no
// fixation). By default the subject is the issuer and sub joined by '#'
// ([DefaultSubject]); it is never the email, since emails are reassigned
// and often unverified.
//
// # ID token verification
//
// ID tokens are checked by a [jwt.Verifier] on the provider's keys,
// fetched from its jwks_uri by a [jwt.RemoteKeySet]: the strict compact-JWS
// rules of the jwt package (see its documentation), an algorithm that the
// discovery document advertises and that authkit accepts (RS256, PS256,
// ES256, ES384, EdDSA — never HMAC or none), typ "JWT" or none, iss
// exactly the issuer, aud containing the client ID and naming no audience
// outside Provider.TrustedAudiences, exp and iat within Config.Leeway, and
// then:
//
//   - azp equal to the client ID when present, and required when aud has
//     several values;
//   - nonce equal to the flow's, in constant time;
//   - at_hash, when present, equal to the hash of the access token;
//   - auth_time present and recent enough when Provider.MaxAge is set;
//   - sub at most 255 characters, sid (if any) a string.
//
// The verified token reaches the application as an [IDToken], in
// Config.Subject and [Result]; later, [RelyingParty.IDToken] reads it back
// from the session's grant record. [RelyingParty.VerifyIDToken] applies the
// same checks to an ID token that reached the application another way (a
// mobile app that signed the user in itself).
//
// # Provider tokens
//
// With Config.KeepTokens, the provider's access and refresh tokens are kept
// server-side, never in a cookie: in a grant record under "oidc:grant:"
// plus the hash of a random ID that only the session holds, encrypted with
// AES-256-GCM under a per-record key that is itself sealed by the Codec (so
// a dump of the store shows no token, and Codec key rotation applies).
// [RelyingParty.Token] returns a valid access token, refreshing it when it
// is about to expire. The refresh runs once however many requests need it
// at the same time, on every server sharing the store: the first takes a
// lock in the record with CompareAndSwap, the others wait for its result.
// A provider that rotates refresh tokens therefore never sees one reused.
//
// # Logout
//
// [RelyingParty.Logout] ends the session and returns the provider's
// end_session_endpoint with id_token_hint, client_id and
// post_logout_redirect_uri (RP-initiated logout), so the user is signed out
// at the provider as well.
//
// [RelyingParty.BackChannelLogout] implements OpenID Connect Back-Channel
// Logout 1.0: the provider POSTs a logout token when the user's session
// there ends. The token is verified like an ID token (typ "logout+jwt",
// "JWT" or none) and must carry the back-channel logout event in events,
// no nonce, and a jti that is accepted once (recorded in the store until
// the token expires); the jwt verifier also requires sub, so a token
// carrying only sid is refused. Every sign-in tags its session with hashes
// of the provider account (issuer and sub) and the provider session (sid)
// — see [session.SetTag] — so a logout token with sid ends the sessions
// signed in during that provider session, and one without ends every
// session signed in with the account, through
// [session.Manager.RevokeTagged]. The application user's other sessions,
// signed in with a password or another provider, stay.
//
// # Errors
//
// Errors are the sentinels of this package wrapped with detail; no error
// message contains a code, a token, a state or text from the provider.
// [ErrorPage], the default of Config.ErrorHandler, answers with a fixed
// message per kind of failure and never echoes the request. A provider's
// error_description is available in [ProviderError] for logs, reduced to
// the characters RFC 6749 allows; render it only escaped, if at all.
//
// # Threat model
//
// In scope: an attacker who crafts callback URLs (login CSRF, replay, code
// injection, mix-up between providers), who controls another client at
// the same provider (tokens for another audience), who can make a
// provider's token response carry an ID token of another flow or user, or
// who posts forged logout tokens. Out of scope: a provider that signs
// whatever an attacker asks (it is trusted by definition), and plain-HTTP
// issuers off loopback (refused unless Config.InsecureAllowHTTP).
//
// # Testing
//
// The oidctest package runs an OpenID-certified provider
// (github.com/zitadel/oidc's op) in-process on loopback, with a login page
// a test drives like a browser, back-channel logout, and hooks to play a
// hostile provider. This package's tests use it for every attack above.
package oidc
