// Package index keeps small per-subject indexes in a store.Store: "the
// sessions of user U", "the tokens of client C".
//
// An index is one record per subject, stored under Prefix + SHA-256(subject),
// listing members (a member ID — the store key of a session or token record,
// never a secret — its expiry, and a few bytes of caller data). Every update
// is a CompareAndSwap loop ([cas.Update]) that also prunes expired members,
// and the record is capped: adding past the cap evicts the oldest members and
// hands them back so the caller can end them. So an index never grows without
// bound, unlike indexes maintained only by expiry notifications.
package index

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/store"
)

// Limits on what a record may hold; a stored record beyond them is corrupt.
// They are chosen so that a full record — MaxMembers members, each with the
// longest ID and data — still fits in one store value (store.MaxValueSize):
// a cap the configuration allows can always be stored.
const (
	MaxIDLen   = store.MaxKeySize
	MaxDataLen = 512
	// MaxMembers bounds Max; records claiming more members are refused.
	MaxMembers = 1000
)

const recordVersion = 1

// ErrCorrupt is returned when a stored index record cannot be decoded.
var ErrCorrupt = errors.New("index: corrupt record")

// Member is one entry of an index.
type Member struct {
	ID      string    // the member's identifier, e.g. the store key of its record
	Created time.Time // when it was added (millisecond precision)
	Expires time.Time // when it lapses; expired members are pruned (millisecond precision)
	Data    []byte    // caller data, at most MaxDataLen bytes
}

// Index is a family of per-subject index records in a store.
type Index struct {
	Store  store.Store
	Prefix string           // namespace of the records, e.g. "sidx:"
	Max    int              // cap on members per subject; adding past it evicts the oldest
	Now    func() time.Time // nil means time.Now
	Retry  cas.Policy       // zero means cas.DefaultPolicy
}

func (x *Index) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

// Key returns the store key of subject's index record.
func (x *Index) Key(subject string) string { return keyhash.Key(x.Prefix, subject) }

// Update applies fn to subject's live members in a CompareAndSwap loop:
// expired members are pruned before fn sees them, and if more than Max remain
// after it, the oldest (by Created) are removed and returned so the caller
// can end them. fn may return cas.ErrNoChange to leave the record as it is;
// it may run several times and must not have other side effects. An index
// left with no members is deleted.
func (x *Index) Update(ctx context.Context, subject string, fn func([]Member) ([]Member, error)) (evicted []Member, err error) {
	if x.Max <= 0 || x.Max > MaxMembers {
		return nil, fmt.Errorf("index: Max must be in 1..%d", MaxMembers)
	}
	err = cas.Update(ctx, x.Store, x.Key(subject), x.Retry, func(cur []byte) ([]byte, time.Time, error) {
		evicted = nil
		members, err := decode(cur)
		if err != nil {
			return nil, time.Time{}, err
		}
		if members, err = fn(prune(members, x.now())); err != nil {
			return nil, time.Time{}, err
		}
		for _, m := range members {
			if err := checkMember(m); err != nil {
				return nil, time.Time{}, err
			}
		}
		if n := len(members) - x.Max; n > 0 {
			slices.SortStableFunc(members, func(a, b Member) int { return a.Created.Compare(b.Created) })
			evicted = slices.Clone(members[:n])
			members = members[n:]
		}
		return encodeRecord(members)
	})
	if err != nil {
		return nil, err
	}
	return evicted, nil
}

// Add records m under subject, replacing a member with the same ID, and
// returns the members the cap evicted (see [Index.Update]).
func (x *Index) Add(ctx context.Context, subject string, m Member) (evicted []Member, err error) {
	if err := checkMember(m); err != nil {
		return nil, err
	}
	return x.Update(ctx, subject, func(members []Member) ([]Member, error) {
		members = slices.DeleteFunc(members, func(o Member) bool { return o.ID == m.ID })
		return append(members, m), nil
	})
}

func checkMember(m Member) error {
	if len(m.ID) == 0 || len(m.ID) > MaxIDLen || len(m.Data) > MaxDataLen {
		return fmt.Errorf("index: member ID must be 1..%d bytes and data at most %d", MaxIDLen, MaxDataLen)
	}
	return nil
}

// Remove deletes the members with the given IDs from subject's index.
func (x *Index) Remove(ctx context.Context, subject string, ids ...string) error {
	_, err := x.Update(ctx, subject, func(members []Member) ([]Member, error) {
		n := len(members)
		members = slices.DeleteFunc(members, func(o Member) bool { return slices.Contains(ids, o.ID) })
		if len(members) == n {
			return nil, cas.ErrNoChange
		}
		return members, nil
	})
	return err
}

// RemoveAll empties subject's index except for the member whose ID is keep
// (none when keep is empty), and returns the members it removed.
func (x *Index) RemoveAll(ctx context.Context, subject, keep string) (removed []Member, err error) {
	_, err = x.Update(ctx, subject, func(members []Member) ([]Member, error) {
		removed = nil
		var kept []Member
		for _, m := range members {
			if keep != "" && m.ID == keep {
				kept = append(kept, m)
			} else {
				removed = append(removed, m)
			}
		}
		if len(removed) == 0 {
			return nil, cas.ErrNoChange
		}
		return kept, nil
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}

// List returns subject's live members, oldest first.
func (x *Index) List(ctx context.Context, subject string) ([]Member, error) {
	cur, err := x.Store.Get(ctx, x.Key(subject))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	members, err := decode(cur)
	if err != nil {
		return nil, err
	}
	members = prune(members, x.now())
	slices.SortStableFunc(members, func(a, b Member) int { return a.Created.Compare(b.Created) })
	return members, nil
}

func prune(ms []Member, now time.Time) []Member {
	return slices.DeleteFunc(ms, func(m Member) bool { return !m.Expires.After(now) })
}

// encodeRecord encodes members, with the record's expiry the latest of
// theirs. No members means delete the record.
func encodeRecord(members []Member) ([]byte, time.Time, error) {
	if len(members) == 0 {
		return nil, time.Time{}, nil
	}
	var exp time.Time
	for _, m := range members {
		if m.Expires.After(exp) {
			exp = m.Expires
		}
	}
	return Encode(members), exp, nil
}

// Encode returns the record form of members: a version byte, a member count,
// then for each member its ID, creation and expiry in Unix milliseconds, and
// data, lengths and numbers as unsigned varints.
func Encode(members []Member) []byte {
	b := []byte{recordVersion}
	b = binary.AppendUvarint(b, uint64(len(members)))
	for _, m := range members {
		b = binary.AppendUvarint(b, uint64(len(m.ID)))
		b = append(b, m.ID...)
		b = binary.AppendVarint(b, m.Created.UnixMilli())
		b = binary.AppendVarint(b, m.Expires.UnixMilli())
		b = binary.AppendUvarint(b, uint64(len(m.Data)))
		b = append(b, m.Data...)
	}
	return b
}

// Decode parses a record written by [Encode]. Every length is checked against
// the limits and the remaining input before anything is allocated. A nil or
// empty record is an empty index.
func Decode(b []byte) ([]Member, error) { return decode(b) }

func decode(b []byte) ([]Member, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != recordVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, b[0])
	}
	b = b[1:]
	n, b, ok := uvarint(b)
	// Each member takes at least 5 bytes, which bounds n by the input size.
	if !ok || n > MaxMembers || n > uint64(len(b)/5) {
		return nil, ErrCorrupt
	}
	members := make([]Member, 0, n)
	for range n {
		var m Member
		var l uint64
		if l, b, ok = uvarint(b); !ok || l == 0 || l > MaxIDLen || l > uint64(len(b)) {
			return nil, ErrCorrupt
		}
		m.ID, b = string(b[:l]), b[l:]
		var c, e int64
		if c, b, ok = varint(b); !ok {
			return nil, ErrCorrupt
		}
		if e, b, ok = varint(b); !ok {
			return nil, ErrCorrupt
		}
		m.Created, m.Expires = time.UnixMilli(c), time.UnixMilli(e)
		if l, b, ok = uvarint(b); !ok || l > MaxDataLen || l > uint64(len(b)) {
			return nil, ErrCorrupt
		}
		if l > 0 {
			m.Data = slices.Clone(b[:l])
		}
		b = b[l:]
		members = append(members, m)
	}
	if len(b) != 0 {
		return nil, ErrCorrupt
	}
	return members, nil
}

func uvarint(b []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, b, false
	}
	return v, b[n:], true
}

func varint(b []byte) (int64, []byte, bool) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, b, false
	}
	return v, b[n:], true
}
