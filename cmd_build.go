package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/env"
	"github.com/urfave/cli/v2"
)

// buildFlags are build's flags; publish reuses them to bake before uploading.
func buildFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: "dist", EnvVars: []string{"STUDIOBAKE_OUT"},
			Usage: "bake into `DIR` (site/ to host, manifest.json, edge/)"},
		&cli.StringFlag{Name: "studio", EnvVars: []string{"STUDIOBAKE_STUDIO"},
			Usage: "bake this Studio tree, mastra package directory or package .tgz at `PATH` (default: node_modules/mastra, else the registry)"},
		&cli.StringFlag{Name: "mastra-version", EnvVars: []string{"STUDIOBAKE_MASTRA_VERSION"},
			Usage: "fetch this mastra `VERSION` (or dist-tag) from the npm registry (default " + build.DefaultMastraVersion + " when no tree is found)"},
		&cli.StringFlag{Name: "registry", Usage: "npm registry `URL` (default: npm's own configuration)"},
		&cli.StringFlag{Name: "cache-dir", EnvVars: []string{"STUDIOBAKE_CACHE_DIR"},
			Usage: "keep fetched packages and precompressed files in `DIR` (default: the user cache directory)"},
		&cli.StringFlag{Name: "mode", EnvVars: []string{"STUDIOBAKE_MODE"},
			Usage: "read .env, .env.local, .env.`MODE`, .env.MODE.local like Vite (default production; with --env-file, only when given)"},
		&cli.StringSliceFlag{Name: "env-file", Usage: "read MASTRA_* values from `FILE` instead of the .env files (repeatable; a later file wins; with --mode, on top of them)"},
		&cli.BoolFlag{Name: "explain", Usage: "print every Studio setting with where its value came from"},
		&cli.StringFlag{Name: "server-url", Usage: "the Mastra API as one `URL`, e.g. https://api.example.com/api (sets protocol, host, port and API prefix)"},
		&cli.StringFlag{Name: "api-origin", EnvVars: []string{"STUDIOBAKE_API_ORIGIN"},
			Usage: "one origin: the Mastra server `URL` (origin only, e.g. https://mastra.internal.example.com) that the CDN forwards the API prefix to; the page calls its own origin"},
		&cli.StringFlag{Name: "base-path", Usage: "serve Studio under `PATH`, e.g. /agents (MASTRA_STUDIO_BASE_PATH)"},
		&cli.StringFlag{Name: "request-context-presets", Usage: "read request-context presets from a JSON `FILE`"},
		&cli.StringSliceFlag{Name: "set", Usage: "set a Studio variable, `MASTRA_NAME=VALUE` (repeatable; beats the environment and .env files)"},
		&cli.StringFlag{Name: "precompress", Value: "best", EnvVars: []string{"STUDIOBAKE_PRECOMPRESS"},
			Usage: "write .br and .gz copies of compressible files at `LEVEL`: best (brotli 11, gzip 9; cached by content, so only a Studio version's first bake pays, about 20 s), fast (brotli 5, gzip 6) or off"},
		&cli.BoolFlag{Name: "strict", Usage: "fail on a placeholder studiobake does not know instead of filling it with \"\""},
		&cli.BoolFlag{Name: "force", Usage: "replace a non-empty output directory that is not an earlier bake"},
		&cli.BoolFlag{Name: "public-manifest", Usage: "also serve the manifest as site/" + build.PublicManifest},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but warnings and errors"},
	}
	return append(flags, edgeFlags()...)
}

func buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "bake Studio into a CDN-ready directory",
		UsageText: "studiobake build [--out dist] [--studio DIR|FILE.tgz] [--server-url URL] [--base-path /agents] [--env-file FILE]...",
		Description: "Reads MASTRA_* values (flags, then the process environment, then .env.[mode].local,\n" +
			".env.[mode], .env.local and .env, or the --env-file files), finds the Studio tree (--studio, node_modules/mastra, or the\n" +
			"mastra package from the npm registry), and writes DIR/site (upload this), DIR/manifest.json\n" +
			"and, with --edge, DIR/edge/.",
		Flags: buildFlags(),
		Action: func(c *cli.Context) error {
			r, err := bake(c)
			if err != nil {
				return err
			}
			return reportBuild(c, c.App.Writer, r)
		},
	}
}

// bakeFromContext bakes with build's flags for commands that go on to use the
// bake (publish), reporting on stderr, and returns the output directory.
func bakeFromContext(c *cli.Context) (string, error) {
	r, err := bake(c)
	if err != nil {
		return "", err
	}
	if !c.Bool("quiet") && !c.Bool("json") {
		printBakeSummary(c.App.ErrWriter, r)
	}
	return r.Out, nil
}

func bake(c *cli.Context) (*build.Result, error) {
	finish, err := edgeFinisher(c)
	if err != nil {
		return nil, err
	}
	level, err := build.ParsePrecompress(c.String("precompress"))
	if err != nil {
		from := ""
		if origin, ok := configOrigin(c, "precompress"); ok {
			from = " (from " + origin + ")"
		}
		return nil, fmt.Errorf("invalid --precompress %q%s: %w", c.String("precompress"), from, err)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, err
	}
	wd, _ := os.Getwd()
	quiet := c.Bool("quiet") || c.Bool("json")
	src, err := build.FindSource(c.Context, build.SourceOptions{
		Studio: c.String("studio"), Dir: wd, MastraVersion: c.String("mastra-version"),
		Registry: c.String("registry"), Environ: os.Environ(), CacheDir: c.String("cache-dir"),
		Progress: downloadProgress(c.App.ErrWriter, quiet),
	})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return build.Run(c.Context, build.Options{
		Source: src, Out: c.String("out"),
		Values: cfg.Values, BasePath: cfg.BasePath, APIEndpoint: cfg.APIEndpoint, APIOrigin: cfg.APIOrigin, API: cfg.API,
		TelemetryEnabled: cfg.TelemetryEnabled, Precompress: level, CacheDir: c.String("cache-dir"),
		Strict: c.Bool("strict"), Force: c.Bool("force"), PublicManifest: c.Bool("public-manifest"),
		Version: version, Finish: finish,
		Warn: func(s string) { warn(c, s) },
	})
}

// loadConfig resolves the MASTRA_* configuration from build's flags, the
// process environment and .env files.
func loadConfig(c *cli.Context) (*env.Config, error) {
	flags, fromFile := map[string]string{}, map[string]string{}
	// Values the config file gave go to their own layer, so that errors
	// name the file and the environment beats it.
	layer := func(flag string) map[string]string {
		if _, ok := configOrigin(c, flag); ok {
			return fromFile
		}
		return flags
	}
	for _, kv := range c.StringSlice("set") {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "MASTRA_") {
			return nil, usagef("invalid --set %q: want MASTRA_NAME=VALUE", kv)
		}
		if !knownVar(name) {
			hint := ""
			if near := env.ClosestName(name); near != "" {
				hint = "; did you mean " + near + "?"
			}
			return nil, fmt.Errorf("invalid --set %q: %s is not a Studio variable%s", kv, name, hint)
		}
		layer("set")[name] = value
	}
	if c.IsSet("base-path") {
		layer("base-path")["MASTRA_STUDIO_BASE_PATH"] = c.String("base-path")
	}
	from := map[string]string{}
	for _, f := range []string{"server-url", "api-origin"} {
		from[f], _ = configOrigin(c, f)
	}
	origin, _ := configOrigin(c, "set")
	if o, ok := configOrigin(c, "base-path"); ok {
		origin = o
	}
	wd, _ := os.Getwd()
	cfg, warnings, err := env.Load(env.Sources{
		Dir: wd, EnvFileFlags: c.StringSlice("env-file"), Mode: c.String("mode"), Environ: os.Environ(), Flags: flags,
		Config: fromFile, ConfigOrigin: origin, From: from,
		ServerURL: c.String("server-url"), APIOrigin: c.String("api-origin"), PresetsFile: c.String("request-context-presets"),
	})
	for _, w := range warnings {
		warn(c, w)
	}
	if err == nil && c.Bool("explain") {
		explain(c.App.ErrWriter, cfg)
	}
	return cfg, err
}

// explain prints each Studio setting with its source, so that a value
// that came from an unexpected file is seen before it ships.
func explain(w io.Writer, cfg *env.Config) {
	for _, v := range env.Vars {
		if from, ok := cfg.Origins[v.Name]; ok {
			fmt.Fprintf(w, "  %-40s %-28q from %s\n", v.Name, cfg.Values[v.Name], from)
		}
	}
}

func knownVar(name string) bool {
	for _, v := range env.Vars {
		if v.Name == name {
			return true
		}
	}
	return false
}

func reportBuild(c *cli.Context, w io.Writer, r *build.Result) error {
	if c.Bool("json") {
		m := r.Manifest
		return writeResult(c, true, map[string]any{
			"out": r.Out, "site": r.Site, "files": r.Files, "bytes": r.Bytes,
			"durationMs": r.Duration.Milliseconds(), "studio": m.Studio, "basePath": m.BasePath,
			"apiEndpoint": m.APIEndpoint, "api": m.API, "precompressed": r.Precompressed,
		})
	}
	if c.Bool("quiet") {
		return nil
	}
	printBakeSummary(w, r)
	return nil
}

// printBakeSummary says what every command that bakes baked: the endpoint
// and base path are what a wrong .env file gets wrong.
func printBakeSummary(w io.Writer, r *build.Result) {
	m := r.Manifest
	base := m.BasePath
	if base == "" {
		base = "/ (site root)"
	}
	fmt.Fprintf(w, "  Studio:       %s (%s)\n", orUnknown(m.Studio.Version), m.Studio.Origin)
	fmt.Fprintf(w, "  API endpoint: %s\n", m.APIEndpoint)
	if m.API.OneOrigin() {
		fmt.Fprintf(w, "  API upstream: %s (the CDN forwards %s/ to it)\n", m.API.Upstream, m.API.Prefix)
	}
	fmt.Fprintf(w, "  base path:    %s\n", base)
	fmt.Fprintln(w, summaryLine(r))
}

func summaryLine(r *build.Result) string {
	pre := ""
	if p := r.Precompressed; p.Variants > 0 {
		pre = fmt.Sprintf(" + %d precompressed (%s, %d compressed now)", p.Variants, build.HumanBytes(p.Bytes), p.Compressed)
	}
	return fmt.Sprintf("baked %d files (%s)%s into %s in %s", r.Files, build.HumanBytes(r.Bytes), pre, r.Site,
		r.Duration.Round(time.Millisecond))
}

func orUnknown(s string) string {
	if s == "" {
		return "version unknown"
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// downloadProgress prints a package download's progress on a terminal.
func downloadProgress(w io.Writer, quiet bool) func(done, total int64) {
	if quiet || !isTerminal(w) {
		return nil
	}
	last := time.Time{}
	return func(done, total int64) {
		if time.Since(last) < 100*time.Millisecond && done != total {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\rfetching mastra: %s / %s", build.HumanBytes(done), build.HumanBytes(total))
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
