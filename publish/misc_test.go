package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/studiobake/studiobake/build"
)

func TestDescribeS3Error(t *testing.T) {
	tests := []struct{ code, want string }{
		{"NoSuchBucket", `bucket "b" does not exist`},
		{"AccessDenied", "access denied: publishing needs s3:ListBucket"},
		{"InvalidAccessKeyId", "credentials were rejected (InvalidAccessKeyId: m)"},
		{"ExpiredToken", "credentials were rejected (ExpiredToken: m)"},
		{"XAdminUserNotFound", "credentials were rejected (XAdminUserNotFound: m)"},
		{"InvalidBucketName", `invalid --bucket "b": the store rejects the name (InvalidBucketName: m)`},
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
	// 1,500 old objects of studiobake's own, known to no kept release (a
	// release that kept nothing has seen them: they are not new).
	for i := range 1500 {
		store.objects[fmt.Sprintf("assets/old-%04d.js", i)] = &fakeObject{data: []byte("x"), etag: "e",
			meta: map[string]string{metaSHA256: "s", metaPrefix: "/"}}
	}
	defer func(n int) { maxHeads = n }(maxHeads)
	maxHeads = 2000
	mustPublish(t, store, testBake{version: "1"}.write(t), func(o *Options) { o.MaxDeletes = -1 })
	store.reset()
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

func TestRollbackTarget(t *testing.T) {
	recs := map[string]*Release{}
	rec := func(id, digest, rollbackOf string, complete bool) *Release {
		r := &Release{ID: id, Digest: digest, RollbackOf: rollbackOf, Complete: complete}
		if rollbackOf != "" {
			r.Target = rollbackOf
		}
		recs[id] = r
		return r
	}
	// live: the live release and the chain its record keeps.
	live := func(chain ...string) liveView {
		lv := liveView{}
		if len(chain) > 0 {
			lv.id = chain[0]
		}
		for _, id := range chain {
			lv.chain = append(lv.chain, RetainedRelease{ID: id, Digest: recs[id].Digest})
		}
		return lv
	}
	tests := []struct {
		desc    string
		recs    func() []*Release // newest first
		live    []string          // the live release, then its chain
		to      string
		want    string
		wantErr string
	}{
		{desc: "the release before the live one", want: "2", live: []string{"3", "2", "1"},
			recs: func() []*Release {
				return []*Release{rec("3", "c", "", true), rec("2", "b", "", true), rec("1", "a", "", true)}
			}},
		{desc: "a live rollback goes back from its original", want: "1", live: []string{"4", "3", "2", "1"},
			recs: func() []*Release {
				return []*Release{rec("4", "b", "2", true), rec("3", "c", "", true), rec("2", "b", "", true), rec("1", "a", "", true)}
			}},
		{desc: "a release that never went live is skipped", want: "1", live: []string{"3", "1"},
			recs: func() []*Release {
				return []*Release{rec("3", "c", "", true), rec("2", "b", "", true), rec("1", "a", "", true)}
			}},
		{desc: "the newest record never went live: back from the live one", want: "2", live: []string{"3", "2", "1"},
			recs: func() []*Release {
				return []*Release{rec("4", "d", "", false), rec("3", "c", "", true), rec("2", "b", "", true), rec("1", "a", "", true)}
			}},
		{desc: "a release with the live files is skipped", want: "1", live: []string{"3", "2", "1"},
			recs: func() []*Release {
				return []*Release{rec("3", "c", "", true), rec("2", "c", "", true), rec("1", "a", "", true)}
			}},
		{desc: "an unfinished rollback is finished, not gone past", want: "2", live: []string{"3", "2", "1"},
			recs: func() []*Release {
				return []*Release{rec("4", "b", "2", false), rec("3", "c", "", true), rec("2", "b", "", true), rec("1", "a", "", true)}
			}},
		{desc: "a rollback live but incomplete is finished", want: "2", live: []string{"4", "3", "2", "1"},
			recs: func() []*Release {
				return []*Release{rec("4", "b", "2", false), rec("3", "c", "", true), rec("2", "b", "", true), rec("1", "a", "", true)}
			}},
		{desc: "--to another release than the unfinished rollback's", to: "1", want: "1", live: []string{"3", "2", "1"},
			recs: func() []*Release {
				return []*Release{rec("4", "b", "2", false), rec("3", "c", "", true), rec("2", "b", "", true), rec("1", "a", "", true)}
			}},
		{desc: "--to by id", to: "2", want: "2", live: []string{"3", "2"},
			recs: func() []*Release { return []*Release{rec("3", "c", "", true), rec("2", "b", "", true)} }},
		{desc: "--to by a unique start", to: "20261", want: "20261123", live: []string{"30000000", "20261123"},
			recs: func() []*Release { return []*Release{rec("30000000", "c", "", true), rec("20261123", "b", "", true)} }},
		{desc: "--to matching nothing", to: "9", wantErr: "matches 0 releases", live: []string{"3"},
			recs: func() []*Release { return []*Release{rec("3", "c", "", true)} }},
		{desc: "nothing earlier", wantErr: "no earlier release", live: []string{"1"},
			recs: func() []*Release { return []*Release{rec("1", "a", "", true)} }},
		{desc: "no release live and no --to", wantErr: "no release is live",
			recs: func() []*Release { return []*Release{rec("2", "b", "", true), rec("1", "a", "", true)} }},
		{desc: "no releases at all", wantErr: "no releases", recs: func() []*Release { return nil }},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			clear(recs)
			list := tc.recs()
			got, err := rollbackTarget(list, live(tc.live...), nil, tc.to)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.to != tc.want {
				t.Fatalf("target %q, %v; want %s", got.to, err, tc.want)
			}
		})
	}
}

// A rollback whose run was killed once it had finished leaves its claim:
// the same command run again finishes it rather than going back further.
func TestRollbackTargetOfAKilledRollback(t *testing.T) {
	recs := []*Release{{ID: "4", Digest: "b", RollbackOf: "2", Target: "2", Complete: true, Run: "r4"},
		{ID: "3", Digest: "c"}, {ID: "2", Digest: "b"}, {ID: "1", Digest: "a"}}
	lv := liveView{id: "4", chain: []RetainedRelease{{ID: "4", Digest: "b"}, {ID: "3", Digest: "c"}, {ID: "2", Digest: "b"}, {ID: "1", Digest: "a"}}}
	for _, tc := range []struct {
		claims map[string]RemoteObject
		want   string
	}{{nil, "1"}, {map[string]RemoteObject{"r4": {}}, "2"}} {
		got, err := rollbackTarget(recs, lv, tc.claims, "")
		if err != nil || got.to != tc.want {
			t.Errorf("claims %v: target %q, %v; want %s", tc.claims, got.to, err, tc.want)
		}
	}
}

// A clock a fraction of a millisecond past the newest id must not give an
// id that sorts before it (the random suffix would decide).
func TestReleaseIDsSortAfterTheNewest(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	for i := range 200 {
		prev := newReleaseID(base, "")
		next := newReleaseID(base.Add(time.Duration(i)*10*time.Microsecond), prev)
		if next <= prev {
			t.Fatalf("%s after %s sorts first", next, prev)
		}
	}
}

// Ctrl-C while the credentials load is an interruption, not a missing login.
func TestInterruptedCredentialsAreNotMissing(t *testing.T) {
	awsTestEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := LoadAWSConfig(ctx, AWSOptions{MaxAttempts: 1})
	if err == nil || strings.Contains(err.Error(), "no usable AWS credentials") || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want the cancellation", err)
	}
}
