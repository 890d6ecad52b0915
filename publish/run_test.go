package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/publish/cdn"
	"github.com/studiobake/studiobake/publish/cdn/cdntest"
	"github.com/studiobake/studiobake/templates"
)

func publishFake(t *testing.T, store *fakeStore, dir string, mods ...func(*Options)) (*Report, error) {
	t.Helper()
	o := Options{Bucket: "site", Dir: dir, Version: "test", clients: &testClients{store: store}}
	for _, m := range mods {
		m(&o)
	}
	return Run(context.Background(), o)
}

func mustPublish(t *testing.T, store *fakeStore, dir string, mods ...func(*Options)) *Report {
	t.Helper()
	rep, err := publishFake(t, store, dir, mods...)
	if err != nil {
		t.Fatalf("publish %s: %v", dir, err)
	}
	return rep
}

func TestPublishFirstRepublishAndChange(t *testing.T) {
	store := newFakeStore()
	v1 := testBake{basePath: "/agents", version: "1"}
	rep := mustPublish(t, store, v1.write(t))
	if got, want := len(rep.Plan.Uploads), len(v1.files()); got != want {
		t.Fatalf("first publish uploaded %d files, want %d", got, want)
	}
	checkSite(t, store, "agents/", v1)
	checkOrder(t, store.ops, "agents/")

	store.reset()
	rep = mustPublish(t, store, v1.write(t)) // a fresh bake of the same input
	if !rep.Result.UpToDate || rep.Result.Requests != (Requests{List: 1, Get: 1}) {
		t.Errorf("no-change republish: upToDate %v, requests %+v; want up to date with 1 list and 1 get",
			rep.Result.UpToDate, rep.Result.Requests)
	}

	store.reset()
	v2 := testBake{basePath: "/agents", version: "2"}
	rep = mustPublish(t, store, v2.write(t))
	var up []string
	for _, a := range rep.Plan.Uploads {
		up = append(up, a.Path+" "+string(a.Reason))
	}
	want := []string{hashName("index", ".js", "import './vendor.js'; console.log('studio 2');\n") + " new",
		hashName("style", ".css", "2") + " new", "index.html content changed"}
	if strings.Join(up, ",") != strings.Join(want, ",") {
		t.Errorf("changed build uploads %q, want %q", up, want)
	}
	if rep.Result.Requests.Put != 4 { // 3 files and the record once
		t.Errorf("changed build: %d puts, want 4", rep.Result.Requests.Put)
	}
	if rep.Result.Requests.List != 2 { // the prefix, then the records (no other publish running)
		t.Errorf("changed build: %d lists, want 2", rep.Result.Requests.List)
	}
	checkSite(t, store, "agents/", v2)
	checkOrder(t, store.ops, "agents/")
}

// checkSite checks that every file of b is live with its headers and mark.
func checkSite(t *testing.T, store *fakeStore, prefix string, b testBake) {
	t.Helper()
	for p, content := range b.files() {
		o := store.get(prefix + p)
		if o == nil {
			t.Errorf("%s missing", p)
			continue
		}
		if string(o.data) != content {
			t.Errorf("%s has other content", p)
		}
		wantCC := "public, max-age=0, must-revalidate"
		if strings.HasPrefix(p, "assets/") {
			wantCC = "public, max-age=31536000, immutable"
		}
		if o.cc != wantCC || o.ct != contentTypeFor(p) || o.meta[metaSHA256] == "" || o.meta[metaPrefix] != "/"+prefix {
			t.Errorf("%s: Cache-Control %q Content-Type %q metadata %v", p, o.cc, o.ct, o.meta)
		}
	}
}

// checkOrder checks that no entry page is written before the assets and the
// pending release record of the same run.
func checkOrder(t *testing.T, ops []string, prefix string) {
	t.Helper()
	sawEntry, sawRecord := false, false
	for _, op := range ops {
		switch {
		case op == "put "+prefix+"index.html":
			sawEntry = true
			if !sawRecord {
				t.Errorf("index.html written before the release record: %q", ops)
			}
		case strings.HasPrefix(op, "put "+prefix+releasesDir):
			sawRecord = true
		case strings.HasPrefix(op, "put "+prefix+"assets/") && sawEntry:
			t.Errorf("asset written after index.html: %q", ops)
		}
	}
}

func TestRetentionAcrossFourReleases(t *testing.T) {
	store := newFakeStore()
	var bakes []testBake
	for i := 1; i <= 4; i++ {
		b := testBake{version: string(rune('0' + i))}
		bakes = append(bakes, b)
		mustPublish(t, store, b.write(t))
	}
	// With 3 kept releases, release 1's own assets are gone, 2 to 4 stay.
	for i, b := range bakes {
		for p := range b.files() {
			if !strings.HasPrefix(p, "assets/") {
				continue
			}
			exists := store.get(p) != nil
			shared := strings.Contains(p, "vendor")
			if want := i > 0 || shared; exists != want {
				t.Errorf("release %d asset %s exists=%v, want %v", i+1, p, exists, want)
			}
		}
	}
	if n := countRecords(store, ""); n != 3 {
		t.Errorf("%d release records, want 3", n)
	}
}

func countRecords(store *fakeStore, prefix string) int {
	n := 0
	for _, k := range store.keys() {
		if strings.HasPrefix(k, prefix+releasesDir) {
			n++
		}
	}
	return n
}

func TestRollback(t *testing.T) {
	store := newFakeStore()
	bakes := []testBake{{version: "1"}, {version: "2"}, {version: "3"}}
	for _, b := range bakes {
		mustPublish(t, store, b.write(t))
	}
	// The default three kept releases: rolling back twice must still reach
	// the first release, because copies of a release take no extra slot.
	o := Options{Bucket: "site", clients: &testClients{store: store}}
	rollback := func(to string) *Report {
		t.Helper()
		o.To = to
		rep, err := Rollback(context.Background(), o)
		if err != nil {
			t.Fatalf("rollback: %v", err)
		}
		return rep
	}
	rollback("")
	checkSite(t, store, "", bakes[1])
	rollback("") // back again: from the original of the live rollback
	checkSite(t, store, "", bakes[0])
	if _, err := Rollback(context.Background(), o); err == nil || !strings.Contains(err.Error(), "no earlier release") {
		t.Errorf("rollback past the first release: %v", err)
	}
	rels, err := Releases(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rels.Releases) != 5 || !rels.Releases[0].Live || rels.Releases[0].RollbackOf == "" {
		t.Errorf("releases after two rollbacks: %+v", rels)
	}
	rollback(rels.Releases[2].ID) // release 3, by id
	checkSite(t, store, "", bakes[2])
}

func TestRollbackRefusesWhenAssetsAreGone(t *testing.T) {
	store := newFakeStore()
	for _, v := range []string{"1", "2"} {
		mustPublish(t, store, testBake{version: v}.write(t), func(o *Options) { o.KeepReleases = 1 })
	}
	// Keep 1: the record of release 1 is gone too, so there is nothing to go back to.
	_, err := Rollback(context.Background(), Options{Bucket: "site", clients: &testClients{store: store}})
	if err == nil {
		t.Fatal("rollback with one kept release succeeded")
	}
}

func TestForeignObjects(t *testing.T) {
	store := newFakeStore()
	store.objects["agents/robots.txt"] = &fakeObject{data: []byte("x"), etag: "1"}
	v1 := testBake{basePath: "/agents", version: "1"}
	rep := mustPublish(t, store, v1.write(t))
	if len(rep.Plan.Foreign) != 1 || rep.Plan.Foreign[0].Path != "robots.txt" {
		t.Errorf("foreign = %+v", rep.Plan.Foreign)
	}
	for _, v := range []string{"2", "3", "4", "5"} {
		mustPublish(t, store, testBake{basePath: "/agents", version: v}.write(t), func(o *Options) { o.KeepReleases = 1 })
	}
	if store.get("agents/robots.txt") == nil {
		t.Error("a foreign object was deleted")
	}

	// A foreign object where the release needs to write is refused, unless forced.
	store.objects["agents/index.html"] = &fakeObject{data: []byte("theirs"), etag: "2"}
	store.reset()
	_, err := publishFake(t, store, v1.write(t))
	if err == nil || !strings.Contains(err.Error(), "did not upload") || len(store.ops) > 0 {
		t.Errorf("overwrite of a foreign index.html: err %v, ops %q", err, store.ops)
	}
	mustPublish(t, store, v1.write(t), func(o *Options) { o.Force = true })
	checkSite(t, store, "agents/", v1)
}

func TestBucketRootWithOtherObjects(t *testing.T) {
	store := newFakeStore()
	store.objects["backups/db.sql"] = &fakeObject{data: []byte("x"), etag: "1"}
	dir := testBake{version: "1"}.write(t)
	if _, err := publishFake(t, store, dir); err == nil || !strings.Contains(err.Error(), "bucket root") {
		t.Fatalf("first publish into a used bucket root: %v", err)
	}
	if len(store.ops) > 0 {
		t.Fatalf("refused publish changed the bucket: %q", store.ops)
	}
	mustPublish(t, store, dir, func(o *Options) { o.Force = true })
	// Later publishes need no --force: the root is the site's now.
	mustPublish(t, store, testBake{version: "2"}.write(t))
}

func TestRootSiteLeavesNestedSiteAlone(t *testing.T) {
	store := newFakeStore()
	nested := testBake{basePath: "/agents", version: "n"}
	mustPublish(t, store, nested.write(t))
	for _, v := range []string{"1", "2", "3"} {
		mustPublish(t, store, testBake{version: v}.write(t), func(o *Options) { o.KeepReleases = 1; o.Force = true })
	}
	checkSite(t, store, "agents/", nested)
}

func TestDryRunChangesNothing(t *testing.T) {
	store := newFakeStore()
	var out bytes.Buffer
	rep := mustPublish(t, store, testBake{version: "1"}.write(t), func(o *Options) {
		o.DryRun, o.JSON, o.Stdout, o.Stderr = true, true, &out, &out
	})
	if len(store.keys()) != 0 || rep.Result.Requests.Put != 0 {
		t.Errorf("dry run wrote %q", store.keys())
	}
	if len(rep.Plan.Uploads) == 0 || !strings.Contains(out.String(), "upload index.html (new)") {
		t.Errorf("dry run plan not shown: %s", out.String())
	}
}

func TestMaxDeletesDefersTheRest(t *testing.T) {
	store := newFakeStore()
	mustPublish(t, store, testBake{version: "1"}.write(t))
	rep := mustPublish(t, store, testBake{version: "2"}.write(t), func(o *Options) { o.KeepReleases = 1; o.MaxDeletes = 1 })
	if len(rep.Plan.Deletes) != 1 || len(rep.Plan.Deferred) != 1 {
		t.Fatalf("deletes %v deferred %v", rep.Plan.Deletes, rep.Plan.Deferred)
	}
	rep = mustPublish(t, store, testBake{version: "2"}.write(t), func(o *Options) { o.KeepReleases = 1 })
	if len(rep.Plan.Deletes) != 1 || rep.Result.Requests.Put != 0 {
		t.Errorf("the next run should delete the deferred object and upload nothing: %+v %+v", rep.Plan, rep.Result.Requests)
	}
}

func TestListPagination(t *testing.T) {
	store := newFakeStore()
	store.pageSize = 2
	b := testBake{version: "1"}
	mustPublish(t, store, b.write(t))
	rep := mustPublish(t, store, b.write(t))
	if !rep.Result.UpToDate || rep.Result.Requests.List < 3 {
		t.Errorf("paged listing: %+v", rep.Result)
	}
}

func TestJSONReport(t *testing.T) {
	store := newFakeStore()
	var out, errOut bytes.Buffer
	dir := testBake{version: "1"}.write(t)
	rep := mustPublish(t, store, dir, func(o *Options) { o.JSON, o.Stdout, o.Stderr = true, &out, &errOut })
	if err := writeJSON(&out, rep); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out.String())
	}
	res := back["result"].(map[string]any)
	if res["bytesSent"].(float64) == 0 || res["requests"].(map[string]any)["put"].(float64) == 0 {
		t.Errorf("result = %v", res)
	}
	if !strings.Contains(errOut.String(), "release ") {
		t.Errorf("summary line missing from stderr: %q", errOut.String())
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		desc, bucket, prefix, wantErr, wantBucket, wantPrefix string
	}{
		{desc: "plain bucket", bucket: "my-studio", wantBucket: "my-studio"},
		{desc: "s3 URL with a prefix", bucket: "s3://my-studio/agents", wantBucket: "my-studio", wantPrefix: "agents/"},
		{desc: "no bucket", wantErr: "no bucket"},
		{desc: "a path in the bucket", bucket: "a/b", wantErr: `invalid --bucket "a/b"`},
		{desc: "a name too short", bucket: "ab", wantErr: `invalid --bucket "ab": a bucket name is 3 to 63`},
		{desc: "a character S3 refuses", bucket: "my-studio!", wantErr: `invalid --bucket "my-studio!"`},
		{desc: "a legacy us-east-1 name", bucket: "My_Studio", wantBucket: "My_Studio"},
		{desc: "dot-dot prefix", bucket: "bkt", prefix: "../x", wantErr: "invalid --prefix"},
		{desc: "state dir prefix", bucket: "bkt", prefix: "_studiobake", wantErr: "state directory"},
		{desc: "root prefix", bucket: "bkt", prefix: "/", wantBucket: "bkt", wantPrefix: ""},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			o := Options{Bucket: tc.bucket, Prefix: tc.prefix}
			err := o.Validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Bucket != tc.wantBucket || o.prefixFor("/ignored-when-set") != tc.wantPrefix && tc.prefix+tc.wantPrefix != "" {
				t.Errorf("bucket %q prefix %q", o.Bucket, o.prefixFor("/x"))
			}
			if o.KeepReleases != 3 || o.MaxDeletes != 256 || o.Concurrency != 16 || o.AWS.RequestTimeout != 5*time.Minute {
				t.Errorf("defaults not applied: %+v", o)
			}
		})
	}
}

// A store whose ETags are not the MD5 (SSE-KMS) defeats the predicted cache
// entries: the run writes the record a second time, so that later runs
// still need no HEAD.
func TestRecordRewrittenWhenETagsAreNotMD5(t *testing.T) {
	store := newFakeStore()
	store.etagSalt = "kms"
	mustPublish(t, store, testBake{version: "1"}.write(t))
	store.reset()
	rep := mustPublish(t, store, testBake{version: "2"}.write(t))
	if got := rep.Result.Requests.Put; got != 5 { // 3 files, the record twice
		t.Errorf("changed build with other ETags: %d puts, want 5", got)
	}
	store.reset()
	rep = mustPublish(t, store, testBake{version: "2"}.write(t))
	if !rep.Result.UpToDate || rep.Result.Requests != (Requests{List: 1, Get: 1}) {
		t.Errorf("republish: requests %+v, want 1 list and 1 get", rep.Result.Requests)
	}
}

// An object that appears after a release (here a foreign one) costs one HEAD
// and one record write (under a claim, so a second LIST), once; the next run
// is back to a LIST and a GET.
func TestUpToDateRefreshesAStaleRecordOnce(t *testing.T) {
	store := newFakeStore()
	dir := testBake{version: "1"}.write(t)
	mustPublish(t, store, dir)
	store.objects["robots.txt"] = &fakeObject{data: []byte("x"), etag: "r"}
	store.reset()
	rep := mustPublish(t, store, dir)
	if !rep.Result.UpToDate || rep.Result.Requests != (Requests{List: 2, Get: 1, Head: 1, Put: 1, Claim: 2}) {
		t.Errorf("first run after the new object: %+v", rep.Result.Requests)
	}
	store.reset()
	rep = mustPublish(t, store, dir)
	if !rep.Result.UpToDate || rep.Result.Requests != (Requests{List: 1, Get: 1}) {
		t.Errorf("second run: %+v, want 1 list and 1 get", rep.Result.Requests)
	}
}

// A run that finds another run's claim waits for it, and stops before
// changing anything when --lock-timeout passes first; a claim that is not
// renewed for a lease is taken over.
func TestPublishWaitsForAnotherRun(t *testing.T) {
	store := newFakeStore()
	v1, v2 := testBake{version: "1"}, testBake{version: "2"}
	mustPublish(t, store, v1.write(t))
	other := claimBody{Run: "20260101T000000.000Z-0000", Op: "publish", Host: "ci-7", Machine: "elsewhere", PID: 7}
	raw, _ := json.Marshal(other)
	store.objects[runsDir+other.Run+".json"] = &fakeObject{data: raw, etag: "c1"}
	store.reset()
	_, err := publishFake(t, store, v2.write(t), func(o *Options) { o.LockTimeout = -1 })
	if err == nil || !strings.Contains(err.Error(), "another run holds the prefix: run "+other.Run) ||
		!strings.Contains(err.Error(), "before changing anything") {
		t.Fatalf("err = %v", err)
	}
	for _, op := range store.ops {
		if !strings.Contains(op, runsDir) {
			t.Errorf("a run that found another run's claim changed %s", op)
		}
	}
	checkSite(t, store, "", v1)

	var out bytes.Buffer
	start := time.Now()
	rep := mustPublish(t, store, v2.write(t), func(o *Options) { o.lease, o.Stdout = 300*time.Millisecond, &out })
	if d := time.Since(start); d < 300*time.Millisecond || rep.Result.Waited == 0 {
		t.Errorf("took the claim over after %s (waited %.2fs), before it went a lease unrenewed", d, rep.Result.Waited)
	}
	if !strings.Contains(out.String(), "waiting for run "+other.Run+" (publish on ci-7, pid 7)") {
		t.Errorf("the wait was not reported: %s", out.String())
	}
	checkSite(t, store, "", v2)
	if keys := claimKeys(store); len(keys) != 0 {
		t.Errorf("claims left: %q", keys)
	}
}

// A claim left on this machine by a process that is gone is taken over at
// once.
func TestClaimOfAGoneProcessIsTakenOver(t *testing.T) {
	store := newFakeStore()
	mustPublish(t, store, testBake{version: "1"}.write(t))
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skip("no true command: ", err)
	}
	other := claimBody{Run: "20260101T000000.000Z-0001", Op: "publish", Machine: thisMachine(), PID: gone.Process.Pid}
	if other.Machine == "" {
		t.Skip("no /proc: claims are judged by their lease alone here")
	}
	raw, _ := json.Marshal(other)
	store.objects[runsDir+other.Run+".json"] = &fakeObject{data: raw, etag: "c1"}
	start := time.Now()
	rep := mustPublish(t, store, testBake{version: "2"}.write(t), func(o *Options) { o.LockTimeout = -1 })
	if d := time.Since(start); d > 5*time.Second || rep.Result.Waited > 0 {
		t.Errorf("waited %s for a claim whose process is gone", d)
	}
	if keys := claimKeys(store); len(keys) != 0 {
		t.Errorf("claims left: %q", keys)
	}
}

// A listing can predate the end of a run it shows: its claim removed
// before this run reads it, or its process found gone only now. A plan
// from that listing would miss the run's last changes (it may have
// deleted assets the plan counts on), so the listing is stale, once.
func TestClaimEndedAfterTheListing(t *testing.T) {
	store := newFakeStore()
	var n int64
	c := newClaim(store, &n, "site", "", time.Minute, newReporter(&Options{Stdout: io.Discard, Stderr: io.Discard}))
	removed := "20260101T000000.000Z-0001"
	l := &listing{claims: map[string]RemoteObject{removed: {Path: runsDir + removed + ".json", ETag: "c1"}}}
	if active, _, stale, err := c.others(context.Background(), l); err != nil || len(active) != 0 || !stale {
		t.Errorf("a claim removed after the listing: active %v, stale %v, %v; want stale", active, stale, err)
	}

	// A run of this process that has released its claim (its object not
	// yet removed): gone, and the first time it is judged so, stale.
	finished := claimBody{Run: "20260101T000000.000Z-0002", Op: "publish", Machine: thisMachine(), PID: os.Getpid()}
	if finished.Machine == "" {
		t.Skip("no /proc: claims are judged by their lease alone here")
	}
	raw, _ := json.Marshal(finished)
	store.objects[runsDir+finished.Run+".json"] = &fakeObject{data: raw, etag: "c2"}
	l = &listing{claims: map[string]RemoteObject{finished.Run: {Path: runsDir + finished.Run + ".json", ETag: "c2"}}}
	for i, want := range []bool{true, false} {
		active, gone, stale, err := c.others(context.Background(), l)
		if err != nil || len(active) != 0 || len(gone) != 1 || stale != want {
			t.Errorf("look %d at a finished run's claim: active %v, gone %v, stale %v, %v; want gone, stale %v", i+1, active, gone, stale, err, want)
		}
	}
}

func claimKeys(store *fakeStore) []string {
	var out []string
	for _, k := range store.keys() {
		if strings.Contains(k, runsDir) {
			out = append(out, k)
		}
	}
	return out
}

// TestGateDeployRunsWhenTheSiteIsCurrent: the edge gate lives beside the
// site, so a gate-only change must be deployed by a publish whose files are
// all up to date, and shown by a dry run.
func TestGateDeployRunsWhenTheSiteIsCurrent(t *testing.T) {
	store := newFakeStore()
	f := startCloudFront(t)
	bake := testBake{basePath: "/agents", version: "1", gate: true}
	gate := func(o *Options) { o.Bucket, o.Gate = "studio", &cdn.GateOptions{Name: "studio-gate", Associate: true} }
	mustPublish(t, store, bake.write(t), withCDN(store, f, false), gate)
	if f.Code("studio-gate", "LIVE") == "" || f.Count("UpdateDistribution") != 1 {
		t.Fatalf("first publish: live code %q, %d distribution updates", f.Code("studio-gate", "LIVE"), f.Count("UpdateDistribution"))
	}
	f.SetDevelopmentCode("studio-gate", "function handler(e) { return e.request; }") // changed behind studiobake's back
	rep := mustPublish(t, store, bake.write(t), withCDN(store, f, false), gate)
	if !rep.Result.UpToDate || f.Count("UpdateFunction") != 1 {
		t.Errorf("up-to-date publish: upToDate %v, %d function updates; want the gate redeployed", rep.Result.UpToDate, f.Count("UpdateFunction"))
	}
	describes := f.Count("DescribeFunction")
	mustPublish(t, store, bake.write(t), withCDN(store, f, false), gate, func(o *Options) { o.DryRun, o.Stdout = true, io.Discard })
	if f.Count("DescribeFunction") == describes || f.Count("UpdateFunction") != 1 {
		t.Errorf("dry run: the gate deploy did not report, or wrote")
	}
}

// TestStaleAPIRemovedOnPublish: a publish reads what the release live
// before it had the distribution forward. A one-origin bake adds the API
// behaviour and origin; the next bake, whose page calls the server
// directly, takes both away.
func TestStaleAPIRemovedOnPublish(t *testing.T) {
	store := newFakeStore()
	f := startCloudFront(t)
	gate := func(o *Options) { o.Bucket, o.Gate = "studio", &cdn.GateOptions{Name: "studio-gate", Associate: true} }
	one := testBake{basePath: "/agents", version: "1", gate: true,
		api: build.API{Mode: build.APIOneOrigin, Prefix: "/api", Upstream: "https://mastra.internal.acme.com"}}
	mustPublish(t, store, one.write(t), withCDN(store, f, false), gate)
	if !strings.Contains(f.DistributionXML(), "<PathPattern>api/*</PathPattern>") || !strings.Contains(f.DistributionXML(), "<Id>studiobake-api</Id>") {
		t.Fatalf("the one-origin publish added no API behaviour and origin:\n%s", f.DistributionXML())
	}
	direct := testBake{basePath: "/agents", version: "2", gate: true}
	mustPublish(t, store, direct.write(t), withCDN(store, f, false), gate)
	apiLeft := func(when string) {
		t.Helper()
		if strings.Contains(f.DistributionXML(), "api/*") || strings.Contains(f.DistributionXML(), "studiobake-api") {
			t.Errorf("%s left the API behaviour or origin:\n%s", when, f.DistributionXML())
		}
	}
	apiLeft("the direct publish")

	// The live release may be a rollback, which never changes the
	// distribution: one-origin again, back to the direct bake, then a
	// direct publish.
	one.version = "3"
	mustPublish(t, store, one.write(t), withCDN(store, f, false), gate)
	if _, err := Rollback(context.Background(), Options{Bucket: "studio", Prefix: "agents/", clients: &testClients{store: store}}); err != nil {
		t.Fatal(err)
	}
	direct.version = "4"
	mustPublish(t, store, direct.write(t), withCDN(store, f, false), gate)
	apiLeft("a direct publish over a rollback")

	// A publish that stops after its page went live, before its gate
	// deploy, is finished by the same command, which is then the live
	// release itself.
	one.version = "5"
	mustPublish(t, store, one.write(t), withCDN(store, f, false), gate)
	direct.version = "6"
	dir := direct.write(t)
	ctx, cancel := context.WithCancel(context.Background())
	store.afterPut = func(key string) {
		if key == "agents/index.html" {
			cancel()
		}
	}
	o := Options{Bucket: "site", Dir: dir, Version: "test", clients: &testClients{store: store}}
	for _, m := range []func(*Options){withCDN(store, f, false), gate} {
		m(&o)
	}
	if _, err := Run(ctx, o); err == nil {
		t.Fatal("the publish did not stop after its page")
	}
	store.afterPut = nil
	mustPublish(t, store, dir, withCDN(store, f, false), gate)
	apiLeft("the re-run of a publish stopped before its gate deploy")
}

// TestGateRefusedBeforeUpload: a distribution the gate cannot cover stops
// the publish before its first write to the bucket.
func TestGateRefusedBeforeUpload(t *testing.T) {
	store := newFakeStore()
	f := startCloudFront(t)
	f.SetDistributionXML(strings.Replace(cdntest.UsualDistribution, `<TargetOriginId>s3</TargetOriginId><ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy></DefaultCacheBehavior>`,
		`<TargetOriginId>s3</TargetOriginId><ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy><FunctionAssociations><Quantity>1</Quantity><Items>`+
			`<FunctionAssociation><FunctionARN>arn:aws:cloudfront::123456789012:function/legacy</FunctionARN><EventType>viewer-request</EventType></FunctionAssociation>`+
			`</Items></FunctionAssociations></DefaultCacheBehavior>`, 1))
	_, err := publishFake(t, store, testBake{basePath: "/agents", version: "1", gate: true}.write(t), withCDN(store, f, false),
		func(o *Options) { o.Bucket, o.Gate = "studio", &cdn.GateOptions{Name: "studio-gate", Associate: true} })
	if err == nil || !strings.Contains(err.Error(), "--replace-functions") {
		t.Fatalf("err = %v", err)
	}
	for _, op := range store.ops {
		if !strings.HasPrefix(op, "list") {
			t.Errorf("%s before the refusal", op)
		}
	}
	if f.Functions() != 0 {
		t.Error("the function was created before the refusal")
	}
}

// TestGateSecretsReadAtDeploy: users kept in the KeyValueStore come from
// the users file when publish deploys, not from the bake: removing a user
// from the file and publishing the same bake again revokes them.
func TestGateSecretsReadAtDeploy(t *testing.T) {
	store := newFakeStore()
	f := startCloudFront(t)
	alice, _, _ := templates.NewUser("alice")
	bob, _, _ := templates.NewUser("bob")
	arn := "arn:aws:cloudfront::123456789012:key-value-store/0a1b2c3d"
	bake := testBake{basePath: "/agents", version: "1", gate: true, auth: templates.CloudFrontOptions{KVSARN: arn,
		Basic: &templates.BasicAuth{Realm: "S", Users: []templates.User{alice}, InKVS: true}}}.write(t)
	users := filepath.Join(t.TempDir(), "users.txt")
	publishWith := func(lines ...string) error {
		os.WriteFile(users, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
		_, err := publishFake(t, store, bake, withCDN(store, f, false), func(o *Options) {
			o.Bucket, o.Gate = "studio", &cdn.GateOptions{Name: "studio-gate", Secrets: templates.SecretInput{UsersFile: users}}
		})
		return err
	}
	if err := publishWith(alice.Line(), bob.Line()); err != nil {
		t.Fatal(err)
	}
	if kv := f.KVS(); kv["user:alice"] == "" || kv["user:bob"] == "" {
		t.Fatalf("users not deployed: %v", kv)
	}
	if err := publishWith(alice.Line()); err != nil {
		t.Fatal(err)
	}
	if kv := f.KVS(); kv["user:alice"] == "" || kv["user:bob"] != "" {
		t.Errorf("bob not revoked by an up-to-date publish: %v", kv)
	}
	_, err := publishFake(t, store, bake, withCDN(store, f, false), func(o *Options) {
		o.Bucket, o.Gate = "studio", &cdn.GateOptions{Name: "studio-gate"}
	})
	if err == nil || !strings.Contains(err.Error(), "--auth-users") {
		t.Errorf("publish without the users file: %v", err)
	}
}

// TestGateStoreAtDeploy: the gate's code names no KeyValueStore, so a bake
// built without --kvs-arn deploys with publish --kvs-arn, which the
// function is associated with and the keys go to (over an ARN recorded at
// build); without any, or with one for a gate that reads none, publish
// stops before the first upload.
func TestGateStoreAtDeploy(t *testing.T) {
	store, f := newFakeStore(), startCloudFront(t)
	alice, _, _ := templates.NewUser("alice")
	users := filepath.Join(t.TempDir(), "users.txt")
	os.WriteFile(users, []byte(alice.Line()+"\n"), 0o600)
	auth := templates.CloudFrontOptions{Basic: &templates.BasicAuth{Realm: "S", Users: []templates.User{alice}, InKVS: true}}
	bake := testBake{basePath: "/agents", version: "1", gate: true, auth: auth}.write(t)
	deploy := func(dir, arn string) error {
		_, err := publishFake(t, store, dir, withCDN(store, f, false), func(o *Options) {
			o.Bucket, o.Gate = "studio", &cdn.GateOptions{Name: "studio-gate", KVSARN: arn, Secrets: templates.SecretInput{UsersFile: users}}
		})
		return err
	}
	plain := testBake{basePath: "/agents", version: "1", gate: true}.write(t)
	for _, c := range []struct{ name, dir, arn, want string }{
		{"no store", bake, "", "--function-name: the bake's gate reads the cookie secret or users from a CloudFront KeyValueStore: give --kvs-arn ARN"},
		{"not a store", bake, "arn:aws:s3:::bucket", `invalid --kvs-arn "arn:aws:s3:::bucket"`},
		{"a gate that reads none", plain, "arn:aws:cloudfront::123456789012:key-value-store/abc", "the bake's gate reads no KeyValueStore"},
	} {
		store.reset()
		if err := deploy(c.dir, c.arn); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		if len(store.ops) != 0 || f.Functions() != 0 || len(f.KVSWrites()) != 0 {
			t.Errorf("%s: %d store operations, %d functions, keys written to %v before the refusal", c.name, len(store.ops), f.Functions(), f.KVSWrites())
		}
	}
	given := "arn:aws:cloudfront::123456789012:key-value-store/9e7e11a0"
	if err := deploy(bake, given); err != nil {
		t.Fatal(err)
	}
	if got := f.FunctionKVS("studio-gate"); len(got) != 1 || got[0] != given {
		t.Errorf("function associated with %v, want %s", got, given)
	}
	if w := f.KVSWrites(); len(w) != 1 || w[0] != given || f.KVS()["user:alice"] == "" {
		t.Errorf("keys written to %v", w)
	}
	// An ARN recorded at build is used when publish gives none, and
	// publish --kvs-arn moves the function to another store.
	auth.KVSARN = "arn:aws:cloudfront::123456789012:key-value-store/b0117"
	built := testBake{basePath: "/agents", version: "1", gate: true, auth: auth}.write(t)
	for _, arn := range []string{"", given} {
		if err := deploy(built, arn); err != nil {
			t.Fatal(err)
		}
		want := arn
		if arn == "" {
			want = auth.KVSARN
		}
		if got := f.FunctionKVS("studio-gate"); len(got) != 1 || got[0] != want {
			t.Errorf("--kvs-arn %q: function associated with %v, want %s", arn, got, want)
		}
	}
}

// TestFunctionUnreachableRefusedBeforeUpload: credentials that cannot read
// the function fail the publish before its first write, not after go-live.
func TestFunctionUnreachableRefusedBeforeUpload(t *testing.T) {
	store := newFakeStore()
	f := startCloudFront(t)
	f.DenyFunctions = true
	_, err := publishFake(t, store, testBake{basePath: "/agents", version: "1", gate: true}.write(t), withCDN(store, f, false),
		func(o *Options) { o.Bucket, o.Gate = "studio", &cdn.GateOptions{Name: "studio-gate"} })
	if err == nil || !strings.Contains(err.Error(), "--function-name studio-gate: cannot read the function, so nothing was changed") {
		t.Fatalf("err = %v", err)
	}
	for _, op := range store.ops {
		if !strings.HasPrefix(op, "list") {
			t.Errorf("%s before the refusal", op)
		}
	}
}
