package storetest

import (
	"fmt"
	"hash/fnv"

	"github.com/anishathalye/porcupine"
)

// The register model: the sequential specification of one key of a Store,
// against which porcupine checks the histories the clients record.

// opKind is the method an operation called.
type opKind uint8

const (
	opGet opKind = iota
	opSet
	opDelete
	opCAS
)

func (k opKind) String() string {
	return [...]string{"Get", "Set", "Delete", "CompareAndSwap"}[k]
}

// opInput is what an operation was called with. Values are strings so that
// inputs compare and print easily; the empty string is "absent" (Get, the
// state) or "empty" (CompareAndSwap's old and new).
type opInput struct {
	kind    opKind
	key     string
	old     string // CompareAndSwap
	new     string // Set, CompareAndSwap
	expired bool   // Set, CompareAndSwap: expiresAt was already past
}

// opOutput is what an operation returned.
type opOutput struct {
	value   string // Get: the value, "" with found false
	found   bool   // Get
	swapped bool   // CompareAndSwap
	// unknown marks a write that failed: whether it happened is unknown,
	// and it may still happen later (a statement the server finishes after
	// the client gave up). Its return time is infinity, so porcupine may
	// place it anywhere after its call — including after every other
	// operation, which is the same as never.
	unknown bool
}

// swapCondition reports whether CompareAndSwap(old, …) finds what it expects
// in state: old empty means "only if absent".
func swapCondition(state, old string) bool {
	if old == "" {
		return state == ""
	}
	return state == old
}

// written returns what a write leaves behind when it applies: "" (absent)
// for a Delete, an empty new value or an expiry already past.
func written(in opInput) string {
	if in.kind == opDelete || in.expired {
		return ""
	}
	return in.new
}

// step is the model's transition: whether a Store holding state could
// answer in with out, and what it holds afterwards.
func step(state string, in opInput, out opOutput) (bool, string) {
	switch in.kind {
	case opGet:
		if out.found {
			return state != "" && out.value == state, state
		}
		return state == "", state
	case opSet, opDelete:
		return true, written(in)
	}
	// CompareAndSwap.
	if in.old == "" && in.new == "" {
		// Both empty: does nothing and reports false.
		return out.unknown || !out.swapped, state
	}
	cond := swapCondition(state, in.old)
	if !out.unknown && out.swapped != cond {
		return false, state
	}
	if cond {
		return true, written(in)
	}
	return true, state
}

// registerModel is the porcupine model of a Store: one register per key,
// initially absent.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(opInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		return step(state.(string), input.(opInput), output.(opOutput))
	},
	Equal: func(a, b any) bool { return a.(string) == b.(string) },
	Hash: func(state any) uint64 {
		h := fnv.New64a()
		h.Write([]byte(state.(string)))
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		return describe(input.(opInput), output.(opOutput))
	},
	DescribeState: func(state any) string {
		if state.(string) == "" {
			return "absent"
		}
		return fmt.Sprintf("%q", state)
	},
}

// describe renders one operation for a failure message or visualization.
func describe(in opInput, out opOutput) string {
	exp := ""
	if in.expired {
		exp = ", expired"
	}
	var call string
	switch in.kind {
	case opGet:
		call = fmt.Sprintf("Get(%s)", in.key)
	case opSet:
		call = fmt.Sprintf("Set(%s, %q%s)", in.key, in.new, exp)
	case opDelete:
		call = fmt.Sprintf("Delete(%s)", in.key)
	default:
		call = fmt.Sprintf("CompareAndSwap(%s, %q, %q%s)", in.key, in.old, in.new, exp)
	}
	switch {
	case out.unknown:
		return call + " → error (outcome unknown)"
	case in.kind == opGet && out.found:
		return fmt.Sprintf("%s → %q", call, out.value)
	case in.kind == opGet:
		return call + " → ErrNotFound"
	case in.kind == opCAS:
		return fmt.Sprintf("%s → %v", call, out.swapped)
	}
	return call + " → nil"
}
