package publish

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/studiobake/studiobake/publish/cdn"
	"github.com/studiobake/studiobake/publish/cdn/cdntest"
)

// frame is one drawing of the progress line.
type frame struct {
	verb        string
	done, files int
	phase       string
	pct         int
	sent, total string
	line        string
}

var frameLine = regexp.MustCompile(`^(uploading|uploaded) (\d+)/(\d+) (\w+) files \[[= ]{16}\] +(\d+)% ` +
	`(\d+(?:\.\d)? (?:B|KiB|MiB)) of (\d+(?:\.\d)? (?:B|KiB|MiB))`)

// frames splits terminal output into the progress lines drawn for phase.
func frames(t *testing.T, out, phase string) []frame {
	t.Helper()
	var fs []frame
	for _, seg := range strings.FieldsFunc(out, func(r rune) bool { return r == '\r' || r == '\n' }) {
		seg = strings.TrimSpace(seg)
		if !strings.HasPrefix(seg, "uploading ") && !strings.HasPrefix(seg, "uploaded ") || !strings.Contains(seg, "[") {
			continue
		}
		m := frameLine.FindStringSubmatch(seg)
		if m == nil {
			t.Fatalf("progress line %q does not read as expected (binary units)", seg)
		}
		if m[4] != phase {
			continue
		}
		done, _ := strconv.Atoi(m[2])
		files, _ := strconv.Atoi(m[3])
		pct, _ := strconv.Atoi(m[5])
		fs = append(fs, frame{verb: m[1], done: done, files: files, phase: m[4], pct: pct, sent: m[6], total: m[7], line: seg})
	}
	return fs
}

// sizeOf reads a size as human.Bytes writes it.
func sizeOf(s string) float64 {
	var v float64
	var unit string
	if _, err := fmt.Sscanf(s, "%g %s", &v, &unit); err != nil {
		panic(err)
	}
	return v * map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20}[unit]
}

// The progress line counts bytes as the store takes them: it moves while
// one large file is in flight, never goes back or past 100%, and ends at
// 100% with every byte counted once, also when bodies are read twice.
func TestProgressCountsBytesInFlight(t *testing.T) {
	big := strings.Repeat("studio chunk ", 1<<20/13) // about 1 MiB, read in 32 chunks
	for _, c := range []struct {
		desc   string
		reread bool
	}{
		{"each body read once, slowly", false},
		{"each body read twice (hashing or a retry), the second time slowly", true},
	} {
		t.Run(c.desc, func(t *testing.T) {
			store := newFakeStore()
			store.slowRead, store.rereadBody = 20*time.Millisecond, c.reread
			var out bytes.Buffer
			dir := testBake{version: "1", extra: map[string]string{hashName("big", ".js", big): big}}.write(t)
			mustPublish(t, store, dir, func(o *Options) { o.Progress, o.Stdout = true, &out })
			if s := out.String(); strings.Contains(s, " MB") || strings.Contains(s, " kB") {
				t.Errorf("decimal unit names for binary sizes:\n%q", s)
			}
			fs := frames(t, out.String(), "asset")
			if len(fs) < 2 {
				t.Fatalf("%d asset progress lines drawn:\n%q", len(fs), out.String())
			}
			inFlight := map[int]bool{}
			for i, f := range fs {
				if i > 0 && (f.pct < fs[i-1].pct || f.done < fs[i-1].done) {
					t.Errorf("progress went back: %q after %q", f.line, fs[i-1].line)
				}
				if f.pct > 100 || f.done > f.files || sizeOf(f.sent) > sizeOf(f.total) {
					t.Errorf("progress past the end: %q", f.line)
				}
				if f.done == f.files-1 && f.pct > 0 && f.pct < 100 {
					inFlight[f.pct] = true // only the large file is left
				}
			}
			last := fs[len(fs)-1]
			if last.verb != "uploaded" || last.done != last.files || last.pct != 100 || last.sent != last.total ||
				!strings.HasSuffix(last.total, "MiB") {
				t.Errorf("last progress line %q, want every file and byte of about 1 MiB", last.line)
			}
			if !c.reread && len(inFlight) < 3 {
				t.Errorf("the line moved %d times while the large file was in flight, want 3 or more:\n%q",
					len(inFlight), out.String())
			}
			if !strings.Contains(out.String(), "100% "+last.total+" of "+last.total) {
				t.Errorf("the final line is not on screen:\n%q", out.String())
			}
		})
	}
}

// testAWSConfig is the configuration LoadAWSConfig makes for an S3-compatible
// endpoint, with the test's HTTP client and no wait between attempts.
func testAWSConfig(hc aws.HTTPClient, attempts int) aws.Config {
	return aws.Config{Region: "us-east-1", HTTPClient: hc, Logger: logging.Nop{}, RetryMaxAttempts: attempts,
		Credentials: credentials.NewStaticCredentialsProvider("test", "testsecret", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired}
}

// Through the SDK over plain HTTP, the body is read to hash it before each
// attempt, and again on a retry: neither counts, only what is sent.
func TestProgressCountsWhatTheSDKSends(t *testing.T) {
	const size = 32 << 20
	rep := &reporter{w: io.Discard, errw: io.Discard, bar: true}
	rep.startUploads(PhaseAsset, 1, size)
	counted := func() int64 {
		rep.mu.Lock()
		defer rep.mu.Unlock()
		return rep.cur.sent
	}
	var mu sync.Mutex
	var atStart []int64 // counted when each attempt reached the server
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		atStart = append(atStart, counted())
		n := len(atStart)
		mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>try again</Message></Error>`)
			return
		}
		w.Header().Set("ETag", `"0123"`)
	}))
	defer srv.Close()
	cfg := testAWSConfig(awshttp.NewBuildableClient(), 5)
	var notes []string
	client, err := newS3Client(context.Background(), &cfg, AWSOptions{EndpointURL: srv.URL, PathStyle: true}, "site",
		func(s string) { notes = append(notes, s) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, up := rep.sending(context.Background(), Action{Path: "assets/big.js", Size: size})
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("site"), Key: aws.String("assets/big.js"),
		Body: up.wrap(nopCloser{bytes.NewReader(make([]byte, size))}), ContentLength: aws.Int64(size)})
	if err != nil {
		t.Fatal(err)
	}
	sentBeforeDone := counted()
	up.done()
	// Socket buffers hold a few MiB at most: the rest of the body cannot
	// have been sent when the server starts reading it.
	if len(atStart) != 2 || atStart[0] > size/4 {
		t.Errorf("counted when the attempts reached the server: %v; want 2 attempts, the first at not much more than 0 "+
			"(hashing is not sending)", atStart)
	}
	if sentBeforeDone != size || counted() != size {
		t.Errorf("counted %d bytes when the PUT returned, %d at the end; want %d both times", sentBeforeDone, counted(), size)
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "store answered 500 InternalError, retry 1/4 in ") {
		t.Errorf("retry lines %q", notes)
	}
}

// refusingClient is an HTTP client whose first n connections are refused,
// as by a store that is not up yet.
func refusingClient(n int32) aws.HTTPClient {
	var dials atomic.Int32
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) <= n {
				return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	})
}

func TestRetryLinesWhileTheStoreRefuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>site</Name><KeyCount>0</KeyCount></ListBucketResult>`)
	}))
	defer srv.Close()
	line := regexp.MustCompile(`^store not answering \(connection refused\), retry (\d+)/4 in \d+\.\ds$`)
	for _, c := range []struct {
		desc    string
		refused int32
		lines   int
		fails   bool
	}{
		{"answers at once", 0, 0, false},
		{"refuses three times, then answers", 3, 3, false},
		{"refuses all five attempts", 5, 4, true},
	} {
		t.Run(c.desc, func(t *testing.T) {
			cfg := testAWSConfig(refusingClient(c.refused), 5)
			var notes []string
			client, err := newS3Client(context.Background(), &cfg, AWSOptions{EndpointURL: srv.URL, PathStyle: true}, "site",
				func(s string) { notes = append(notes, s) })
			if err != nil {
				t.Fatal(err)
			}
			_, err = client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("site")})
			if (err != nil) != c.fails {
				t.Fatalf("err = %v", err)
			}
			if err != nil && !strings.Contains(describeS3Error("site", "", err).Error(), "cannot reach the store") {
				t.Errorf("final error %v", describeS3Error("site", "", err))
			}
			if len(notes) != c.lines {
				t.Fatalf("%d retry lines, want %d: %q", len(notes), c.lines, notes)
			}
			for i, n := range notes {
				if m := line.FindStringSubmatch(n); m == nil || m[1] != strconv.Itoa(i+1) {
					t.Errorf("retry line %d is %q", i+1, n)
				}
			}
		})
	}
}

// Requests in flight together fail together: one line per retry round.
func TestRetryLinesOncePerRound(t *testing.T) {
	var notes []string
	r := withRetryNotes(retry.NewStandard(), "store", 5, func(s string) { notes = append(notes, s) }).(*retryNotes)
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for range 16 {
		_, _ = r.RetryDelay(1, refused)
	}
	_, _ = r.RetryDelay(2, refused)
	_, _ = r.RetryDelay(1, slowDown())
	if len(notes) != 3 || !strings.Contains(notes[0], "retry 1/4") || !strings.Contains(notes[1], "retry 2/4") ||
		!strings.HasPrefix(notes[2], "store answered 503 SlowDown, retry 1/4") {
		t.Errorf("retry lines %q", notes)
	}
}

func slowDown() error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}},
		Err:      &smithy.GenericAPIError{Code: "SlowDown", Message: "Please reduce your request rate."}}}
}

func TestRetryCause(t *testing.T) {
	for _, c := range []struct {
		desc string
		err  error
		want string
	}{
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "not answering (connection refused)"},
		{"reset", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, "not answering (connection reset)"},
		{"unknown host", &net.OpError{Op: "dial", Err: &net.DNSError{Name: "s3.example", Err: "no such host"}}, "not answering (no such host s3.example)"},
		{"timeout", &smithyhttp.RequestSendError{Err: &net.OpError{Op: "read", Err: timeoutErr{}}}, "not answering (timed out)"},
		{"an answer", slowDown(), "answered 503 SlowDown"},
	} {
		if got := retryCause(c.err); got != c.want {
			t.Errorf("%s: %q, want %q", c.desc, got, c.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// A run says on stderr, not in its output, that it retries; the retryer is
// the one a real run builds (one retry of up to 2 s, the SDK's backoff).
func TestRunSaysItRetries(t *testing.T) {
	awsTestEnv(t)
	var stdout, stderr bytes.Buffer
	_, err := Run(context.Background(), Options{Bucket: "site", Dir: testBake{version: "1"}.write(t), JSON: true,
		AWS:    AWSOptions{EndpointURL: "http://" + freeAddr(t), PathStyle: true, MaxAttempts: 2},
		Stdout: &stdout, Stderr: &stderr})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the store") {
		t.Fatalf("err = %v", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !regexp.MustCompile(`^studiobake: store not answering \(connection refused\), retry 1/1 in \d+\.\ds$`).MatchString(lines[0]) {
		t.Errorf("stderr %q, want one retry line", stderr.String())
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout %q", stdout.String())
	}
}

// CloudFront's and CloudFormation's clients say that they retry as S3's
// does: the real configuration chain, versitygw as the store, and the fake
// CloudFront answering 503 to the first call (the distribution check).
func TestCloudFrontSaysItRetries(t *testing.T) {
	v := startVersitygw(t)
	f := cdntest.New(t)
	f.Unavailable = 1
	stacks := cdntest.NewStacks(t)
	stacks.Unavailable = 1
	out := stackOutputs()
	out[cdn.OutputBucket], out[cdn.OutputPrefix] = "site", "/"
	stacks.Put("studio", cdntest.Stack{Outputs: out})
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFRONT", f.URL())
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", stacks.URL)
	var stderr bytes.Buffer
	o := Options{Stack: "studio", Dir: testBake{version: "1"}.write(t), AWS: v.awsOptions(), Version: "test",
		Stderr: &stderr, pollInterval: time.Millisecond}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, service := range []string{"CloudFormation", "CloudFront"} {
		re := regexp.MustCompile(`(?m)^studiobake: ` + service + ` answered 503 ServiceUnavailable, retry 1/2 in \d+\.\ds$`)
		if !re.MatchString(stderr.String()) {
			t.Errorf("stderr %q: no retry line for %s", stderr.String(), service)
		}
	}
}

// Against a real store over plain HTTP (where the SDK hashes each body
// before sending it), the line still counts each byte once and ends at 100%.
func TestS3ProgressCountsEachByteOnce(t *testing.T) {
	v := startVersitygw(t)
	big := strings.Repeat("studio chunk ", 3<<20/13)
	var out bytes.Buffer
	v.publish(t, testBake{version: "1", extra: map[string]string{hashName("big", ".js", big): big}}.write(t),
		func(o *Options) { o.Progress, o.Stdout = true, &out })
	for _, phase := range []string{"asset", "mutable", "entry"} {
		fs := frames(t, out.String(), phase)
		if len(fs) == 0 {
			t.Fatalf("no %s progress line:\n%q", phase, out.String())
		}
		for _, f := range fs {
			if sizeOf(f.sent) > sizeOf(f.total) {
				t.Errorf("progress past the end: %q", f.line)
			}
		}
		if last := fs[len(fs)-1]; last.pct != 100 || last.sent != last.total || last.done != last.files {
			t.Errorf("last %s progress line %q", phase, last.line)
		}
	}
}
