package redisstore

import (
	"math"
	"testing"
	"time"
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
