package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/studiobake/studiobake/publish/cdn"
)

// objectStore is the part of S3 publish uses, with the SDK's own signatures so
// that *s3.Client satisfies it and tests can put a fake (or a fault injector)
// in its place.
type objectStore interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

var _ objectStore = (*s3.Client)(nil)

// LoadAWSConfig loads the SDK's default chain with o applied and checks that
// credentials resolve, so that a missing login is reported before any request.
func LoadAWSConfig(ctx context.Context, o AWSOptions) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(o.RequestTimeout)),
		config.WithRetryMaxAttempts(o.MaxAttempts),
		// The SDK's own warnings (an IMDSv1 fallback) would be lines
		// besides studiobake's one error line.
		config.WithLogger(logging.Nop{}),
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.EndpointURL != "" {
		// Since s3 v1.73 the SDK adds CRC32 checksums to every upload; R2 and
		// some MinIO versions reject them. Send checksums only where S3
		// requires them.
		opts = append(opts,
			config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if o.Profile != "" {
			return cfg, fmt.Errorf("load AWS config (profile %q): %w", o.Profile, err)
		}
		return cfg, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" && o.EndpointURL != "" {
		cfg.Region = "us-east-1" // S3-compatible stores accept any region
	}
	if cfg.Credentials == nil {
		return cfg, errNoCredentials(nil)
	}
	_, err = cfg.Credentials.Retrieve(ctx)
	if ctx.Err() != nil {
		// Interrupted, not a missing login; checked whatever Retrieve said,
		// since a cached provider races its answer against ctx.Done().
		return cfg, fmt.Errorf("load AWS credentials: %w", ctx.Err())
	}
	if err != nil {
		return cfg, errNoCredentials(err)
	}
	return cfg, nil
}

func errNoCredentials(err error) error {
	const hint = "no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, " +
		"choose a profile (--profile or AWS_PROFILE; run `aws sso login` for SSO profiles), " +
		"or run where a role is available (CI OIDC web identity, instance or task role)"
	if err == nil {
		return errors.New(hint)
	}
	return fmt.Errorf("%s: %w", hint, err)
}

// newS3Client builds the S3 client; without a region it asks the bucket for
// its own (and records it in cfg), so that `--bucket` alone works. note
// receives a line for each retry (see retryNotes).
func newS3Client(ctx context.Context, cfg *aws.Config, o AWSOptions, bucket string, note func(string)) (*s3.Client, error) {
	opt := func(so *s3.Options) {
		if o.EndpointURL != "" {
			so.BaseEndpoint = aws.String(o.EndpointURL)
		}
		so.UsePathStyle = o.PathStyle
		so.APIOptions = append(so.APIOptions, countSent)
		so.Retryer = withRetryNotes(so.Retryer, "store", so.RetryMaxAttempts, note)
	}
	if cfg.Region == "" {
		region, err := manager.GetBucketRegion(ctx, s3.NewFromConfig(*cfg, opt, func(so *s3.Options) { so.Region = "us-east-1" }), bucket)
		if err != nil {
			return nil, fmt.Errorf("no AWS region set (--region or AWS_REGION) and the region of bucket %q is unknown: %w",
				bucket, describeS3Error(bucket, "", err))
		}
		cfg.Region = region
	}
	return s3.NewFromConfig(*cfg, opt), nil
}

// retryNotes wraps the SDK's retryer to say why a request is tried again and
// when: without it, a store that does not answer looks like a hung run for
// the twenty seconds the SDK's backoff can take before the error.
type retryNotes struct {
	aws.RetryerV2
	service  string // "store", "CloudFront": what the line says is failing
	attempts int
	note     func(string)
	mu       sync.Mutex
	said     map[string]time.Time // by cause and retry number
}

// withRetryNotes wraps base so that each retry of service prints a line
// through note; maxAttempts is what the client applies over the retryer's
// own (0: the retryer's). A retryer without the V2 interface, or no note,
// is left as it is.
func withRetryNotes(base aws.Retryer, service string, maxAttempts int, note func(string)) aws.Retryer {
	v2, ok := base.(aws.RetryerV2)
	if !ok || note == nil {
		return base
	}
	if maxAttempts == 0 {
		maxAttempts = v2.MaxAttempts()
	}
	return &retryNotes{RetryerV2: v2, service: service, attempts: maxAttempts, note: note, said: map[string]time.Time{}}
}

// noteRetries is the retryer wrapper that gives a client built by publish/cdn
// (CloudFront, CloudFormation) the retry lines S3's client has. It wraps
// what the client resolved, so the configured retry mode still applies.
func noteRetries(service string, note func(string)) cdn.WrapRetryer {
	return func(r aws.Retryer, maxAttempts int) aws.Retryer {
		return withRetryNotes(r, service, maxAttempts, note)
	}
}

// retryNoteQuiet is how long a line is not repeated: requests in flight
// together fail together, and one line per retry round says it all.
const retryNoteQuiet = 5 * time.Second

// RetryDelay is called once the SDK has decided to retry attempt (1-based).
func (r *retryNotes) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, derr := r.RetryerV2.RetryDelay(attempt, err)
	if derr != nil {
		return d, derr
	}
	cause := retryCause(err)
	key := fmt.Sprintf("%s %d", cause, attempt)
	r.mu.Lock()
	quiet := time.Since(r.said[key]) < retryNoteQuiet
	if !quiet {
		r.said[key] = time.Now()
	}
	r.mu.Unlock()
	if !quiet {
		r.note(fmt.Sprintf("%s %s, retry %d/%d in %.1fs", r.service, cause, attempt, r.attempts-1, d.Seconds()))
	}
	return d, nil
}

// retryCause says in a few words why an attempt failed.
func retryCause(err error) string {
	var re *awshttp.ResponseError
	var send *smithyhttp.RequestSendError
	if !errors.As(err, &send) && errors.As(err, &re) && re.HTTPStatusCode() > 0 {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return fmt.Sprintf("answered %d %s", re.HTTPStatusCode(), ae.ErrorCode())
		}
		return fmt.Sprintf("answered %d", re.HTTPStatusCode())
	}
	var dns *net.DNSError
	var timeout interface{ Timeout() bool }
	why := ""
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		why = "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		why = "connection closed"
	case errors.As(err, &dns):
		why = "no such host " + dns.Name
	case errors.As(err, &timeout) && timeout.Timeout():
		why = "timed out"
	default:
		for inner := err; inner != nil; inner = errors.Unwrap(inner) {
			why = inner.Error() // the innermost error is the shortest
		}
	}
	return "not answering (" + why + ")"
}

// countSent keeps the SDK's own reads of an upload body out of its count
// (see upload): for each attempt, reads before the request is handed to the
// HTTP client (hashing for the signature or a checksum) do not count; from
// the end of the finalize step on, the body is being sent.
func countSent(stack *middleware.Stack) error {
	hold := middleware.FinalizeMiddlewareFunc("studiobake:HoldSendCount", func(ctx context.Context,
		in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if u := uploadOf(ctx); u != nil {
			u.setHold(true)
		}
		return next.HandleFinalize(ctx, in)
	})
	count := middleware.FinalizeMiddlewareFunc("studiobake:CountSent", func(ctx context.Context,
		in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if u := uploadOf(ctx); u != nil {
			u.setHold(false)
		}
		return next.HandleFinalize(ctx, in)
	})
	var err error
	if _, ok := stack.Finalize.Get("Retry"); ok {
		err = stack.Finalize.Insert(hold, "Retry", middleware.After) // each attempt
	} else {
		err = stack.Finalize.Add(hold, middleware.Before)
	}
	if err != nil {
		return err
	}
	return stack.Finalize.Add(count, middleware.After)
}

// describeS3Error turns the errors people meet first into one clear sentence,
// keeping the SDK error (with its request ids) wrapped for detail.
func describeS3Error(bucket, key string, err error) error {
	loc := "s3://" + bucket + "/" + key
	var ae smithy.APIError
	code, detail := "", ""
	if errors.As(err, &ae) {
		code, detail = ae.ErrorCode(), ae.ErrorCode()+": "+ae.ErrorMessage()
	}
	var re *awshttp.ResponseError
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ne *net.OpError
	switch {
	case code == "NoSuchBucket", code == "NotFound" && key == "":
		return &s3Error{fmt.Sprintf("bucket %q does not exist (check --bucket, --region and --endpoint-url)", bucket), err}
	case code == "InvalidBucketName":
		return &s3Error{fmt.Sprintf("invalid --bucket %q: the store rejects the name (%s)", bucket, detail), err}
	// XAdminUserNotFound: versitygw's answer to an unknown access key.
	case code == "InvalidAccessKeyId", code == "SignatureDoesNotMatch", code == "ExpiredToken",
		code == "InvalidToken", code == "TokenRefreshRequired", code == "XAdminUserNotFound":
		return &s3Error{fmt.Sprintf("%s: the credentials were rejected (%s)", loc, detail), err}
	case code == "AccessDenied", code == "AllAccessDisabled", status == http.StatusForbidden:
		return &s3Error{fmt.Sprintf("%s: access denied: publishing needs s3:ListBucket, s3:GetObject, "+
			"s3:PutObject and s3:DeleteObject (%s)", loc, detail), err}
	case errors.As(err, &ne) && ne.Op == "dial":
		return &s3Error{fmt.Sprintf("%s: cannot reach the store (%v): check --endpoint-url and the network", loc, ne), err}
	}
	return fmt.Errorf("%s: %w", loc, err)
}

// s3Error is a sentence for the user wrapping the SDK's longer error.
type s3Error struct {
	msg string
	err error
}

func (e *s3Error) Error() string { return e.msg }
func (e *s3Error) Unwrap() error { return e.err }

// isNotFound reports a missing key (HEAD answers a bare 404).
func isNotFound(err error) bool {
	return hasCode(err, http.StatusNotFound, "NotFound", "NoSuchKey")
}

// isPreconditionFailed reports a conditional write refused (412): the object
// is not what the condition named.
func isPreconditionFailed(err error) bool {
	return hasCode(err, http.StatusPreconditionFailed, "PreconditionFailed")
}

// isNotImplemented reports a store that refuses a header it does not
// implement (If-Match, If-None-Match on stores without conditional writes).
func isNotImplemented(err error) bool {
	return hasCode(err, http.StatusNotImplemented, "NotImplemented")
}

// hasCode reports an S3 error with one of codes, or the HTTP status.
func hasCode(err error, status int, codes ...string) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && slices.Contains(codes, ae.ErrorCode()) {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == status
}
