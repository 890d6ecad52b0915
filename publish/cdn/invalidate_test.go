package cdn

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/studiobake/studiobake/publish/cdn/cdntest"
)

func TestInvalidatorRetriesBusy(t *testing.T) {
	f, c := newFake(t)
	f.Busy = 2
	var notes []string
	var n int64
	inv := &Invalidator{API: c.CloudFront, Distribution: cdntest.DistributionID, Backoff: time.Millisecond, Poll: time.Millisecond,
		Note: func(format string, a ...any) { notes = append(notes, format) }, Requests: &n}
	id, err := inv.Invalidate(context.Background(), "r1", []string{"/a", "/b"})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Batches(); len(got) != 1 || !reflect.DeepEqual(got[0].Paths, []string{"/a", "/b"}) || id != "I1" {
		t.Errorf("batches %+v, id %q", got, id)
	}
	if n != 3 || len(notes) != 2 {
		t.Errorf("%d requests, %d retry notes; want 3 and 2", n, len(notes))
	}
}

func TestWaitStopsOnCancel(t *testing.T) {
	f, c := newFake(t)
	f.Pending = 1 << 30
	inv := &Invalidator{API: c.CloudFront, Distribution: cdntest.DistributionID, Poll: time.Millisecond}
	id, err := inv.Invalidate(context.Background(), "r", []string{"/"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := inv.Wait(ctx, id); err == nil {
		t.Error("Wait returned nil for a never-completing invalidation")
	}
}

// Wait checks soon, then less and less often, and says each time what it
// waits for; the clock is the test's.
func TestWaitBacksOffAndSaysWhatItWaitsFor(t *testing.T) {
	f, c := newFake(t)
	f.Pending = 6
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var slept []time.Duration
	var notes []string
	inv := &Invalidator{API: c.CloudFront, Distribution: cdntest.DistributionID, Poll: 2 * time.Second,
		Note: func(format string, a ...any) { notes = append(notes, fmt.Sprintf(format, a...)) },
		now:  func() time.Time { return now },
		sleep: func(ctx context.Context, d time.Duration) error {
			slept = append(slept, d)
			now = now.Add(d)
			return ctx.Err()
		}}
	id, err := inv.Invalidate(context.Background(), "r", []string{"/"})
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Wait(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	s := time.Second
	if want := []time.Duration{2 * s, 4 * s, 8 * s, 16 * s, 20 * s, 20 * s}; !reflect.DeepEqual(slept, want) {
		t.Errorf("waited %v between checks, want %v (doubling from Poll up to DefaultPollMax)", slept, want)
	}
	want := []string{
		"waiting for CloudFront invalidation I1 on E123 (InProgress, 0s)",
		"waiting for CloudFront invalidation I1 on E123 (InProgress, 2s)",
		"waiting for CloudFront invalidation I1 on E123 (InProgress, 6s)",
		"waiting for CloudFront invalidation I1 on E123 (InProgress, 14s)",
		"waiting for CloudFront invalidation I1 on E123 (InProgress, 30s)",
		"waiting for CloudFront invalidation I1 on E123 (InProgress, 50s)",
		"CloudFront invalidation I1 on E123 completed after 1m10s",
	}
	if !reflect.DeepEqual(notes, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(want, "\n"))
	}
}
