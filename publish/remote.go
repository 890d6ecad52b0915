package publish

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/studiobake/studiobake/build"
)

// Object metadata that marks studiobake's own objects. The prefix is part of
// the mark so that a site published at the bucket root never claims the
// objects of another studiobake site below it.
const (
	metaSHA256 = "studiobake-sha256"
	metaPrefix = "studiobake-prefix"
)

func prefixMark(prefix string) string { return "/" + prefix }

// listing is what one LIST of the prefix shows.
type listing struct {
	objects  map[string]RemoteObject // site objects by path
	releases []string                // release ids, oldest first
	records  map[string]RemoteObject // release records by id
	claims   map[string]RemoteObject // claims of runs in flight by run id
	nested   []string                // prefixes of other studiobake sites below ours
}

// newestRecord is the key, ETag and time of the newest release record.
func (l *listing) newestRecord() (RemoteObject, bool) {
	if len(l.releases) == 0 {
		return RemoteObject{}, false
	}
	return l.records[l.releases[len(l.releases)-1]], true
}

// session is one run's view of a bucket prefix.
type session struct {
	store  objectStore
	bucket string
	prefix string
	conc   int
	// heads caches what HEAD said, by path: a run looks at the prefix again
	// once it holds the claim, and an unchanged object needs no second HEAD.
	heads map[string]RemoteObject
}

func (s *session) list(ctx context.Context) (*listing, error) {
	l := &listing{objects: map[string]RemoteObject{}, records: map[string]RemoteObject{}, claims: map[string]RemoteObject{}}
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket}
	if s.prefix != "" {
		in.Prefix = aws.String(s.prefix)
	}
	var keys []RemoteObject
	for {
		out, err := s.store.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list: %w", describeS3Error(s.bucket, s.prefix, err))
		}
		for _, o := range out.Contents {
			rel := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			keys = append(keys, RemoteObject{Path: rel, Size: aws.ToInt64(o.Size), ETag: cleanETag(aws.ToString(o.ETag)),
				Modified: aws.ToTime(o.LastModified)})
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	l.classify(keys)
	return l, nil
}

// classify separates release records and other sites' objects from the site.
func (l *listing) classify(keys []RemoteObject) {
	nested := map[string]bool{}
	for _, k := range keys {
		if i := strings.Index(k.Path, build.StateDir+"/"); i > 0 && k.Path[i-1] == '/' {
			nested[k.Path[:i]] = true
		}
	}
	for n := range nested {
		l.nested = append(l.nested, n)
	}
	sort.Strings(l.nested)
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k.Path, build.StateDir+"/"):
			if id, ok := releaseIDFromKey(k.Path); ok {
				l.releases = append(l.releases, id)
				l.records[id] = k
			} else if run, ok := claimFromKey(k.Path); ok {
				l.claims[run] = k
			}
		case l.underNested(k.Path):
		default:
			l.objects[k.Path] = k
		}
	}
	sort.Strings(l.releases)
}

func (l *listing) underNested(p string) bool {
	for _, n := range l.nested {
		if strings.HasPrefix(p, n) {
			return true
		}
	}
	return false
}

func cleanETag(e string) string { return strings.Trim(e, `"`) }

// getRelease reads one release record.
func (s *session) getRelease(ctx context.Context, id string) (*Release, error) {
	key := recordKey(s.prefix, id)
	out, err := s.store.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("read release %s: %w", id, describeS3Error(s.bucket, key, err))
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("read release %s: %w", id, err)
	}
	return decodeRelease(key, b)
}

// inventory fills in what the listing cannot say (digest, headers, owner):
// from the newest record's cache while ETag and size match, else by HEAD.
// HEADs go to local paths always (their plan depends on it) and to other
// unknown objects up to maxHeads; those beyond are taken as foreign.
func (s *session) inventory(ctx context.Context, l *listing, newest *Release, local map[string]bool) (skipped int, err error) {
	var todo []string
	for p, o := range l.objects {
		if c, ok := cached(newest, o); ok {
			l.objects[p] = c
			continue
		}
		if newest != nil && newest.Foreign[p] == o.ETag {
			continue // known foreign, unchanged
		}
		if h, ok := s.heads[p]; ok && h.ETag == o.ETag && h.Size == o.Size {
			h.Modified = o.Modified
			l.objects[p] = h
			continue
		}
		todo = append(todo, p)
	}
	sort.Slice(todo, func(i, j int) bool { return local[todo[i]] && !local[todo[j]] })
	if len(todo) > maxHeads {
		for _, p := range todo[maxHeads:] {
			if !local[p] {
				skipped++
			}
		}
		todo = todo[:maxHeads]
	}
	heads := make([]RemoteObject, len(todo))
	gone := make([]bool, len(todo))
	err = forEach(ctx, s.conc, len(todo), func(ctx context.Context, i int) error {
		var err error
		heads[i], gone[i], err = s.head(ctx, l.objects[todo[i]])
		return err
	})
	if err != nil {
		return 0, err
	}
	if s.heads == nil {
		s.heads = map[string]RemoteObject{}
	}
	for i, o := range heads {
		if gone[i] {
			delete(l.objects, o.Path)
		} else {
			l.objects[o.Path] = o
			s.heads[o.Path] = o
		}
	}
	return skipped, nil
}

func cached(r *Release, o RemoteObject) (RemoteObject, bool) {
	if r == nil {
		return o, false
	}
	c, ok := r.Objects[o.Path]
	if !ok || c.ETag == "" || c.ETag != o.ETag || c.Size != o.Size {
		return o, false
	}
	o.SHA256, o.ContentType, o.CacheControl, o.Owned = c.SHA256, c.ContentType, c.CacheControl, true
	o.ContentEncoding = c.ContentEncoding
	return o, true
}

// head reads an object's headers and metadata; gone reports an object
// deleted since the listing.
func (s *session) head(ctx context.Context, o RemoteObject) (_ RemoteObject, gone bool, _ error) {
	key := s.prefix + o.Path
	out, err := s.store.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return o, true, nil
		}
		return o, false, fmt.Errorf("head: %w", describeS3Error(s.bucket, key, err))
	}
	o.ContentType, o.CacheControl = aws.ToString(out.ContentType), aws.ToString(out.CacheControl)
	o.ContentEncoding = aws.ToString(out.ContentEncoding)
	o.ETag, o.Size = cleanETag(aws.ToString(out.ETag)), aws.ToInt64(out.ContentLength)
	sum, mark := metaValue(out.Metadata, metaSHA256), metaValue(out.Metadata, metaPrefix)
	if sum != "" && mark == prefixMark(s.prefix) {
		o.SHA256, o.Owned = sum, true
	}
	return o, false, nil
}

// metaValue reads user metadata; stores differ in the case of the names.
func metaValue(m map[string]string, k string) string {
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v
		}
	}
	return ""
}
