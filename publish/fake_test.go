package publish

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// fakeStore is an in-memory objectStore with knobs to fail the Nth request
// (before or after it takes effect) and to run code at the Nth request.
type fakeStore struct {
	mu      sync.Mutex
	objects map[string]*fakeObject
	calls   int
	ops     []string // "put key", "delete key", ... in order, as they took effect
	log     []string // "put key", "list prefix", ... every request, in order
	bucket  string   // the bucket of the last upload
	failAt  int      // fail call number failAt (1-based); 0: never
	// failAfter makes the failing call take effect first (a lost response).
	failAfter bool
	onCall    func(n int)
	pageSize  int
	// delay holds each request up to this long (random), so that a cancel
	// lands while requests are in flight.
	delay time.Duration
	rng   *rand.Rand
	// etagSalt makes ETags other than the MD5 of the content, as stores
	// with server-side encryption (SSE-KMS) answer.
	etagSalt string
	// afterPut runs after a PUT took effect (another publish's moves).
	afterPut func(key string)
	// afterList runs after a LIST took effect.
	afterList func()
	// beforeCall runs before each request, with the operation's name.
	beforeCall func(op string)
	// refuseConditions answers conditional writes NotImplemented, as
	// stores without them do.
	refuseConditions bool
	// failOn fails the requests ("put key", "delete key", ...) it is true
	// for, before they take effect.
	failOn func(op string) bool
	writes int // clock of modification times
	// slowRead reads upload bodies 32 KiB at a time with this pause
	// between reads, as a slow link takes them.
	slowRead time.Duration
	// rereadBody reads each upload body, rewinds it and reads it again, as
	// the SDK does to hash it or to retry.
	rereadBody bool
}

type fakeObject struct {
	data     []byte
	ct, cc   string
	meta     map[string]string
	etag     string
	modified time.Time
}

// fakeEpoch is the fake store's clock: each write is a millisecond later,
// so that modification times order writes as S3's do.
var fakeEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var errInjected = errors.New("injected failure")

func newFakeStore() *fakeStore { return &fakeStore{objects: map[string]*fakeObject{}, pageSize: 1000} }

// call counts a request and says whether to fail it, before or after.
func (f *fakeStore) call(ctx context.Context, op string) (failBefore, failAfter bool, err error) {
	f.mu.Lock()
	f.calls++
	f.log = append(f.log, op)
	n := f.calls
	hook := f.onCall
	var d time.Duration
	if f.delay > 0 {
		d = time.Duration(f.rng.Int64N(int64(f.delay)))
	}
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	if f.beforeCall != nil {
		f.beforeCall(op)
	}
	if d > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	if err := ctx.Err(); err != nil {
		return false, false, err
	}
	if n == f.failAt {
		return !f.failAfter, f.failAfter, nil
	}
	if f.failOn != nil && f.failOn(op) {
		return true, false, nil
	}
	return false, false, nil
}

func (f *fakeStore) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if fb, fa, err := f.call(ctx, "list"+" "+aws.ToString(in.Prefix)); err != nil || fb || fa { // reads: no effect to keep
		return nil, errors.Join(err, errInjected)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for k := range f.objects {
		if strings.HasPrefix(k, aws.ToString(in.Prefix)) && k > aws.ToString(in.ContinuationToken) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := &s3.ListObjectsV2Output{}
	if len(keys) > f.pageSize {
		keys = keys[:f.pageSize]
		out.IsTruncated, out.NextContinuationToken = aws.Bool(true), aws.String(keys[len(keys)-1])
	}
	for _, k := range keys {
		o := f.objects[k]
		out.Contents = append(out.Contents, types.Object{Key: aws.String(k), Size: aws.Int64(int64(len(o.data))),
			ETag: aws.String(`"` + o.etag + `"`), LastModified: aws.Time(o.modified)})
	}
	if f.afterList != nil {
		f.mu.Unlock()
		f.afterList()
		f.mu.Lock()
	}
	return out, nil
}

func (f *fakeStore) HeadObject(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	if fb, fa, err := f.call(ctx, "head"+" "+aws.ToString(in.Key)); err != nil || fb || fa { // reads: no effect to keep
		return nil, errors.Join(err, errInjected)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[aws.ToString(in.Key)]
	if !ok {
		return nil, &types.NotFound{}
	}
	return &s3.HeadObjectOutput{ContentType: aws.String(o.ct), CacheControl: aws.String(o.cc), Metadata: o.meta,
		ETag: aws.String(`"` + o.etag + `"`), ContentLength: aws.Int64(int64(len(o.data)))}, nil
}

func (f *fakeStore) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if fb, fa, err := f.call(ctx, "get"+" "+aws.ToString(in.Key)); err != nil || fb || fa { // reads: no effect to keep
		return nil, errors.Join(err, errInjected)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[aws.ToString(in.Key)]
	if !ok {
		return nil, &types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(o.data)), ETag: aws.String(`"` + o.etag + `"`)}, nil
}

func (f *fakeStore) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	fb, fa, err := f.call(ctx, "put"+" "+aws.ToString(in.Key))
	if err != nil || fb {
		return nil, errors.Join(err, errInjected)
	}
	f.mu.Lock()
	f.bucket = aws.ToString(in.Bucket)
	f.mu.Unlock()
	data, err := f.readBody(in.Body)
	if err != nil {
		return nil, err
	}
	sum := md5.Sum(append(data, f.etagSalt...))
	o := &fakeObject{data: data, ct: aws.ToString(in.ContentType), cc: aws.ToString(in.CacheControl),
		meta: in.Metadata, etag: hex.EncodeToString(sum[:])}
	f.mu.Lock()
	if f.refuseConditions && (in.IfMatch != nil || in.IfNoneMatch != nil) {
		f.mu.Unlock()
		return nil, &smithy.GenericAPIError{Code: "NotImplemented", Message: "A header you provided implies functionality that is not implemented"}
	}
	if err := conditionFails(f.objects[aws.ToString(in.Key)], in); err != nil {
		f.mu.Unlock()
		return nil, err
	}
	f.writes++
	o.modified = fakeEpoch.Add(time.Duration(f.writes) * time.Millisecond)
	f.objects[aws.ToString(in.Key)] = o
	f.ops = append(f.ops, "put "+aws.ToString(in.Key))
	hook := f.afterPut
	f.mu.Unlock()
	if hook != nil {
		hook(aws.ToString(in.Key))
	}
	if fa {
		return nil, errInjected
	}
	return &s3.PutObjectOutput{ETag: aws.String(`"` + o.etag + `"`)}, nil
}

func (f *fakeStore) readBody(body io.Reader) ([]byte, error) {
	if s, ok := body.(io.Seeker); ok && f.rereadBody {
		if _, err := io.Copy(io.Discard, body); err != nil {
			return nil, err
		}
		if _, err := s.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
	}
	if f.slowRead == 0 {
		return io.ReadAll(body)
	}
	var data []byte
	chunk := make([]byte, 32<<10)
	for {
		n, err := io.ReadFull(body, chunk)
		data = append(data, chunk[:n]...)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return data, nil
		} else if err != nil {
			return nil, err
		}
		time.Sleep(f.slowRead)
	}
}

// conditionFails answers If-Match and If-None-Match: * as S3 does.
func conditionFails(cur *fakeObject, in *s3.PutObjectInput) error {
	failed := &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}
	switch {
	case in.IfNoneMatch != nil && cur != nil:
		return failed
	case in.IfMatch == nil:
		return nil
	case cur == nil:
		return &types.NoSuchKey{}
	case strings.Trim(*in.IfMatch, `"`) != cur.etag:
		return failed
	}
	return nil
}

func (f *fakeStore) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, _ ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	fb, fa, err := f.call(ctx, "delete "+aws.ToString(in.Delete.Objects[0].Key))
	if err != nil || fb {
		return nil, errors.Join(err, errInjected)
	}
	if len(in.Delete.Objects) > deleteBatch {
		return nil, errors.New("MalformedXML: more than 1000 keys")
	}
	f.mu.Lock()
	for _, id := range in.Delete.Objects {
		delete(f.objects, aws.ToString(id.Key))
		f.ops = append(f.ops, "delete "+aws.ToString(id.Key))
	}
	f.mu.Unlock()
	if fa {
		return nil, errInjected
	}
	return &s3.DeleteObjectsOutput{}, nil
}

// get returns an object's content, or nil.
func (f *fakeStore) get(key string) *fakeObject {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.objects[key]
}

func (f *fakeStore) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.objects {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (f *fakeStore) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.failAt, f.failAfter, f.onCall, f.ops, f.log, f.failOn = 0, 0, false, nil, nil, nil, nil
}
