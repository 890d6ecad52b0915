package publish

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
// beyond; the SDK does not retry that, so publish waits and tries again.
const (
	invalidationAttempts = 8
	maxRetryBackoff      = 2 * time.Minute
)

type cdn struct {
	client  invalidator
	dist    string
	backoff time.Duration // first wait after TooManyInvalidationsInProgress
	poll    time.Duration
	report  *reporter
	count   *int64
}

// invalidate creates one invalidation for paths and returns its id. The caller
// reference names the release and is random, so that two runs never collide
// while the SDK's own retries of one request stay idempotent.
func (c *cdn) invalidate(ctx context.Context, release string, paths []string) (string, error) {
	var r [6]byte
	_, _ = rand.Read(r[:])
	in := &cloudfront.CreateInvalidationInput{
		DistributionId: aws.String(c.dist),
		InvalidationBatch: &types.InvalidationBatch{
			CallerReference: aws.String("studiobake-" + release + "-" + hex.EncodeToString(r[:])),
			Paths:           &types.Paths{Quantity: aws.Int32(int32(len(paths))), Items: paths},
		},
	}
	wait := c.backoff
	for attempt := 1; ; attempt++ {
		*c.count++
		out, err := c.client.CreateInvalidation(ctx, in)
		if err == nil {
			return aws.ToString(out.Invalidation.Id), nil
		}
		var busy *types.TooManyInvalidationsInProgress
		if !errors.As(err, &busy) || attempt == invalidationAttempts {
			return "", fmt.Errorf("invalidate %v on distribution %s: %w", paths, c.dist, err)
		}
		c.report.linef("CloudFront has too many invalidations in progress; retrying in %s", wait)
		if err := sleep(ctx, wait); err != nil {
			return "", fmt.Errorf("invalidate on distribution %s: %w", c.dist, err)
		}
		wait = min(wait*2, maxRetryBackoff)
	}
}

// waitDone polls until the invalidation is completed (CloudFront takes
// seconds to minutes) or ctx ends.
func (c *cdn) waitDone(ctx context.Context, id string) error {
	for {
		*c.count++
		out, err := c.client.GetInvalidation(ctx, &cloudfront.GetInvalidationInput{
			DistributionId: aws.String(c.dist), Id: aws.String(id)})
		if err != nil {
			return fmt.Errorf("invalidation %s on distribution %s: %w", id, c.dist, err)
		}
		status := aws.ToString(out.Invalidation.Status)
		if status == "Completed" {
			return nil
		}
		c.report.verbosef("invalidation %s: %s", id, status)
		if err := sleep(ctx, c.poll); err != nil {
			return fmt.Errorf("wait for invalidation %s: %w", id, err)
		}
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
