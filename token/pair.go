package token

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Pair is an opaque access token with the refresh token that renews it.
//
// Both tokens are secrets: a Pair formatted with fmt (any verb, as a value
// or a pointer) or logged with slog shows them redacted to their prefixes,
// with the IDs of the access token and the family. Send the tokens with
// [Manager.WriteResponse], or read the fields themselves.
type Pair struct {
	Access     Token
	Refresh    Token
	AccessInfo Info
	Family     FamilyInfo
}

// String describes p without its secrets:
//
//	token.Pair{Access:ak_at_REDACTED Refresh:ak_rt_REDACTED AccessID:… FamilyID:… Subject:"alice"}
func (p Pair) String() string {
	return "token.Pair{Access:" + p.Access.LogValue().String() +
		" Refresh:" + p.Refresh.LogValue().String() +
		" AccessID:" + p.AccessInfo.ID +
		" FamilyID:" + p.Family.ID +
		" Subject:" + strconv.Quote(p.subject()) + "}"
}

// GoString is String: a Pair printed with %#v keeps its secrets too.
func (p Pair) GoString() string { return p.String() }

// Format implements [fmt.Formatter]: every verb and flag prints String, so
// that no verb (%x, %q, %+v…) reaches the tokens.
func (p Pair) Format(f fmt.State, verb rune) {
	s := p.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = f.Write([]byte(s))
}

// LogValue implements [slog.LogValuer]: a group of the redacted tokens, the
// access token and family IDs, and the subject.
func (p Pair) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("access", p.Access),
		slog.Any("refresh", p.Refresh),
		slog.String("access_id", p.AccessInfo.ID),
		slog.String("family_id", p.Family.ID),
		slog.String("subject", p.subject()),
	)
}

func (p Pair) subject() string {
	if p.Family.Subject != "" {
		return p.Family.Subject
	}
	return p.AccessInfo.Subject
}
