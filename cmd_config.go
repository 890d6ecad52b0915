package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/studiobake/studiobake/env"
	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
)

// ConfigFile is read from the working directory when --config is not given.
const ConfigFile = "studiobake.toml"

// configKey is where a command's Before leaves what the config file set, for
// the commands' own messages (which file and environment a value came from).
const configKey = "studiobake-config"

// configFlags select the config file and its environment; every command
// that has settings takes them.
func configFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", EnvVars: []string{"STUDIOBAKE_CONFIG"},
			Usage: "read settings from `FILE` (default: " + ConfigFile + " in the working directory, when present); flags and STUDIOBAKE_* variables beat it"},
		&cli.StringFlag{Name: "env", EnvVars: []string{"STUDIOBAKE_ENV"},
			Usage: "apply the config file's [env.`NAME`] table over its top level (e.g. staging)"},
	}
}

// appliedConfig is what one command run took from the config file.
type appliedConfig struct {
	Origin string          // "studiobake.toml" or "studiobake.toml [env.staging]"
	Flags  map[string]bool // flag names set from the file
}

// configOrigin says where a flag's value came from when the file set it.
func configOrigin(c *cli.Context, flag string) (string, bool) {
	a, ok := c.App.Metadata[configKey].(*appliedConfig)
	if !ok || !a.Flags[flag] {
		return "", false
	}
	return a.Origin, true
}

// withConfig gives every command with flags the config file: its flags
// become altsrc flags, and its Before applies the file's values to the flags
// that neither the command line nor the environment set. The values then go
// through exactly the validation a flag's value does.
func withConfig(app *cli.App) {
	all := map[string]bool{}
	for _, c := range app.Commands {
		for _, f := range c.Flags {
			for _, n := range f.Names() {
				all[n] = true
			}
		}
	}
	for _, c := range app.Commands {
		if len(c.Flags) == 0 || len(c.Subcommands) > 0 {
			continue
		}
		c.Flags = append(c.Flags, configFlags()...)
		for i, f := range c.Flags {
			c.Flags[i] = sourced(f)
		}
		before := c.Before
		c.Before = func(ctx *cli.Context) error {
			if err := applyConfig(ctx, all); err != nil {
				return err
			}
			if before != nil {
				return before(ctx)
			}
			return nil
		}
	}
	for _, n := range []string{"config", "env"} {
		all[n] = true
	}
}

// sourced wraps a flag so that altsrc can set it from the file.
func sourced(f cli.Flag) cli.Flag {
	switch t := f.(type) {
	case *cli.StringFlag:
		return altsrc.NewStringFlag(t)
	case *cli.BoolFlag:
		return altsrc.NewBoolFlag(t)
	case *cli.StringSliceFlag:
		return altsrc.NewStringSliceFlag(t)
	case *cli.IntFlag:
		return altsrc.NewIntFlag(t)
	case *cli.DurationFlag:
		return altsrc.NewDurationFlag(t)
	}
	return f
}

// applyConfig reads the file, checks every key, picks the environment and
// applies the values.
func applyConfig(c *cli.Context, known map[string]bool) error {
	path, explicit := c.String("config"), c.IsSet("config")
	if !explicit {
		path = ConfigFile
	}
	values, err := readConfig(path, explicit, known)
	if err != nil || values == nil {
		if err == nil && c.IsSet("env") {
			return fmt.Errorf("--env %s: no config file (%s in the working directory, or --config FILE)", c.String("env"), ConfigFile)
		}
		return err
	}
	origin := path
	envs, _ := values["env"].(map[string]any)
	delete(values, "env")
	if name := c.String("env"); name != "" {
		overlay, ok := envs[name].(map[string]any)
		if !ok {
			return fmt.Errorf("--env %s: %s has no [env.%s] table (it has: %s)", name, path, name, listOrNone(slices.Sorted(maps.Keys(envs))))
		}
		maps.Copy(values, overlay)
		origin = fmt.Sprintf("%s [env.%s]", path, name)
	}
	applied := &appliedConfig{Origin: origin, Flags: map[string]bool{}}
	src := map[any]any{}
	for k, v := range values {
		if !c.IsSet(k) && flagOf(c.Command, k) != nil && !envSet(flagOf(c.Command, k)) {
			applied.Flags[k] = true
		}
		src[k] = altsrcValue(v)
	}
	if err := altsrc.ApplyInputSourceValues(c, altsrc.NewMapInputSource(path, src), c.Command.Flags); err != nil {
		return fmt.Errorf("%s: %w", origin, err)
	}
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	c.App.Metadata[configKey] = applied
	return nil
}

// readConfig parses the file and refuses keys no command knows (a typo
// would otherwise be ignored), in the top level and in every [env.*] table.
func readConfig(path string, explicit bool, known map[string]bool) (map[string]any, error) {
	var values map[string]any
	_, err := toml.DecodeFile(path, &values)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("--config %s: no such file", path)
	case err != nil:
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	check := func(table string, m map[string]any) error {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if known[k] && k != "config" && k != "env" {
				continue
			}
			hint := ""
			if near := env.Nearest(k, slices.Collect(maps.Keys(known))); near != "" {
				hint = "; did you mean " + near + "?"
			}
			return fmt.Errorf("config file %s: unknown setting %q%s%s (settings are the commands' flag names, e.g. base-path)", path, k, table, hint)
		}
		return nil
	}
	envs, _ := values["env"].(map[string]any)
	if v, ok := values["env"]; ok && envs == nil {
		return nil, fmt.Errorf("config file %s: env must be a table of environments ([env.staging]), not %T", path, v)
	}
	top := maps.Clone(values)
	delete(top, "env")
	if err := check("", top); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(envs)) {
		t, ok := envs[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("config file %s: env.%s must be a table ([env.%s])", path, name, name)
		}
		if err := check(" in [env."+name+"]", t); err != nil {
			return nil, err
		}
	}
	return values, nil
}

// altsrcValue converts TOML's types to what altsrc's map source reads.
func altsrcValue(v any) any {
	switch t := v.(type) {
	case int64:
		return int(t)
	case []any:
		return t
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out
	}
	return v
}

func flagOf(cmd *cli.Command, name string) cli.Flag {
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

// envSet says whether a STUDIOBAKE_* variable of the flag is set: it beats
// the file, as altsrc applies it.
func envSet(f cli.Flag) bool {
	ev, ok := f.(interface{ GetEnvVars() []string })
	if !ok {
		return false
	}
	for _, name := range ev.GetEnvVars() {
		if _, set := os.LookupEnv(name); set {
			return true
		}
	}
	return false
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// configSchema is the JSON Schema of the config file, made from the flags
// so that editors complete and check it (taplo reads "#:schema FILE").
func configSchema(app *cli.App) ([]byte, error) {
	props := map[string]any{}
	for _, c := range app.Commands {
		for _, f := range c.Flags {
			name := f.Names()[0]
			if name == "config" || name == "env" || name == "help" {
				continue
			}
			p := map[string]any{}
			switch f.(type) {
			case *altsrc.BoolFlag, *cli.BoolFlag:
				p["type"] = "boolean"
			case *altsrc.StringSliceFlag, *cli.StringSliceFlag:
				p["type"], p["items"] = "array", map[string]any{"type": "string"}
			case *altsrc.IntFlag, *cli.IntFlag:
				p["type"] = "integer"
			default:
				p["type"] = "string"
			}
			if u, ok := f.(interface{ GetUsage() string }); ok {
				p["description"] = strings.ReplaceAll(u.GetUsage(), "`", "")
			}
			props[name] = p
		}
	}
	settings := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	withEnv := maps.Clone(props)
	withEnv["env"] = map[string]any{
		"type":                 "object",
		"description":          "environments chosen with --env NAME, laid over the top level",
		"additionalProperties": map[string]any{"$ref": "#/$defs/settings"},
	}
	schema := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"title":                "studiobake.toml",
		"description":          "studiobake settings: every command's flags by name; flags and STUDIOBAKE_* variables beat them",
		"type":                 "object",
		"properties":           withEnv,
		"additionalProperties": false,
		"$defs":                map[string]any{"settings": settings},
	}
	b, err := json.MarshalIndent(schema, "", "  ")
	return append(b, '\n'), err
}
