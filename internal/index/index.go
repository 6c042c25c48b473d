// Package index keeps small per-subject indexes in a store.Store: "the
// sessions of user U", "the tokens of client C".
//
// An index is one record per subject, stored under Prefix + SHA-256(subject),
// listing members (a member ID — the store key of a session or token record,
// never a secret — its expiry, and a few bytes of caller data). Every update
// is a CompareAndSwap loop ([cas.Do]) that also prunes expired members, and
// the record is capped. So an index never grows without bound, unlike
// indexes maintained only by expiry notifications.
//
// # Ending members
//
// The index is the ordering point of revocation. A credential is added to
// its subject's index before its record is created (and the record is
// created only if absent), and a revocation takes members out of service in
// one swap of the index: it marks them Ending, then ends each member's
// record (the caller writes a "revoked" marker under its key until the
// member's expiry), then removes them with [Index.Finish]. An Ending member
// no longer counts toward the cap and is not listed, but it stays in the
// record until Finish, so a revocation that failed half-way leaves every
// member it did not finish where the next call — a retried revocation, or
// any later update, which hands back every Ending member — finds it. No
// index ever forgets a member whose record may still be valid.
//
// A member's Expires must be at or after the latest moment its record can
// be valid: an expired member is pruned without further ado.
package index

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authkit/authkit/internal/binrec"
	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/store"
)

// Limits on what a record may hold; a stored record beyond them is corrupt.
// They are chosen so that a full record — MaxMembers members, each with the
// longest ID and data — still fits in one store value (store.MaxValueSize):
// a cap the configuration allows can always be stored, with up to
// MaxEnding Ending members beside the live ones.
const (
	MaxIDLen   = store.MaxKeySize
	MaxDataLen = 512
	// MaxMembers bounds Max, the number of live members.
	MaxMembers = 1000
	// MaxEnding bounds the Ending members a record keeps. Beyond it the
	// oldest are dropped from the record — still handed back to the caller
	// of that update, who ends them — so a store that keeps refusing the
	// revocation markers cannot grow a record past one store value.
	MaxEnding = 256
)

// Record versions: version 1 has no member flags; version 2 adds a flags
// byte per member. Records are written as version 1 whenever no member is
// Ending, so servers that only read version 1 keep working during a rolling
// deploy except while a revocation is unfinished.
const (
	recordV1 = 1
	recordV2 = 2

	flagEnding = 1 << 0
)

// ErrCorrupt is returned when a stored index record cannot be decoded.
var ErrCorrupt = errors.New("index: corrupt record")

// Member is one entry of an index.
type Member struct {
	ID      string    // the member's identifier, e.g. the store key of its record
	Created time.Time // when it was added (millisecond precision)
	Expires time.Time // when it lapses; expired members are pruned (millisecond precision)
	Data    []byte    // caller data, at most MaxDataLen bytes
	// Ending marks a member whose record is being ended: it is not listed
	// and does not count toward the cap, and it stays until [Index.Finish].
	Ending bool
}

// Index is a family of per-subject index records in a store.
type Index struct {
	Store  store.Store
	Prefix string           // namespace of the records, e.g. "sidx:"
	Max    int              // cap on live (not Ending) members per subject
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

// Update applies fn to subject's live members (expired and Ending members
// are not shown to it) in a CompareAndSwap loop, and returns every Ending
// member for the caller to end and then [Index.Finish]: those fn marked
// Ending, those the cap marked Ending (beyond Max live members, the oldest
// by Created), and those left Ending by earlier calls. fn may return
// cas.ErrNoChange to leave the record as it is (the Ending members are still
// returned); it may run several times and must not have other side effects.
// An index left with no members is deleted.
func (x *Index) Update(ctx context.Context, subject string, fn func(live []Member) ([]Member, error)) (ending []Member, err error) {
	return x.UpdateAll(ctx, subject, func(live, ending []Member) ([]Member, error) {
		next, err := fn(live)
		return append(next, ending...), err
	})
}

// UpdateAll is [Index.Update] for an fn that sees the Ending members too
// and returns the whole new list, Ending members included (it may drop one
// only once its record is ended; it must never clear Ending). The cap and
// the return value are as for Update.
func (x *Index) UpdateAll(ctx context.Context, subject string, fn func(live, ending []Member) ([]Member, error)) ([]Member, error) {
	if x.Max <= 0 || x.Max > MaxMembers {
		return nil, fmt.Errorf("index: Max must be in 1..%d", MaxMembers)
	}
	return cas.Do(ctx, x.Store, x.Key(subject), x.Retry, func(cur []byte) ([]byte, time.Time, []Member, error) {
		members, err := decode(cur)
		if err != nil {
			return nil, time.Time{}, nil, err
		}
		live, ending := split(prune(members, x.now()))
		next, err := fn(live, slices.Clone(ending))
		if errors.Is(err, cas.ErrNoChange) {
			return nil, time.Time{}, ending, err
		}
		next = slices.Clone(next)
		if err != nil {
			return nil, time.Time{}, nil, err
		}
		for _, m := range next {
			if err := checkMember(m); err != nil {
				return nil, time.Time{}, nil, err
			}
		}
		next, ending = split(next)
		if n := len(next) - x.Max; n > 0 {
			sortByCreated(next)
			for _, m := range next[:n] {
				m.Ending = true
				ending = append(ending, m)
			}
			next = next[n:]
		}
		keep := ending
		if n := len(ending) - MaxEnding; n > 0 {
			sortByCreated(ending)
			keep = ending[n:]
		}
		enc, exp := encodeRecord(append(next, keep...))
		return enc, exp, ending, nil
	})
}

func split(ms []Member) (live, ending []Member) {
	for _, m := range ms {
		if m.Ending {
			ending = append(ending, m)
		} else {
			live = append(live, m)
		}
	}
	return live, ending
}

func sortByCreated(ms []Member) {
	slices.SortStableFunc(ms, func(a, b Member) int { return a.Created.Compare(b.Created) })
}

// ErrEnding is returned by [Index.Add] for a member that is being ended.
var ErrEnding = errors.New("index: member is being revoked")

// Add records m under subject, replacing a live member with the same ID,
// and returns the Ending members (see [Index.Update]). It fails with
// [ErrEnding] if a member with m's ID is Ending: a credential being revoked
// is never brought back.
func (x *Index) Add(ctx context.Context, subject string, m Member) (ending []Member, err error) {
	if err := checkMember(m); err != nil {
		return nil, err
	}
	m.Ending = false
	return x.UpdateAll(ctx, subject, func(live, ending []Member) ([]Member, error) {
		if slices.ContainsFunc(ending, func(o Member) bool { return o.ID == m.ID }) {
			return nil, ErrEnding
		}
		live = slices.DeleteFunc(live, func(o Member) bool { return o.ID == m.ID })
		return append(append(live, m), ending...), nil
	})
}

func checkMember(m Member) error {
	if len(m.ID) == 0 || len(m.ID) > MaxIDLen || len(m.Data) > MaxDataLen {
		return fmt.Errorf("index: member ID must be 1..%d bytes and data at most %d", MaxIDLen, MaxDataLen)
	}
	return nil
}

// Take marks every live member of subject for which end reports true as
// Ending, in one swap, and returns every Ending member — these and those
// left Ending by earlier calls — for the caller to end and then
// [Index.Finish]. A nil end takes every member. This is the ordering point
// of a revocation: a member added after Take returns is not taken.
func (x *Index) Take(ctx context.Context, subject string, end func(Member) bool) (ending []Member, err error) {
	return x.Update(ctx, subject, func(live []Member) ([]Member, error) {
		for i := range live {
			if end == nil || end(live[i]) {
				live[i].Ending = true
			}
		}
		return live, nil
	})
}

// Finish removes the members with the given IDs, live or Ending, from
// subject's index. Call it only once each member's record is ended (or was
// never created): the index then no longer needs to remember it.
func (x *Index) Finish(ctx context.Context, subject string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := x.UpdateAll(ctx, subject, func(live, ending []Member) ([]Member, error) {
		all := append(live, ending...)
		n := len(all)
		all = slices.DeleteFunc(all, func(o Member) bool { return slices.Contains(ids, o.ID) })
		if len(all) == n {
			return nil, cas.ErrNoChange
		}
		return all, nil
	})
	return err
}

// RemoveAll empties subject's index except for the member whose ID is keep
// (none when keep is empty), and returns the members it removed, Ending ones
// included. It forgets members whose records may still be valid if the
// caller then fails to end them: revocations use [Index.Take] and
// [Index.Finish] instead.
func (x *Index) RemoveAll(ctx context.Context, subject, keep string) (removed []Member, err error) {
	removed, err = x.Take(ctx, subject, func(m Member) bool { return keep == "" || m.ID != keep })
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(removed))
	for i, m := range removed {
		ids[i] = m.ID
	}
	if err := x.Finish(ctx, subject, ids...); err != nil {
		return nil, err
	}
	return removed, nil
}

// Remove is Finish.
func (x *Index) Remove(ctx context.Context, subject string, ids ...string) error {
	return x.Finish(ctx, subject, ids...)
}

// List returns subject's live members (not Ending), oldest first.
func (x *Index) List(ctx context.Context, subject string) ([]Member, error) {
	live, _, err := x.Get(ctx, subject)
	return live, err
}

// Get returns subject's live members and its Ending members, each oldest
// first, with one store read.
func (x *Index) Get(ctx context.Context, subject string) (live, ending []Member, err error) {
	cur, err := x.Store.Get(ctx, x.Key(subject))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	members, err := decode(cur)
	if err != nil {
		return nil, nil, err
	}
	live, ending = split(prune(members, x.now()))
	sortByCreated(live)
	sortByCreated(ending)
	return live, ending, nil
}

func prune(ms []Member, now time.Time) []Member {
	return slices.DeleteFunc(ms, func(m Member) bool { return !m.Expires.After(now) })
}

// encodeRecord encodes members, with the record's expiry the latest of
// theirs. No members means delete the record.
func encodeRecord(members []Member) ([]byte, time.Time) {
	if len(members) == 0 {
		return nil, time.Time{}
	}
	var exp time.Time
	for _, m := range members {
		if m.Expires.After(exp) {
			exp = m.Expires
		}
	}
	return Encode(members), exp
}

// Encode returns the record form of members: a version byte, a member count,
// then for each member its ID, creation and expiry in Unix milliseconds, its
// data, and — in version 2, written only when a member is Ending — a flags
// byte; lengths and numbers as minimal varints.
func Encode(members []Member) []byte {
	version := byte(recordV1)
	if slices.ContainsFunc(members, func(m Member) bool { return m.Ending }) {
		version = recordV2
	}
	b := []byte{version}
	b = binrec.AppendUvarint(b, uint64(len(members)))
	for _, m := range members {
		b = binrec.AppendString(b, m.ID)
		b = binrec.AppendVarint(b, m.Created.UnixMilli())
		b = binrec.AppendVarint(b, m.Expires.UnixMilli())
		b = binrec.AppendBytes(b, m.Data)
		if version == recordV2 {
			var flags byte
			if m.Ending {
				flags |= flagEnding
			}
			b = append(b, flags)
		}
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
	version := b[0]
	if version != recordV1 && version != recordV2 {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, b[0])
	}
	r := binrec.NewReader(b[1:])
	// Each member takes at least 5 bytes, which bounds n by the input size.
	n := r.Count(MaxMembers+MaxEnding, 5)
	members := make([]Member, 0, n)
	for range n {
		var m Member
		id := r.Bytes(MaxIDLen)
		m.Created = time.UnixMilli(r.Varint())
		m.Expires = time.UnixMilli(r.Varint())
		data := r.Bytes(MaxDataLen)
		if version == recordV2 {
			flags := r.Byte()
			if flags&^flagEnding != 0 {
				return nil, fmt.Errorf("%w: unknown member flags", ErrCorrupt)
			}
			m.Ending = flags&flagEnding != 0
		}
		if r.Failed() || len(id) == 0 {
			return nil, ErrCorrupt
		}
		m.ID = string(id)
		if len(data) > 0 {
			m.Data = slices.Clone(data)
		}
		members = append(members, m)
	}
	if r.Err() != nil {
		return nil, ErrCorrupt
	}
	return members, nil
}
