package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// JSONSchemaVersion is the version of every --json document's shape. The
// shapes are in studiobake-output.schema.json; a change that breaks a reader
// bumps it.
const JSONSchemaVersion = 1

// Every --json document, success or failure, starts with these fields.
type envelope struct {
	SchemaVersion int        `json:"schemaVersion"`
	OK            bool       `json:"ok"`
	Command       string     `json:"command"`
	Version       string     `json:"studiobakeVersion"`
	Warnings      []string   `json:"warnings"`
	Error         *jsonError `json:"error,omitempty"`
}

// jsonError says why a command failed: code is "usage" (exit 2), "error"
// or "interrupted" (exit 1); setting is the flag or variable involved, when
// the message names one.
type jsonError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Setting string `json:"setting,omitempty"`
}

// Metadata keys of a run.
const (
	metaWarnings    = "studiobake-warnings"
	metaJSONWritten = "studiobake-json-written"
)

// warn prints a warning on stderr and keeps it for the --json document.
func warn(c *cli.Context, msg string) {
	fmt.Fprintf(c.App.ErrWriter, "studiobake: warning: %s\n", msg)
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	ws, _ := c.App.Metadata[metaWarnings].([]string)
	c.App.Metadata[metaWarnings] = append(ws, msg)
}

// keepWarnings adds warnings a package already printed to the --json
// document.
func keepWarnings(c *cli.Context, ws []string) {
	prev, _ := c.App.Metadata[metaWarnings].([]string)
	c.App.Metadata[metaWarnings] = append(prev, ws...)
}

// errorObject is the --json error of a run that failed after it started.
func errorObject(c *cli.Context, err error) *jsonError {
	return &jsonError{Code: errorCode(err, c.Context.Err() != nil), Message: err.Error(), Setting: settingOf(err.Error())}
}

func warnings(app *cli.App) []string {
	ws, _ := app.Metadata[metaWarnings].([]string)
	return append([]string{}, ws...)
}

// writeResult prints a command's --json document: the envelope's fields,
// then the command's own (a struct or map whose fields sit beside them).
func writeResult(c *cli.Context, ok bool, fields any) error {
	doc := map[string]any{}
	if fields != nil {
		b, err := json.Marshal(fields)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("--json: %T is not an object: %w", fields, err)
		}
	}
	env := envelope{SchemaVersion: JSONSchemaVersion, OK: ok, Command: c.Command.Name, Version: version, Warnings: warnings(c.App)}
	b, _ := json.Marshal(env)
	_ = json.Unmarshal(b, &doc)
	c.App.Metadata[metaJSONWritten] = true
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// writeFailure prints the --json document of a failed run, unless the
// command printed its own (check's failing report).
func writeFailure(app *cli.App, w io.Writer, args []string, code string, err error) {
	if done, _ := app.Metadata[metaJSONWritten].(bool); done {
		return
	}
	env := envelope{SchemaVersion: JSONSchemaVersion, Command: commandName(args), Version: version, Warnings: warnings(app),
		Error: &jsonError{Code: code, Message: err.Error(), Setting: settingOf(err.Error())}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(env)
}

// wantsJSON says whether --json was on the command line: a usage error can
// come before the flags are parsed, and still gets its document.
func wantsJSON(app *cli.App, args []string) bool {
	if len(args) < 2 || app.Command(args[1]) == nil {
		return false
	}
	for _, f := range app.Command(args[1]).Flags {
		if slices.Contains(f.Names(), "json") {
			for _, a := range args[2:] {
				if a == "--json" || a == "-json" || a == "--json=true" || a == "-json=true" {
					return true
				}
			}
		}
	}
	return false
}

func commandName(args []string) string {
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		return args[1]
	}
	return ""
}

var settingRE = regexp.MustCompile(`(--[a-z][a-z0-9-]*|MASTRA_[A-Z0-9_]+|STUDIOBAKE_[A-Z0-9_]+)`)

// settingOf is the first flag or variable an error message names: every
// error names its setting first ("invalid --api-origin ...").
func settingOf(msg string) string {
	return settingRE.FindString(msg)
}

// errorCode classifies a failure for the --json document.
func errorCode(err error, interrupted bool) string {
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return "usage"
	case interrupted:
		return "interrupted"
	}
	return "error"
}
