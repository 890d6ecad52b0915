package cdntest

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
)

// Stacks is an httptest CloudFormation: it answers DescribeStacks in the
// service's query protocol (a form POST, an XML answer) for the stacks a
// test puts in it, and a ValidationError for any other name, as the
// service does.
type Stacks struct {
	URL string
	// Unavailable answers this many requests with 503 ServiceUnavailable,
	// which the SDK retries. Set it before the calls it affects.
	Unavailable int

	mu     sync.Mutex
	stacks map[string]Stack
	calls  int
}

// Stack is one stack the fake describes.
type Stack struct {
	Status  string            // CREATE_COMPLETE when empty
	Outputs map[string]string // output key -> value
}

// NewStacks starts the fake; it stops when the test ends.
func NewStacks(t testing.TB) *Stacks {
	s := &Stacks{stacks: map[string]Stack{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Put adds or replaces stack name.
func (s *Stacks) Put(name string, st Stack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stacks[name] = st
}

// Calls is how many requests the fake has answered.
func (s *Stacks) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Client is the SDK's real client pointed at the fake.
func (s *Stacks) Client() *cloudformation.Client {
	return cloudformation.New(cloudformation.Options{BaseEndpoint: aws.String(s.URL), Region: "us-east-1", Credentials: creds, RetryMaxAttempts: 1})
}

type stackMember struct {
	StackName    string
	StackId      string
	CreationTime string
	StackStatus  string
	Outputs      []outputMember `xml:"Outputs>member"`
}

type outputMember struct {
	OutputKey, OutputValue string
}

type describeStacksResponse struct {
	XMLName xml.Name      `xml:"DescribeStacksResponse"`
	Xmlns   string        `xml:"xmlns,attr"`
	Stacks  []stackMember `xml:"DescribeStacksResult>Stacks>member"`
	ReqID   string        `xml:"ResponseMetadata>RequestId"`
}

const cfnNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

func (s *Stacks) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.Unavailable > 0 {
		s.Unavailable--
		queryError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "try again")
		return
	}
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || r.Form.Get("Action") != "DescribeStacks" {
		queryError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("the fake answers DescribeStacks only (got %s %q)", r.Method, r.Form.Get("Action")))
		return
	}
	name := r.Form.Get("StackName")
	st, ok := s.stacks[name]
	if !ok {
		queryError(w, http.StatusBadRequest, "ValidationError", "Stack with id "+name+" does not exist")
		return
	}
	m := stackMember{StackName: name, StackId: "arn:aws:cloudformation:us-east-1:123456789012:stack/" + name + "/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
		CreationTime: "2026-01-01T00:00:00Z", StackStatus: st.Status}
	if m.StackStatus == "" {
		m.StackStatus = "CREATE_COMPLETE"
	}
	for k, v := range st.Outputs {
		m.Outputs = append(m.Outputs, outputMember{k, v})
	}
	w.Header().Set("Content-Type", "text/xml")
	_ = xml.NewEncoder(w).Encode(describeStacksResponse{Xmlns: cfnNS, Stacks: []stackMember{m}, ReqID: "req-1"})
}

func queryError(w http.ResponseWriter, status int, code, msg string) {
	type errBody struct {
		Type, Code, Message string
	}
	type errResp struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Xmlns   string   `xml:"xmlns,attr"`
		Error   errBody
		ReqID   string `xml:"RequestId"`
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(errResp{Xmlns: cfnNS, Error: errBody{"Sender", code, msg}, ReqID: "req-1"})
}
