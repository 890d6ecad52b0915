package publish

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/studiobake/studiobake/build"
)

// Runs that change a prefix take turns. Each writes a claim,
// <prefix>_studiobake/runs/<run>.json, then lists the prefix, and goes on
// only when the listing shows no other run's claim; otherwise it removes its
// own and waits. Of two runs, the one that lists second sees the other's
// claim (S3 lists what was written before), so at most one goes on; both
// may back off, and try again after a random pause. This needs nothing but
// PUT, LIST and DELETE, so it holds on every S3-compatible store.
//
// A claim is renewed every lease/6. A run changes nothing later than lease/2
// after its last confirmed renewal (each change carries that deadline), and
// another run takes the prefix over only after it has seen the claim
// unchanged for a whole lease: a run that is cut off or frozen has stopped
// changing the prefix before anyone takes over. A run on the same machine
// need not wait: the claim names the process, and a process that is gone
// is gone.
//
// Where the store honours conditional writes, renewals carry If-Match, so a
// run learns at once that its claim was taken over; where it answers that
// it does not implement them, renewals go without, and the deadline alone
// guards.

// runsDir holds the claims, relative to the prefix.
const runsDir = build.StateDir + "/runs/"

// defaultLease is how long a claim may go unrenewed before its run counts as
// gone.
const defaultLease = time.Minute

func claimKey(prefix, run string) string { return prefix + runsDir + run + ".json" }

func claimFromKey(rel string) (string, bool) { return jsonName(rel, runsDir) }

// claimBody is what a claim tells the other runs.
type claimBody struct {
	Run    string `json:"run"`
	Op     string `json:"op"`               // publish or rollback
	Digest string `json:"digest,omitempty"` // the file set a publish makes live
	Host   string `json:"host,omitempty"`
	// Machine, PID and PIDStart identify the process (machine: host, boot
	// and PID namespace), so that a run on the same machine can tell that
	// the claim's process is gone.
	Machine  string    `json:"machine,omitempty"`
	PID      int       `json:"pid"`
	PIDStart string    `json:"pidStart,omitempty"`
	Started  time.Time `json:"started"`
	Beat     int       `json:"beat"` // renewals so far: each changes the ETag
}

// heldHere lists the runs of this process that hold a claim, so that a
// claim left by a finished run of this process counts as gone at once.
var heldHere sync.Map

// claim is one run's claim on a prefix.
type claim struct {
	store          objectStore // not counted per method: claims have their own counter
	count          *int64
	bucket, prefix string
	lease          time.Duration
	rep            *reporter

	mu         sync.Mutex
	body       claimBody
	held       bool
	etag       string
	validUntil time.Time
	lost       error
	cond       bool // renew with If-Match
	stop       context.CancelFunc
	done       chan struct{}

	seen map[string]*sighting // other runs' claims
	told map[string]bool      // runs the user was told about
}

// sighting is when this run first saw another claim in its current version.
type sighting struct {
	etag  string
	since time.Time
	body  *claimBody
	gone  bool // judged gone (reported once as stale, see others)
}

func newClaim(store objectStore, count *int64, bucket, prefix string, lease time.Duration, rep *reporter) *claim {
	var b [4]byte
	_, _ = rand.Read(b[:])
	host, _ := os.Hostname()
	run := time.Now().UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
	start, _, _ := procStat(os.Getpid())
	return &claim{store: store, count: count, bucket: bucket, prefix: prefix, lease: lease, rep: rep,
		body: claimBody{Run: run, Host: host, Machine: thisMachine(), PID: os.Getpid(), PIDStart: start},
		seen: map[string]*sighting{}, told: map[string]bool{}}
}

// claimLostError: the run may no longer change the prefix.
type claimLostError struct{ why string }

func (e *claimLostError) Error() string { return "lost its claim on the prefix: " + e.why }

// take writes the claim. The caller lists the prefix next and goes on only
// when no other claim is there.
func (c *claim) take(ctx context.Context) error {
	c.mu.Lock()
	c.body.Started, c.body.Beat = time.Now().UTC(), 0
	c.mu.Unlock()
	sent := time.Now()
	etag, err := c.put(ctx, nil)
	if err != nil {
		// The PUT may have landed with its answer lost: leave no claim
		// for other machines to wait a lease on.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		_ = c.remove(rctx, []string{claimKey(c.prefix, c.body.Run)})
		return fmt.Errorf("claim: %w", err)
	}
	hb, stop := context.WithCancel(context.WithoutCancel(ctx))
	c.mu.Lock()
	c.etag, c.held, c.validUntil, c.lost, c.cond = etag, true, sent.Add(c.lease/2), nil, true
	c.stop, c.done = stop, make(chan struct{})
	c.mu.Unlock()
	heldHere.Store(c.body.Run, true)
	go c.heartbeat(hb)
	return nil
}

func (c *claim) put(ctx context.Context, ifMatch *string) (string, error) {
	c.mu.Lock()
	b, err := json.Marshal(c.body)
	c.mu.Unlock()
	if err != nil {
		return "", err
	}
	key := claimKey(c.prefix, c.body.Run)
	c.counted()
	out, err := c.store.PutObject(ctx, &s3.PutObjectInput{Bucket: &c.bucket, Key: &key, Body: bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String("application/json"),
		CacheControl: aws.String("no-store"), IfMatch: ifMatch})
	if err != nil {
		return "", describeS3Error(c.bucket, key, err)
	}
	return cleanETag(aws.ToString(out.ETag)), nil
}

func (c *claim) counted() { atomic.AddInt64(c.count, 1) }

func (c *claim) heartbeat(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.lease / 6)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.renew(ctx)
		}
	}
}

// renew rewrites the claim; once the deadline has passed, the claim is lost
// for good: another run may have taken over.
func (c *claim) renew(ctx context.Context) {
	c.mu.Lock()
	if c.lost == nil && !time.Now().Before(c.validUntil) {
		c.lost = &claimLostError{fmt.Sprintf("no renewal reached the store for %s", c.lease/2)}
	}
	if c.lost != nil {
		c.mu.Unlock()
		return
	}
	c.body.Beat++
	until, etag, cond := c.validUntil, c.etag, c.cond
	c.mu.Unlock()
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	var match *string
	if cond {
		match = aws.String(`"` + etag + `"`)
	}
	sent := time.Now()
	tag, err := c.put(ctx, match)
	if err != nil && cond && (isPreconditionFailed(err) || isNotFound(err)) {
		// Ours, when an earlier renewal's answer was lost; else another
		// run judged this one gone.
		if body, b, rerr := c.read(ctx, c.body.Run); rerr == nil && body != nil && body.Run == c.body.Run {
			tag, err = b.ETag, nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		c.etag, c.validUntil = tag, sent.Add(c.lease/2)
	case cond && isNotImplemented(err):
		c.cond = false // the store does no conditional writes: the deadline alone guards
	case cond && (isPreconditionFailed(err) || isNotFound(err)):
		c.lost = &claimLostError{"another run removed or replaced the claim"}
	}
	// Other failures: the next tick tries again; the deadline stops changes meanwhile.
}

// bound limits ctx to the claim's validity: a change sent under it lands
// before another run can take the prefix over, or not at all.
func (c *claim) bound(ctx context.Context) (context.Context, context.CancelFunc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.held:
		return nil, nil, errors.New("internal error: a change without a claim on the prefix")
	case c.lost != nil:
		return nil, nil, c.lost
	case !time.Now().Before(c.validUntil):
		c.lost = &claimLostError{fmt.Sprintf("no renewal reached the store for %s", c.lease/2)}
		return nil, nil, c.lost
	}
	ctx, cancel := context.WithDeadline(ctx, c.validUntil)
	return ctx, cancel, nil
}

func (c *claim) isHeld() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// lostReason is why the claim was lost, or nil.
func (c *claim) lostReason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lost == nil && c.held && !time.Now().Before(c.validUntil) {
		c.lost = &claimLostError{fmt.Sprintf("no renewal reached the store for %s", c.lease/2)}
	}
	return c.lost
}

// release removes the claim, also when ctx was cancelled (Ctrl-C): the next
// run need not wait for it to lapse.
func (c *claim) release(ctx context.Context) error {
	c.mu.Lock()
	held := c.held
	c.held = false
	c.mu.Unlock()
	if !held {
		return nil
	}
	c.stop()
	<-c.done
	heldHere.Delete(c.body.Run)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	return c.remove(ctx, []string{claimKey(c.prefix, c.body.Run)})
}

func (c *claim) remove(ctx context.Context, keys []string) error {
	ids := make([]types.ObjectIdentifier, len(keys))
	for i := range keys {
		ids[i] = types.ObjectIdentifier{Key: aws.String(keys[i])}
	}
	c.counted()
	out, err := c.store.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &c.bucket,
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
	if err == nil && len(out.Errors) > 0 {
		err = fmt.Errorf("%s: %s", aws.ToString(out.Errors[0].Code), aws.ToString(out.Errors[0].Message))
	}
	if err != nil {
		return fmt.Errorf("remove claim: %w", describeS3Error(c.bucket, keys[0], err))
	}
	return nil
}

// read reads a run's claim; a claim gone since the listing gives nil.
func (c *claim) read(ctx context.Context, run string) (*claimBody, RemoteObject, error) {
	key := claimKey(c.prefix, run)
	c.counted()
	out, err := c.store.GetObject(ctx, &s3.GetObjectInput{Bucket: &c.bucket, Key: &key})
	if isNotFound(err) {
		return nil, RemoteObject{}, nil
	}
	if err != nil {
		return nil, RemoteObject{}, fmt.Errorf("read claim: %w", describeS3Error(c.bucket, key, err))
	}
	defer out.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(out.Body, 1<<20))
	if err != nil {
		return nil, RemoteObject{}, fmt.Errorf("read claim %s: %w", key, err)
	}
	var b claimBody
	if json.Unmarshal(raw, &b) != nil {
		b = claimBody{Run: run} // not ours to read: judged by its lease alone
	}
	return &b, RemoteObject{ETag: cleanETag(aws.ToString(out.ETag))}, nil
}

// others sorts the other claims listed into runs in flight and runs gone:
// a claim is gone when its process is known to be gone, or when this run
// has seen it unchanged for a lease. stale says that l may not show what a
// listed run did: its claim was removed after the listing (the run
// finished), or it is judged gone for the first time, after the listing
// was taken. A plan made from l must then be made again from a new one,
// or it would miss that run's last changes (the assets it deleted).
func (c *claim) others(ctx context.Context, l *listing) (active []claimBody, gone []string, stale bool, err error) {
	now := time.Now()
	for run, o := range l.claims {
		if run == c.body.Run {
			continue
		}
		s := c.seen[run]
		if s == nil || s.etag != o.ETag {
			body, _, err := c.read(ctx, run)
			if err != nil {
				return nil, nil, false, err
			}
			if body == nil {
				stale = true // removed since the listing
				continue
			}
			s = &sighting{etag: o.ETag, since: now, body: body}
			c.seen[run] = s
		}
		if s.body.processGone() || now.Sub(s.since) >= c.lease {
			stale = stale || !s.gone
			s.gone = true
			gone = append(gone, c.prefix+o.Path)
			continue
		}
		active = append(active, *s.body)
	}
	return active, gone, stale, nil
}

// processGone reports a claim whose process is known to have ended: it ran
// on this machine and its PID is gone or is another process now.
func (b *claimBody) processGone() bool {
	if b.Machine == "" || b.Machine != thisMachine() {
		return false
	}
	if b.PID == os.Getpid() {
		_, held := heldHere.Load(b.Run)
		return !held
	}
	start, state, ok := procStat(b.PID)
	return !ok || start != b.PIDStart || state == 'Z' || state == 'X'
}

// wait pauses before the next look at the prefix, after telling the user
// once about each run it waits for; it gives up at deadline.
func (c *claim) wait(ctx context.Context, active []claimBody, deadline time.Time) error {
	for _, b := range active {
		if !c.told[b.Run] {
			c.told[b.Run] = true
			c.rep.linef("waiting for %s (a run that is gone is taken over after %s without renewal)", b.describe(), c.lease)
		}
	}
	if !time.Now().Before(deadline) {
		return &busyError{active[0]}
	}
	pause := min(c.lease/6, 2*time.Second)
	pause = pause/2 + time.Duration(mrand.Int64N(int64(pause)))
	t := time.NewTimer(min(pause, time.Until(deadline)+time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (b claimBody) describe() string {
	what := b.Op
	if b.Digest != "" {
		what += " of file set " + b.Digest[:min(12, len(b.Digest))]
	}
	s := fmt.Sprintf("run %s (%s", b.Run, what)
	if b.Host != "" {
		s += fmt.Sprintf(" on %s, pid %d", b.Host, b.PID)
	}
	if !b.Started.IsZero() {
		s += ", since " + b.Started.Format(time.RFC3339)
	}
	return s + ")"
}

// busyError: another run held the prefix for as long as this one would wait.
type busyError struct{ other claimBody }

func (e *busyError) Error() string {
	return fmt.Sprintf("another run holds the prefix: %s; stopped before changing anything: "+
		"run again once it has finished (raise --lock-timeout to wait longer)", e.other.describe())
}
