package cdn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// Invalidation retry: CloudFront allows 3,000 paths or 15 wildcards in
// progress per distribution, and answers TooManyInvalidationsInProgress
// beyond; the SDK does not retry that, so the invalidator waits and tries
// again.
const (
	invalidationAttempts = 8
	maxRetryBackoff      = 2 * time.Minute
	// DefaultPollMax caps the interval between status checks: an
	// invalidation usually completes within a minute, sometimes many.
	DefaultPollMax = 20 * time.Second
)

// Invalidator invalidates paths of one distribution.
type Invalidator struct {
	API          InvalidationsAPI
	Distribution string
	// Backoff is the first wait after TooManyInvalidationsInProgress; Poll
	// the first interval between status checks, doubled after each check
	// up to PollMax (default DefaultPollMax).
	Backoff, Poll, PollMax time.Duration
	// Note reports a retry and what Wait waits for; Verbose reports
	// progress. Either may be nil.
	Note, Verbose func(format string, args ...any)
	// Requests, when set, counts the requests made.
	Requests *int64

	// now and sleep are the clock (time.Now and a timer when nil), for
	// tests.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// Invalidate creates one invalidation for paths and returns its id. The
// caller reference names the release and is random, so that two runs never
// collide while the SDK's own retries of one request stay idempotent.
func (c *Invalidator) Invalidate(ctx context.Context, release string, paths []string) (string, error) {
	var r [6]byte
	_, _ = rand.Read(r[:])
	in := &cloudfront.CreateInvalidationInput{
		DistributionId: aws.String(c.Distribution),
		InvalidationBatch: &types.InvalidationBatch{
			CallerReference: aws.String("studiobake-" + release + "-" + hex.EncodeToString(r[:])),
			Paths:           &types.Paths{Quantity: aws.Int32(int32(len(paths))), Items: paths},
		},
	}
	wait := c.Backoff
	for attempt := 1; ; attempt++ {
		c.count()
		out, err := c.API.CreateInvalidation(ctx, in)
		if err == nil {
			return aws.ToString(out.Invalidation.Id), nil
		}
		var busy *types.TooManyInvalidationsInProgress
		if !errors.As(err, &busy) || attempt == invalidationAttempts {
			return "", fmt.Errorf("invalidate %v on distribution %s: %w", paths, c.Distribution, err)
		}
		logf(c.Note, "CloudFront has too many invalidations in progress; retrying in %s", wait)
		if err := c.wait(ctx, wait); err != nil {
			return "", fmt.Errorf("invalidate on distribution %s: %w", c.Distribution, err)
		}
		wait = min(wait*2, maxRetryBackoff)
	}
}

// Wait polls until the invalidation is completed (CloudFront takes seconds
// to minutes) or ctx ends. It checks soon (a small invalidation is often
// done in seconds), then twice as long after each check up to PollMax, and
// says each time what it waits for.
func (c *Invalidator) Wait(ctx context.Context, id string) error {
	start := c.clock()
	interval, most := c.Poll, c.PollMax
	if most <= 0 {
		most = DefaultPollMax
	}
	for {
		c.count()
		out, err := c.API.GetInvalidation(ctx, &cloudfront.GetInvalidationInput{
			DistributionId: aws.String(c.Distribution), Id: aws.String(id)})
		if err != nil {
			return fmt.Errorf("invalidation %s on distribution %s: %w", id, c.Distribution, err)
		}
		status, waited := aws.ToString(out.Invalidation.Status), c.clock().Sub(start).Round(time.Second)
		if status == "Completed" {
			logf(c.Note, "CloudFront invalidation %s on %s completed after %s", id, c.Distribution, waited)
			return nil
		}
		logf(c.Note, "waiting for CloudFront invalidation %s on %s (%s, %s)", id, c.Distribution, status, waited)
		if err := c.wait(ctx, interval); err != nil {
			return fmt.Errorf("wait for invalidation %s: %w", id, err)
		}
		if interval < most {
			interval = min(interval*2, most)
		}
	}
}

func (c *Invalidator) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *Invalidator) wait(ctx context.Context, d time.Duration) error {
	if c.sleep != nil {
		return c.sleep(ctx, d)
	}
	return sleep(ctx, d)
}

func (c *Invalidator) count() {
	if c.Requests != nil {
		*c.Requests++
	}
}

func logf(f func(string, ...any), format string, args ...any) {
	if f != nil {
		f(format, args...)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// DistributionReader reads a distribution's configuration.
type DistributionReader interface {
	GetDistributionConfig(ctx context.Context, in *cloudfront.GetDistributionConfigInput, optFns ...func(*cloudfront.Options)) (*cloudfront.GetDistributionConfigOutput, error)
}

// Reachable reads the distribution once, so that a wrong id or credentials
// without CloudFront access fail before publish writes anything, not after
// the release is live.
func Reachable(ctx context.Context, api DistributionReader, id string) error {
	if _, err := api.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: &id}); err != nil {
		return fmt.Errorf("--distribution-id %s: cannot read the distribution, so nothing was changed: %w", id, err)
	}
	return nil
}
