package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/studiobake/studiobake/build"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Requests counts the requests of each kind a run made (SDK retries of one
// call count once; the server's access log sees every attempt).
type Requests struct {
	List         int64 `json:"list"`
	Head         int64 `json:"head"`
	Get          int64 `json:"get"`
	Put          int64 `json:"put"`
	Delete       int64 `json:"delete"`
	Invalidation int64 `json:"invalidation"`
	// Claim: writing, renewing, reading and removing claims (claim.go).
	Claim int64 `json:"claim"`
}

// countingStore counts requests and the bytes sent by successful PUTs.
type countingStore struct {
	objectStore
	n     *Requests
	bytes atomic.Int64
}

func (c *countingStore) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, f ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	atomic.AddInt64(&c.n.List, 1)
	return c.objectStore.ListObjectsV2(ctx, in, f...)
}

func (c *countingStore) HeadObject(ctx context.Context, in *s3.HeadObjectInput, f ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	atomic.AddInt64(&c.n.Head, 1)
	return c.objectStore.HeadObject(ctx, in, f...)
}

func (c *countingStore) GetObject(ctx context.Context, in *s3.GetObjectInput, f ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	atomic.AddInt64(&c.n.Get, 1)
	return c.objectStore.GetObject(ctx, in, f...)
}

func (c *countingStore) PutObject(ctx context.Context, in *s3.PutObjectInput, f ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	atomic.AddInt64(&c.n.Put, 1)
	out, err := c.objectStore.PutObject(ctx, in, f...)
	if err == nil && in.ContentLength != nil {
		c.bytes.Add(*in.ContentLength)
	}
	return out, err
}

func (c *countingStore) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, f ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	atomic.AddInt64(&c.n.Delete, 1)
	return c.objectStore.DeleteObjects(ctx, in, f...)
}

// Result says what a run did.
type Result struct {
	Release      string        `json:"release,omitempty"`
	UpToDate     bool          `json:"upToDate"`
	Uploaded     int           `json:"uploaded"`
	Deleted      int           `json:"deleted"`
	Invalidation string        `json:"invalidation,omitempty"`
	Invalidated  []string      `json:"invalidated,omitempty"`
	Requests     Requests      `json:"requests"`
	Waited       float64       `json:"waitedSeconds,omitempty"` // for other runs on the prefix
	BytesSent    int64         `json:"bytesSent"`
	Duration     time.Duration `json:"-"`
	Seconds      float64       `json:"seconds"`
}

// Report is the --json output of publish and rollback.
type Report struct {
	Bucket   string   `json:"bucket"`
	Prefix   string   `json:"prefix"`
	DryRun   bool     `json:"dryRun"`
	Release  string   `json:"release,omitempty"`
	Plan     *Changes `json:"plan"`
	Result   *Result  `json:"result"`
	Warnings []string `json:"warnings,omitempty"`
}

// reporter writes human output: phase lines, -v action lines, a progress
// line on a terminal, and one summary line. Retry lines go to errw.
type reporter struct {
	w, errw io.Writer
	verbose bool
	bar     bool
	mu      sync.Mutex
	cur     *progress // the progress line of the phase uploading, if drawn
}

func newReporter(o *Options) *reporter {
	w := o.Stdout
	if o.JSON {
		w = o.Stderr // stdout carries the JSON report only
	}
	return &reporter{w: w, errw: o.Stderr, verbose: o.Verbose, bar: o.Progress && !o.Verbose}
}

func (r *reporter) linef(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.print(r.w, fmt.Sprintf(format, args...))
}

// print writes a line where the progress line is, and draws it again below.
func (r *reporter) print(w io.Writer, line string) {
	if r.cur != nil {
		r.cur.clear()
	}
	fmt.Fprintln(w, line)
	if r.cur != nil {
		r.cur.draw(true)
	}
}

// retrying says on stderr why a request is tried again.
func (r *reporter) retrying(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.print(r.errw, "studiobake: "+msg)
}

func (r *reporter) verbosef(format string, args ...any) {
	if r.verbose {
		r.linef(format, args...)
	}
}

// startUploads opens a phase of uploads: a progress line on a terminal,
// else one line.
func (r *reporter) startUploads(phase Phase, files int, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.bar && !r.verbose {
		fmt.Fprintf(r.w, "uploading %d %s files (%s)\n", files, phase, build.HumanBytes(bytes))
	}
	if r.bar && files > 0 {
		r.cur = &progress{w: r.w, phase: phase, files: files, total: bytes, start: time.Now(), cols: termCols(r.w)}
		r.cur.draw(true)
	}
}

// sending starts counting the upload of a; ctx carries it to put and to the
// SDK's middleware (countSent).
func (r *reporter) sending(ctx context.Context, a Action) (context.Context, *upload) {
	u := &upload{rep: r, a: a}
	return context.WithValue(ctx, uploadKey{}, u), u
}

// sent counts n more bytes sent.
func (r *reporter) sent(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil {
		r.cur.sent += n
		r.cur.draw(false)
	}
}

// uploaded counts a file stored, with the rest of its bytes.
func (r *reporter) uploaded(a Action, rest int64) {
	r.mu.Lock()
	if r.cur != nil {
		r.cur.done++
		r.cur.sent += rest
		r.cur.draw(false) // endUploads draws the last state
	}
	r.mu.Unlock()
	r.verbosef("upload %s (%s, %s)", a.Path, a.Reason, build.HumanBytes(a.Size))
}

// endUploads leaves the progress line as it stands (at 100% when every file
// is stored) on a line of its own.
func (r *reporter) endUploads() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil {
		r.cur.draw(true)
		fmt.Fprintln(r.w)
		r.cur = nil
	}
}

// printPlan lists the plan with reasons: all of it for a dry run; for -v
// what will not be logged as it happens (uploads and deletions are).
func (r *reporter) printPlan(c *Changes, all bool) {
	for _, group := range []struct {
		verb string
		acts []Action
		all  bool
	}{{"upload", c.Uploads, true}, {"unchanged", c.Unchanged, true}, {"keep", c.Kept, false},
		{"delete", c.Deletes, true}, {"defer delete", c.Deferred, false}, {"leave", c.Foreign, false},
		{"conflict", c.Conflicts, false}} {
		if group.all && !all {
			continue
		}
		for _, a := range group.acts {
			if a.Release != "" {
				r.linef("%s %s (%s %s)", group.verb, a.Path, a.Reason, a.Release)
			} else {
				r.linef("%s %s (%s)", group.verb, a.Path, a.Reason)
			}
		}
	}
	if all {
		for _, p := range c.Invalidate {
			r.linef("invalidate %s", p)
		}
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
