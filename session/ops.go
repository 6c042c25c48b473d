package session

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"

	"github.com/authkit/authkit/internal/binrec"
)

// The op log: a request's changes to the session data, kept until they
// are merged onto the stored record (see save.go). Reads see the record as
// loaded with the request's own changes applied.

// Pending change kinds.
const (
	opSet   uint8 = iota // store tag/val under key
	opDel                // remove key
	opDelIf              // remove key if it still holds tag/val (Pop)
)

// op is one pending change to the session data, kept until it is merged
// onto the stored record. At most one op per key.
type op struct {
	key  string
	kind uint8
	tag  byte
	val  []byte
}

func (st *state) opIndex(key string) int {
	for i := range st.ops {
		if st.ops[i].key == key {
			return i
		}
	}
	return -1
}

func (st *state) putOp(o op) {
	if i := st.opIndex(o.key); i >= 0 {
		st.ops[i] = o
		return
	}
	if st.ops == nil {
		st.ops = st.opsBuf[:0]
	}
	st.ops = append(st.ops, o)
}

func (st *state) dropOp(key string) {
	if i := st.opIndex(key); i >= 0 {
		st.ops = slices.Delete(st.ops, i, i+1)
	}
}

// lookup returns the value of key in this request's view: the loaded record
// with the request's own changes applied.
func (st *state) lookup(key string) (byte, []byte, bool) {
	if i := st.opIndex(key); i >= 0 {
		o := &st.ops[i]
		if o.kind == opSet {
			return o.tag, o.val, true
		}
		return 0, nil, false
	}
	return st.loadedValue(key)
}

// loadedValue returns key's value in the record as loaded, ignoring ops.
func (st *state) loadedValue(key string) (byte, []byte, bool) {
	if st.stored {
		if i := st.rec.find(key); i >= 0 {
			e := &st.rec.entries[i]
			return e.tag, e.val, true
		}
	}
	return 0, nil, false
}

// viewSize is the encoded size of the session with o applied to this
// request's view.
func (st *state) viewSize(o op) int {
	var hdr record
	if st.stored {
		hdr = st.rec
	} else {
		now := st.m.nowMS()
		hdr = record{created: now, touched: now, idle: st.m.rIdle, absolute: now + st.m.rLife}
	}
	hdr.entries = nil
	n := encodedLen(&hdr) - 1
	count := 0
	if st.stored {
		for _, e := range st.rec.entries {
			if string(e.key) == o.key || st.opIndex(string(e.key)) >= 0 {
				continue
			}
			count++
			n += entryLen(len(e.key), len(e.val))
		}
	}
	for _, p := range st.ops {
		if p.key != o.key && p.kind == opSet {
			count++
			n += entryLen(len(p.key), len(p.val))
		}
	}
	if o.kind == opSet {
		count++
		n += entryLen(len(o.key), len(o.val))
	}
	return n + binrec.UvarintLen(uint64(count))
}

// applyOps returns entries with ops applied, sorted, in dst's storage when
// it is large enough. entries is not modified and must not overlap dst.
func applyOps(dst, entries []entry, ops []op) []entry {
	out := append(dst[:0], entries...)
	for _, o := range ops {
		i, found := slices.BinarySearchFunc(out, o.key, func(e entry, k string) int {
			return bytes.Compare(e.key, []byte(k))
		})
		switch o.kind {
		case opSet:
			e := entry{key: []byte(o.key), tag: o.tag, val: o.val}
			if found {
				out[i] = e
			} else {
				out = slices.Insert(out, i, e)
			}
		case opDel:
			if found {
				out = slices.Delete(out, i, i+1)
			}
		case opDelIf:
			if found && out[i].tag == o.tag && bytes.Equal(out[i].val, o.val) {
				out = slices.Delete(out, i, i+1)
			}
		}
	}
	return out
}

// sortedSets returns the entries the pending sets make, sorted by key.
func (st *state) sortedSets() []entry {
	var es []entry
	for _, o := range st.ops {
		if o.kind == opSet {
			es = append(es, entry{key: []byte(o.key), tag: o.tag, val: o.val})
		}
	}
	slices.SortFunc(es, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	return es
}

// change applies a data change to the request's view.
func (st *state) change(o op) error {
	st.lock()
	defer st.unlock()
	if st.done {
		return st.late("change of " + strconv.Quote(o.key))
	}
	st.load()
	if st.loadErr != nil {
		return st.loadErr
	}
	if !st.stored {
		if o.kind != opSet {
			st.dropOp(o.key)
			return nil
		}
		if st.headersSent {
			return st.late("a new session (for " + strconv.Quote(o.key) + ")")
		}
		if st.renewed {
			// A new session's cookie would overwrite the renewed one.
			return fmt.Errorf("%w: the session ID was just renewed by another request", ErrEnded)
		}
		if st.crossOriginBlocked() {
			return ErrCrossOrigin
		}
	}
	if o.kind == opSet {
		if n := st.viewSize(o); n > st.m.cfg.MaxSize {
			return fmt.Errorf("%w: setting %q would make it %d bytes, over %d", ErrTooLarge, o.key, n, st.m.cfg.MaxSize)
		}
	}
	st.putOp(o)
	return nil
}

func (st *state) get(key string) (byte, []byte, error) {
	st.lock()
	defer st.unlock()
	st.load()
	if st.loadErr != nil {
		return 0, nil, st.loadErr
	}
	tag, val, ok := st.lookup(key)
	if !ok {
		return 0, nil, ErrNotFound
	}
	return tag, val, nil
}

// pop reads key, hands it to decode, and if decode succeeds removes it —
// with a conditional delete, so a value another request stores meanwhile
// survives.
func (st *state) pop(key string, decode func(tag byte, val []byte) error) error {
	st.lock()
	defer st.unlock()
	if st.done {
		return st.late("pop of " + strconv.Quote(key))
	}
	st.load()
	if st.loadErr != nil {
		return st.loadErr
	}
	tag, val, ok := st.lookup(key)
	if !ok {
		return ErrNotFound
	}
	if err := decode(tag, val); err != nil {
		return err
	}
	if ltag, lval, ok := st.loadedValue(key); ok {
		st.putOp(op{key: key, kind: opDelIf, tag: ltag, val: lval})
	} else {
		st.dropOp(key)
	}
	return nil
}

func (st *state) hasSet() bool {
	for i := range st.ops {
		if st.ops[i].kind == opSet {
			return true
		}
	}
	return false
}

// dirty reports whether a save has anything to do.
func (st *state) dirty() bool {
	if st.loadErr != nil {
		return false
	}
	if !st.stored {
		return st.hasSet()
	}
	return len(st.ops) > 0 || st.touch || st.remember != 0
}
