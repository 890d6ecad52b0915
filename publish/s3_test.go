package publish

import (
	"bufio"
	"context"
	"fmt"
	"github.com/studiobake/studiobake/publish/s3test"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// versitygw is a real S3-compatible server started for one test.
type versitygw struct {
	endpoint string
	logPath  string
	client   *s3.Client
	logSeen  int
}

// startVersitygw starts the server on 127.0.0.1 with the bucket "site"
// (s3test: skipped without the binary, except in CI).
func startVersitygw(t *testing.T) *versitygw {
	t.Helper()
	srv := s3test.Start(t)
	awsTestEnv(t)
	v := &versitygw{endpoint: srv.Endpoint, logPath: srv.LogPath}
	cfg, err := LoadAWSConfig(context.Background(), v.awsOptions())
	if err != nil {
		t.Fatal(err)
	}
	v.client = s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(v.endpoint), true })
	return v
}

func freeAddr(t *testing.T) string { return s3test.FreeAddr(t) }

// awsTestEnv isolates the SDK from the user's AWS configuration.
func awsTestEnv(t *testing.T) { s3test.Env(t) }

func (v *versitygw) awsOptions() AWSOptions {
	return AWSOptions{EndpointURL: v.endpoint, PathStyle: true, RequestTimeout: time.Minute, MaxAttempts: 3}
}

func (v *versitygw) publish(t *testing.T, dir string, mods ...func(*Options)) *Report {
	t.Helper()
	o := Options{Bucket: "site", Dir: dir, AWS: v.awsOptions(), Version: "test"}
	for _, m := range mods {
		m(&o)
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("publish %s: %v", dir, err)
	}
	return rep
}

// requests returns the operations the server logged since the last call.
func (v *versitygw) requests(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(v.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ops []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		for _, field := range strings.Fields(sc.Text()) {
			if strings.HasPrefix(field, "s3_") {
				n++
				if n > v.logSeen {
					ops = append(ops, strings.TrimPrefix(field, "s3_"))
				}
				break
			}
		}
	}
	v.logSeen = n
	return ops
}

func count(ops []string, op string) int {
	n := 0
	for _, o := range ops {
		if o == op {
			n++
		}
	}
	return n
}

func (v *versitygw) head(t *testing.T, key string) *s3.HeadObjectOutput {
	t.Helper()
	out, err := v.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("site"), Key: aws.String(key)})
	if err != nil {
		return nil
	}
	return out
}

func (v *versitygw) body(t *testing.T, key string) string {
	t.Helper()
	out, err := v.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("site"), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return string(b)
}

func TestS3PublishLifecycle(t *testing.T) {
	v := startVersitygw(t)
	v1 := testBake{basePath: "/agents", version: "1"}
	v.publish(t, v1.write(t))
	ops := v.requests(t)
	if n := count(ops, "PutObject"); n != len(v1.files())+2 {
		t.Errorf("first publish: %d PUTs, want %d files, the record once and the claim", n, len(v1.files()))
	}
	v.checkObjects(t, "agents/", v1)
	v.requests(t) // skip the checks' own requests

	rep := v.publish(t, v1.write(t)) // fresh rebuild, same input
	ops = v.requests(t)
	if !rep.Result.UpToDate || len(ops) > 2 || count(ops, "PutObject") > 0 {
		t.Errorf("no-change republish: server saw %q, want at most a LIST and a GET", ops)
	}

	v2 := testBake{basePath: "/agents", version: "2"}
	rep = v.publish(t, v2.write(t))
	ops = v.requests(t)
	if len(rep.Plan.Uploads) != 3 || count(ops, "PutObject") != 5 {
		t.Errorf("changed build: uploads %v, server PUTs %d; want 3 files, the record once and the claim", rep.Plan.Uploads, count(ops, "PutObject"))
	}
	v.checkObjects(t, "agents/", v2)
	v.requests(t)

	// The record cached the ETags of the files written after it: the next
	// run needs no HEAD.
	rep = v.publish(t, v2.write(t))
	if ops = v.requests(t); !rep.Result.UpToDate || len(ops) > 2 {
		t.Errorf("republish after a change: server saw %q, want at most a LIST and a GET", ops)
	}
}

// checkObjects checks content, headers and metadata of every file.
func (v *versitygw) checkObjects(t *testing.T, prefix string, b testBake) {
	t.Helper()
	for p, content := range b.files() {
		h := v.head(t, prefix+p)
		if h == nil {
			t.Errorf("%s missing", p)
			continue
		}
		wantCC := "public, max-age=0, must-revalidate"
		if strings.HasPrefix(p, "assets/") {
			wantCC = "public, max-age=31536000, immutable"
		}
		if aws.ToString(h.CacheControl) != wantCC || aws.ToString(h.ContentType) != contentTypeFor(p) ||
			h.ContentEncoding != nil || metaValue(h.Metadata, metaSHA256) == "" ||
			metaValue(h.Metadata, metaPrefix) != "/"+prefix {
			t.Errorf("%s: Cache-Control %q, Content-Type %q, Content-Encoding %v, metadata %v",
				p, aws.ToString(h.CacheControl), aws.ToString(h.ContentType), h.ContentEncoding, h.Metadata)
		}
		if got := v.body(t, prefix+p); got != content {
			t.Errorf("%s: content differs", p)
		}
	}
}

func TestS3RetentionRollbackAndForeign(t *testing.T) {
	v := startVersitygw(t)
	_, err := v.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("site"),
		Key: aws.String("agents/robots.txt"), Body: strings.NewReader("User-agent: *\n")})
	if err != nil {
		t.Fatal(err)
	}
	var bakes []testBake
	for i := 1; i <= 4; i++ {
		b := testBake{basePath: "/agents", version: fmt.Sprint(i)}
		bakes = append(bakes, b)
		rep := v.publish(t, b.write(t))
		if len(rep.Plan.Foreign) != 1 {
			t.Errorf("release %d: foreign %v, want robots.txt", i, rep.Plan.Foreign)
		}
	}
	for i, b := range bakes {
		for p := range b.files() {
			if strings.HasPrefix(p, "assets/") && !strings.Contains(p, "vendor") {
				if exists := v.head(t, "agents/"+p) != nil; exists != (i > 0) {
					t.Errorf("release %d asset %s exists=%v", i+1, p, exists)
				}
			}
		}
	}
	if v.head(t, "agents/robots.txt") == nil {
		t.Error("the foreign object was deleted")
	}
	o := Options{Bucket: "site", Prefix: "agents", AWS: v.awsOptions()}
	if _, err := Rollback(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	v.checkObjects(t, "agents/", bakes[2])
	rels, err := Releases(context.Background(), o)
	// The rollback (a copy of release 3) takes no slot: releases 2 to 4 stay.
	if err != nil || len(rels.Releases) != 4 || rels.Releases[0].RollbackOf != rels.Releases[2].ID {
		t.Errorf("releases after rollback: %+v, %v", rels, err)
	}
}

func TestS3ClearErrorsBeforeChanges(t *testing.T) {
	v := startVersitygw(t)
	dir := testBake{version: "1"}.write(t)
	_, err := Run(context.Background(), Options{Bucket: "nope", Dir: dir, AWS: v.awsOptions()})
	if err == nil || !strings.Contains(err.Error(), `bucket "nope" does not exist`) {
		t.Errorf("missing bucket: %v", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	_, err = Run(context.Background(), Options{Bucket: "site", Dir: dir, AWS: v.awsOptions()})
	if err == nil || !strings.Contains(err.Error(), "credentials were rejected") && !strings.Contains(err.Error(), "access denied") {
		t.Errorf("bad secret: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	_, err = Run(context.Background(), Options{Bucket: "site", Dir: dir, AWS: v.awsOptions()})
	if err == nil || !strings.Contains(err.Error(), "no usable AWS credentials") {
		t.Errorf("no credentials: %v", err)
	}
	if ops := v.requests(t); count(ops, "PutObject")+count(ops, "DeleteObjects") > 0 {
		t.Errorf("failed runs changed the bucket: %q", ops)
	}
}
