// Package login implements the three ways people prove who they are on the
// web: a user name and password ([Password]), a login link sent by email
// ([Links]) and a one-time code sent by email or text message ([Codes]),
// with a password policy ([Policy]) for choosing passwords.
package login
