package check

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteText prints one line per item, its fix under a failure, and a final
// summary line.
func (r Report) WriteText(w io.Writer) error { return r.writeText(w, false) }

// WriteFailures is WriteText without the items that passed (check -q).
func (r Report) WriteFailures(w io.Writer) error { return r.writeText(w, true) }

func (r Report) writeText(w io.Writer, failuresOnly bool) error {
	head := "check " + r.URL
	if r.API != "" {
		head += fmt.Sprintf(" (API %s, Origin %s)", r.API, r.Origin)
	}
	if _, err := fmt.Fprintln(w, head); err != nil {
		return err
	}
	for _, it := range r.Items {
		if failuresOnly && it.Status != Fail {
			continue
		}
		mark := "PASS"
		if it.Status == Fail {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %s: %s\n", mark, it.Title, it.Detail)
		if it.Status == Fail && it.Fix != "" {
			fmt.Fprintf(w, "        fix: %s\n", it.Fix)
		}
	}
	_, err := fmt.Fprintf(w, "check: %d passed, %d failed\n", r.Passed, r.Failed)
	return err
}

// WriteJSON prints the report as one indented JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	if r.Items == nil {
		r.Items = []Item{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
