package redisstore

import (
	"context"
	"errors"
	"math"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestAtLeast(t *testing.T) {
	tests := []struct {
		version string
		want    bool
	}{
		{"6.2.0", true},
		{"6.2", true},
		{"6.10.1", true},
		{"7.0.15", true},
		{"10.0.0", true},
		{"6.0.20", false},
		{"5.9.9", false},
		{"", false},
		{"7", false},
		{"x.y.z", false},
		{"7.x.1", false},
		{"-7.2.0", false},
	}
	for _, tt := range tests {
		if got := atLeast(tt.version, 6, 2); got != tt.want {
			t.Errorf("atLeast(%q, 6, 2) = %v, want %v", tt.version, got, tt.want)
		}
	}
}

func TestPXAT(t *testing.T) {
	tests := []struct {
		at   time.Time
		want int64
	}{
		{time.UnixMilli(1_700_000_000_123).Add(999 * time.Microsecond), 1_700_000_000_123}, // truncated, never later
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), 253_402_300_799_000},
		{time.Unix(math.MaxInt64/1000, 0), math.MaxInt64},
		{time.Unix(math.MaxInt64-1, 0), math.MaxInt64},
	}
	for _, tt := range tests {
		if got := pxat(tt.at); got != tt.want {
			t.Errorf("pxat(%v) = %d, want %d", tt.at, got, tt.want)
		}
	}
}

// timeoutErr is a network timeout, as go-redis reports a connection
// deadline running out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

// lateCtx is a context whose deadline has passed but whose timer has not
// yet fired: Err is still nil. go-redis can report the connection's
// timeout in that moment.
type lateCtx struct {
	context.Context
	deadline time.Time
}

func (c lateCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func TestWrapCtx(t *testing.T) {
	past := lateCtx{context.Background(), time.Now().Add(-time.Millisecond)}
	future := lateCtx{context.Background(), time.Now().Add(time.Hour)}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	wrongType := errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want error // nil: neither context error
	}{
		{"timeout at the deadline, timer not fired", past, timeoutErr{}, context.DeadlineExceeded},
		{"pool timeout at the deadline", past, redis.ErrPoolTimeout, context.DeadlineExceeded},
		{"timeout before the deadline", future, timeoutErr{}, nil},
		{"other error at the deadline", past, wrongType, nil},
		{"deadline passed", expired, timeoutErr{}, context.DeadlineExceeded},
		{"cancelled", cancelled, errors.New("EOF"), context.Canceled},
		{"already the context's", expired, context.DeadlineExceeded, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wrapCtx(tt.ctx, "get", tt.err)
			if !errors.Is(got, tt.err) {
				t.Errorf("wrapCtx = %v, which does not wrap %v", got, tt.err)
			}
			for _, ce := range []error{context.DeadlineExceeded, context.Canceled} {
				if errors.Is(got, ce) != (ce == tt.want) {
					t.Errorf("wrapCtx = %v: errors.Is(%v) = %v", got, ce, !(ce == tt.want))
				}
			}
		})
	}
}
