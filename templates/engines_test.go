package templates

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"testing"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates/cfrun"
)

// engine runs a compiled function over events and returns one result (or
// error) per event.
type engine struct {
	name string
	run  func(t *testing.T, code string, kvs map[string]string, evs []cfrun.Event) ([]cfrun.Result, []error)
}

// engines are goja always and node when it is installed: the same fixtures
// must pass in both, so the emulator cannot drift from a real V8.
func engines(t *testing.T) []engine {
	es := []engine{{"goja", runGoja}}
	if _, err := exec.LookPath("node"); err == nil {
		es = append(es, engine{"node", runNode})
	} else if os.Getenv("CI") == "true" {
		// CI installs every service a test needs; a missing one is a failure.
		t.Fatal("node not installed: CI runs the gate fixtures under node as well as goja")
	} else {
		t.Log("node not installed: fixtures run under goja only")
	}
	return es
}

func runGoja(t *testing.T, code string, kvs map[string]string, evs []cfrun.Event) ([]cfrun.Result, []error) {
	t.Helper()
	f, err := cfrun.New(code, kvs)
	if err != nil {
		t.Fatal(err)
	}
	res := make([]cfrun.Result, len(evs))
	errs := make([]error, len(evs))
	for i, ev := range evs {
		res[i], errs[i] = f.Run(ev)
	}
	return res, errs
}

func runNode(t *testing.T, code string, kvs map[string]string, evs []cfrun.Event) ([]cfrun.Result, []error) {
	t.Helper()
	in, err := json.Marshal(map[string]any{"code": code, "kvs": kvs, "events": evs})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "testdata/node-run.js")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var raw []struct {
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("node output: %v\n%s", err, out)
	}
	res := make([]cfrun.Result, len(evs))
	errs := make([]error, len(evs))
	for i, r := range raw {
		if r.Error != "" {
			errs[i] = &nodeError{r.Error}
			continue
		}
		res[i], errs[i] = decodeNodeResult(r.Result)
	}
	return res, errs
}

type nodeError struct{ s string }

func (e *nodeError) Error() string { return "node: " + e.s }

func decodeNodeResult(raw json.RawMessage) (cfrun.Result, error) {
	var probe struct {
		StatusCode *int `json:"statusCode"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return cfrun.Result{}, err
	}
	if probe.StatusCode != nil {
		var r cfrun.Response
		err := json.Unmarshal(raw, &r)
		return cfrun.Result{Response: &r}, err
	}
	var r cfrun.Request
	err := json.Unmarshal(raw, &r)
	return cfrun.Result{Request: &r}, err
}

// routingFixtures is testdata/routing.json, shared with serve's tests.
type routingFixtures struct {
	Bakes map[string]struct {
		BasePath string   `json:"basePath"`
		Routes   []string `json:"routes"`
		Files    []string `json:"files"`
	} `json:"bakes"`
	Cases []struct {
		Name  string `json:"name"`
		Bake  string `json:"bake"`
		URI   string `json:"uri"`
		Query string `json:"query"`
		Want  struct {
			URI      string `json:"uri"`
			Status   int    `json:"status"`
			Location string `json:"location"`
		} `json:"want"`
	} `json:"cases"`
}

func loadRouting(t *testing.T) routingFixtures {
	t.Helper()
	b, err := os.ReadFile("testdata/routing.json")
	if err != nil {
		t.Fatal(err)
	}
	var f routingFixtures
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f routingFixtures) manifest(bake string) *build.Manifest {
	b := f.Bakes[bake]
	m := &build.Manifest{Schema: build.ManifestSchema, BasePath: b.BasePath, Routes: b.Routes, Entry: build.EntryFile}
	for _, p := range b.Files {
		m.Files = append(m.Files, build.File{Path: p})
	}
	return m
}
