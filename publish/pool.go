package publish

import (
	"context"
	"sync"
	"sync/atomic"
)

// forEach runs fn for 0..count-1 on up to n goroutines. The first error
// cancels the others and is returned; a cancelled ctx stops new work.
func forEach(ctx context.Context, n, count int, fn func(ctx context.Context, i int) error) error {
	if count == 0 {
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  atomic.Int64
	)
	next.Store(-1)
	for range min(max(n, 1), count) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1))
				if i >= count {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
