package cdn

import (
	"context"
	"reflect"
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
