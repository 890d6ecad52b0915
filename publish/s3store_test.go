package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/studiobake/studiobake/publish/s3test"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Store is a real S3-compatible server for the concurrency and fault
// tests: versitygw, or MinIO with STUDIOBAKE_TEST_S3=minio (bench/faults.sh).
type s3Store struct {
	name     string
	endpoint string
	client   *s3.Client
	buckets  atomic.Int32
}

func startStore(t *testing.T) *s3Store {
	t.Helper()
	if os.Getenv("STUDIOBAKE_TEST_S3") == "minio" {
		return startMinio(t)
	}
	v := startVersitygw(t)
	return &s3Store{name: "versitygw", endpoint: v.endpoint, client: v.client}
}

// startMinio starts MinIO ($MINIO, PATH, ~/go/bin) on 127.0.0.1; without it
// the test fails: it runs only when asked for.
func startMinio(t *testing.T) *s3Store {
	t.Helper()
	bin := os.Getenv("MINIO")
	if bin == "" {
		bin, _ = exec.LookPath("minio")
	}
	if bin == "" {
		t.Fatal("STUDIOBAKE_TEST_S3=minio but no minio ($MINIO, PATH): go install github.com/minio/minio@latest")
	}
	addr, console := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, t.TempDir())
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER=test", "MINIO_ROOT_PASSWORD=testsecret",
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s3test.WaitListening(t, addr, &out)
	awsTestEnv(t)
	s := &s3Store{name: "minio", endpoint: "http://" + addr}
	cfg, err := LoadAWSConfig(context.Background(), s.awsOptions())
	if err != nil {
		t.Fatal(err)
	}
	s.client = s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(s.endpoint), true })
	// MinIO listens before it serves: wait until it answers.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := s.client.ListBuckets(context.Background(), &s3.ListBucketsInput{}); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("minio does not answer: %v\n%s", err, out.String())
		}
	}
	return s
}

func (s *s3Store) awsOptions() AWSOptions {
	return AWSOptions{EndpointURL: s.endpoint, PathStyle: true, RequestTimeout: time.Minute, MaxAttempts: 3}
}

// newBucket creates an empty bucket for one case.
func (s *s3Store) newBucket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("case-%d", s.buckets.Add(1))
	if _, err := s.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// options are a run's options against the store, or a proxy in front of it.
func (s *s3Store) options(bucket, endpoint string, mods ...func(*Options)) Options {
	o := Options{Bucket: bucket, Prefix: "agents", AWS: s.awsOptions(), Version: "test", KeepReleases: 2}
	if endpoint != "" {
		o.AWS.EndpointURL = endpoint
	}
	for _, m := range mods {
		m(&o)
	}
	return o
}

// get reads an object, or returns nil when there is none.
func (s *s3Store) get(bucket, key string) []byte {
	out, err := s.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b
}

func (s *s3Store) keys(t *testing.T, bucket string) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = cleanETag(aws.ToString(o.ETag))
		}
	}
	return out
}

// siteProblems checks the invariant no fault or overlap may break: the
// live entry page is one of the bakes' pages, and every asset it
// references exists. It returns the problems found and the live page's
// digest.
func (s *s3Store) siteProblems(bucket, prefix string, bakes ...testBake) (problems []string, page string) {
	idx := s.get(bucket, prefix+"index.html")
	if idx == nil {
		return []string{"no live index.html"}, ""
	}
	sum := sha256.Sum256(idx)
	known := false
	for _, b := range bakes {
		known = known || b.files()["index.html"] == string(idx)
	}
	if !known {
		problems = append(problems, "the live index.html is no bake's page")
	}
	for _, p := range referenced(idx) {
		if s.get(bucket, prefix+p) == nil {
			problems = append(problems, "the live index.html references "+p+", which is missing")
		}
	}
	return problems, hex.EncodeToString(sum[:])
}

// truthProblems checks what `releases` says against the store: exactly one
// release is live and its page is the one served, no record whose page
// never reached the store is said to have been live, and no run is said to
// be in flight when none is.
func (s *s3Store) truthProblems(bucket string, page string, written func(sha string) bool) []string {
	rels, err := Releases(context.Background(), s.options(bucket, ""))
	if err != nil {
		return []string{"releases: " + err.Error()}
	}
	var problems []string
	live := 0
	for _, ri := range rels.Releases {
		if ri.Live {
			live++
			if ri.Page != page {
				problems = append(problems, fmt.Sprintf("releases calls %s live, but the page served is another", ri.ID))
			}
		}
		if (ri.State == StateLive || ri.State == StateWasLive) && written != nil && !written(ri.Page) {
			problems = append(problems, fmt.Sprintf("releases says %s %s, but its page never reached the store", ri.ID, ri.State))
		}
		if ri.State == StateInFlight {
			problems = append(problems, fmt.Sprintf("releases says %s is in flight, but no run is", ri.ID))
		}
	}
	if live != 1 {
		problems = append(problems, fmt.Sprintf("releases calls %d releases live (drift %q)", live, rels.Drift))
	}
	for _, run := range rels.InFlight {
		if !run.Gone {
			problems = append(problems, "releases says run "+run.Run+" is in flight, but no run is")
		}
	}
	return problems
}

// writeBakes writes each bake once for a test.
func writeBakes(t *testing.T, bakes map[string]testBake) map[string]string {
	t.Helper()
	dirs := map[string]string{}
	for name, b := range bakes {
		dirs[name] = b.write(t)
	}
	return dirs
}
