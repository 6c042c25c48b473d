package throttle

import (
	"encoding/binary"
	"errors"
)

// Store records. Each starts with a version byte, so that a later format can
// be read beside this one during a rolling deploy; integers are big-endian
// and times are Unix milliseconds.
//
//	counter: 0x01 | failures uint32 | last attempt int64                (13 bytes)
//	window:  0x02 | window start int64 | count uint32                   (13 bytes)
const (
	versionCounter byte = 0x01
	versionWindow  byte = 0x02
	recordLen           = 13
)

// maxFailures bounds a decoded failure count. Back-off is capped long
// before it, and a larger value in the store is corrupt.
const maxFailures = 1 << 24

// errCorrupt reports a record that is not one this package wrote. Callers
// treat such a record as absent and overwrite it, so a corrupt value cannot
// lock anyone out or wedge a counter.
var errCorrupt = errors.New("throttle: corrupt record")

// counter is the state of one back-off counter: how many failures (and
// reserved attempts) it holds and when the last one was counted.
type counter struct {
	failures uint32
	last     int64 // Unix ms
}

func (c counter) encode() []byte {
	b := make([]byte, recordLen)
	b[0] = versionCounter
	binary.BigEndian.PutUint32(b[1:], c.failures)
	binary.BigEndian.PutUint64(b[5:], uint64(c.last))
	return b
}

// decodeCounter parses a counter record. A nil or empty b is the zero
// counter (no record).
func decodeCounter(b []byte) (counter, error) {
	if len(b) == 0 {
		return counter{}, nil
	}
	if len(b) != recordLen || b[0] != versionCounter {
		return counter{}, errCorrupt
	}
	c := counter{failures: binary.BigEndian.Uint32(b[1:]), last: int64(binary.BigEndian.Uint64(b[5:]))}
	if c.failures == 0 || c.failures > maxFailures || c.last <= 0 {
		return counter{}, errCorrupt
	}
	return c, nil
}

// window is a fixed-window request count.
type window struct {
	start int64 // Unix ms
	count uint32
}

func (w window) encode() []byte {
	b := make([]byte, recordLen)
	b[0] = versionWindow
	binary.BigEndian.PutUint64(b[1:], uint64(w.start))
	binary.BigEndian.PutUint32(b[9:], w.count)
	return b
}

func decodeWindow(b []byte) (window, error) {
	if len(b) == 0 {
		return window{}, nil
	}
	if len(b) != recordLen || b[0] != versionWindow {
		return window{}, errCorrupt
	}
	w := window{start: int64(binary.BigEndian.Uint64(b[1:])), count: binary.BigEndian.Uint32(b[9:])}
	if w.count == 0 || w.count > maxFailures || w.start <= 0 {
		return window{}, errCorrupt
	}
	return w, nil
}
