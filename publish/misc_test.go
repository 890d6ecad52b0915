package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/studiobake/studiobake/build"
)

func TestDescribeS3Error(t *testing.T) {
	tests := []struct{ code, want string }{
		{"NoSuchBucket", `bucket "b" does not exist`},
		{"AccessDenied", "access denied: publishing needs s3:ListBucket"},
		{"InvalidAccessKeyId", "credentials were rejected (InvalidAccessKeyId)"},
		{"ExpiredToken", "credentials were rejected (ExpiredToken)"},
		{"SlowDown", "s3://b/k: api error SlowDown"},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			base := &smithy.GenericAPIError{Code: tc.code, Message: "m"}
			err := describeS3Error("b", "k", base)
			if !strings.Contains(err.Error(), tc.want) || !errors.Is(err, base) {
				t.Errorf("%v, want %q wrapping the SDK error", err, tc.want)
			}
		})
	}
}

func TestDeletesAreBatchedBy1000(t *testing.T) {
	store := newFakeStore()
	mustPublish(t, store, testBake{version: "1"}.write(t))
	// 1,500 old objects of studiobake's own, known to no kept release.
	for i := range 1500 {
		store.objects[fmt.Sprintf("assets/old-%04d.js", i)] = &fakeObject{data: []byte("x"), etag: "e",
			meta: map[string]string{metaSHA256: "s", metaPrefix: "/"}}
	}
	store.reset()
	defer func(n int) { maxHeads = n }(maxHeads)
	maxHeads = 2000
	rep := mustPublish(t, store, testBake{version: "2"}.write(t), func(o *Options) { o.MaxDeletes = 5000 })
	if rep.Result.Deleted < 1500 || rep.Result.Requests.Delete != 2 {
		t.Errorf("deleted %d objects in %d requests, want 1500+ in 2", rep.Result.Deleted, rep.Result.Requests.Delete)
	}
}

func TestLoadBakeRefusesEditedFiles(t *testing.T) {
	dir := testBake{version: "1"}.write(t)
	if _, err := LoadBake(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, build.SiteDir, "index.html"), []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBake(dir); err == nil || !strings.Contains(err.Error(), "index.html changed after the bake") {
		t.Errorf("edited index.html: %v", err)
	}
}

func TestLoadBakeExtraFileIsPublishedWithWarning(t *testing.T) {
	dir := testBake{version: "1"}.write(t)
	if err := os.WriteFile(filepath.Join(dir, build.SiteDir, "robots.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBake(dir)
	if err != nil || len(b.Warnings) != 1 {
		t.Fatalf("warnings %v, err %v", b.Warnings, err)
	}
	for _, f := range b.Files {
		if f.Path == "robots.txt" && (f.ContentType != "text/plain; charset=utf-8" || f.Phase != PhaseMutable) {
			t.Errorf("robots.txt: %+v", f)
		}
	}
}

// BenchmarkRepublishNoChange measures studiobake's own cost of a publish with
// nothing to do (hashing, planning) against the in-memory store.
func BenchmarkRepublishNoChange(b *testing.B) {
	store := newFakeStore()
	dir := testBake{version: "1", extra: map[string]string{"assets/big-0000.js": strings.Repeat("x", 8<<20)}}.write(b)
	o := Options{Bucket: "site", Dir: dir, clients: &testClients{store: store}}
	if _, err := Run(context.Background(), o); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if rep, err := Run(context.Background(), o); err != nil || !rep.Result.UpToDate {
			b.Fatal(err)
		}
	}
}
