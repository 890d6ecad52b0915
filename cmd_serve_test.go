package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
)

func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/agents/"
}

func TestCheckCommandUnreachable(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"studiobake", "check", "--timeout", "1s", closedURL(t)}, &out, &errOut)
	if code != exitError {
		t.Fatalf("exit %d, want %d", code, exitError)
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr %q, want nothing: the report is the output", errOut.String())
	}
	text := out.String()
	if n := strings.Count(text, "FAIL  "); n != 10 || !strings.Contains(text, "connection refused") ||
		!strings.HasSuffix(text, "check: 0 passed, 10 failed\n") || strings.Contains(text, "goroutine") {
		t.Errorf("report:\n%s", text)
	}
}

func TestCheckCommandJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"studiobake", "check", "--json", "--timeout", "1s", closedURL(t)}, &out, &errOut)
	var rep struct {
		Items  []struct{ ID, Status, Detail, Fix string }
		Failed int
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out.String())
	}
	if code != exitError || rep.Failed != 10 || rep.Items[0].ID != "page" || rep.Items[0].Fix == "" {
		t.Errorf("exit %d, report %+v", code, rep)
	}
}

func TestCheckCommandUsage(t *testing.T) {
	for _, args := range [][]string{{"check"}, {"check", "a", "b"}, {"check", "cdn.example.com"}} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"studiobake"}, args...), &out, &errOut)
		if code != exitUsage || !strings.HasPrefix(errOut.String(), "studiobake: check: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
		}
	}
}
