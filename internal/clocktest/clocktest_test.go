package clocktest

import (
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("Now = %v, want %v", c.Now(), t0)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { c.Add(time.Second) })
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("after 10 concurrent Adds: %v", got)
	}
	c.Set(t0.Add(-time.Hour))
	if got := c.Now(); !got.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("after Set: %v", got)
	}

	r := FromNow()
	r.Add(time.Hour)
	if d := time.Until(r.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("FromNow + 1h is %v from now", d)
	}
	r.Set(t0)
	if d := r.Now().Sub(t0); d < 0 || d > time.Minute {
		t.Fatalf("FromNow set to t0 reads %v", r.Now())
	}
}
