module github.com/authkit/authkit/bench

go 1.26.0

require (
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/authkit/authkit v0.0.0
	github.com/gorilla/sessions v1.4.0
)

require (
	github.com/gorilla/securecookie v1.1.2 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/authkit/authkit => ../
