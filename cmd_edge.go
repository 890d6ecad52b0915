package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates"
	"github.com/studiobake/studiobake/templates/deploy"
	"github.com/urfave/cli/v2"
)

// edgeFlags are the build flags that choose and configure edge output.
func edgeFlags() []cli.Flag {
	cat := "Edge:"
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "edge", Category: cat, EnvVars: []string{"STUDIOBAKE_EDGE"},
			Usage: "write edge configuration for `HOST` into OUT/edge/HOST: cloudfront, netlify, cloudflare, nginx (repeatable); netlify and cloudflare also write OUT/HOST, the folder to deploy as it is"},
		&cli.StringSliceFlag{Name: "auth", Category: cat, EnvVars: []string{"STUDIOBAKE_AUTH"},
			Usage: "gate Studio in the CloudFront Function with `MODE`: basic, cookie, ip (repeatable; every mode given must pass)"},
		&cli.StringFlag{Name: "auth-users", Category: cat, EnvVars: []string{"STUDIOBAKE_AUTH_USERS"},
			Usage: "basic auth users `FILE`, lines from studiobake auth add-user"},
		&cli.BoolFlag{Name: "allow-weak-users", Category: cat, EnvVars: []string{"STUDIOBAKE_ALLOW_WEAK_USERS"},
			Usage: "basic auth: accept users lines without add-user's check (a warning instead of an error)"},
		&cli.StringFlag{Name: "auth-realm", Category: cat, EnvVars: []string{"STUDIOBAKE_AUTH_REALM"}, Value: templates.DefaultRealm,
			Usage: "basic auth `REALM` shown by the browser"},
		&cli.BoolFlag{Name: "users-in-kvs", Category: cat, EnvVars: []string{"STUDIOBAKE_USERS_IN_KVS"},
			Usage: "keep basic auth users in the KeyValueStore (--kvs-arn) instead of the function code"},
		&cli.StringFlag{Name: "login-url", Category: cat, EnvVars: []string{"STUDIOBAKE_LOGIN_URL"},
			Usage: "cookie auth: absolute `URL` that signs viewers in and sets the session cookie"},
		&cli.StringFlag{Name: "login-return-param", Category: cat, EnvVars: []string{"STUDIOBAKE_LOGIN_RETURN_PARAM"}, Value: templates.DefaultReturnParam,
			Usage: "cookie auth: query `NAME` that carries the URL to return to (empty: none)"},
		&cli.StringFlag{Name: "cookie-name", Category: cat, EnvVars: []string{"STUDIOBAKE_COOKIE_NAME"}, Value: templates.DefaultCookieName,
			Usage: "cookie auth: session cookie `NAME` (an HS256 JWT or payload.signature, with exp)"},
		&cli.StringFlag{Name: "cookie-secret-file", Category: cat, EnvVars: []string{"STUDIOBAKE_COOKIE_SECRET_FILE"},
			Usage: "cookie auth: HMAC-SHA256 secret from `FILE` (or STUDIOBAKE_COOKIE_SECRET); deployed to the KeyValueStore, never into code"},
		&cli.StringSliceFlag{Name: "allow-cidr", Category: cat, EnvVars: []string{"STUDIOBAKE_ALLOW_CIDR"},
			Usage: "ip auth: allow viewers from `CIDR`, IPv4 or IPv6 (repeatable)"},
		&cli.StringFlag{Name: "kvs-arn", Category: cat, EnvVars: []string{"STUDIOBAKE_KVS_ARN"},
			Usage: "CloudFront KeyValueStore `ARN` for the cookie secret and --users-in-kvs"},
	}
}

// edgeFinisher validates every edge flag before the bake starts and returns
// the step that writes edge output into the bake's temporary directory, or
// nil when no --edge was given.
func edgeFinisher(c *cli.Context) (func(dir string, m *build.Manifest) error, error) {
	opts, err := edgeOptions(c)
	if err != nil || opts == nil {
		return nil, err
	}
	return func(dir string, m *build.Manifest) error {
		return templates.WriteEdge(dir, m, *opts)
	}, nil
}

func edgeOptions(c *cli.Context) (*templates.EdgeOptions, error) {
	var hosts []templates.Host
	for _, v := range splitList(c.StringSlice("edge")) {
		h, err := templates.ParseHost(v)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
	}
	auth, err := authOptions(c)
	if err != nil {
		return nil, err
	}
	hasAuth := auth.Basic != nil || auth.Cookie != nil || len(auth.AllowCIDRs) > 0
	if hasAuth && !containsHost(hosts, templates.CloudFront) {
		return nil, usagef("--auth gates Studio in the CloudFront Function: add --edge cloudfront (other hosts have their own access control)")
	}
	if len(hosts) == 0 {
		return nil, nil
	}
	// Routing comes from the manifest; validate the auth part now so that a
	// mistake fails before the bake, not after it.
	if err := auth.Validate(); err != nil {
		return nil, err
	}
	return &templates.EdgeOptions{Hosts: hosts, Auth: auth}, nil
}

// authOptions reads the --auth modes and the settings each needs; a
// setting given without its mode is an error, as it would silently do
// nothing.
func authOptions(c *cli.Context) (templates.CloudFrontOptions, error) {
	var o templates.CloudFrontOptions
	modes := map[string]bool{}
	for _, m := range splitList(c.StringSlice("auth")) {
		switch m {
		case "basic", "cookie", "ip":
			modes[m] = true
		default:
			return o, fmt.Errorf("invalid --auth %q: want basic, cookie or ip", m)
		}
	}
	for _, f := range []struct{ flag, mode string }{{"auth-users", "basic"}, {"auth-realm", "basic"}, {"allow-weak-users", "basic"},
		{"users-in-kvs", "basic"}, {"login-url", "cookie"}, {"login-return-param", "cookie"},
		{"cookie-name", "cookie"}, {"cookie-secret-file", "cookie"}, {"allow-cidr", "ip"}} {
		if c.IsSet(f.flag) && !modes[f.mode] {
			return o, usagef("--%s is only used with --auth %s", f.flag, f.mode)
		}
	}
	if c.IsSet("kvs-arn") && !modes["cookie"] && !c.Bool("users-in-kvs") {
		return o, usagef("--kvs-arn is only used with --auth cookie or --users-in-kvs")
	}
	o.KVSARN = c.String("kvs-arn")
	if modes["basic"] {
		users, err := readUsers(c.String("auth-users"))
		if err != nil {
			return o, err
		}
		warning, err := templates.CheckGenerated(users, c.String("auth-users"), c.Bool("allow-weak-users"))
		if err != nil {
			return o, err
		}
		if warning != "" {
			fmt.Fprintf(c.App.ErrWriter, "studiobake: warning: %s\n", warning)
		}
		o.Basic = &templates.BasicAuth{Realm: c.String("auth-realm"), Users: users, InKVS: c.Bool("users-in-kvs")}
	}
	if modes["cookie"] {
		secret, err := cookieSecret(c.String("cookie-secret-file"))
		if err != nil {
			return o, err
		}
		o.Cookie = &templates.CookieAuth{Name: c.String("cookie-name"), LoginURL: c.String("login-url"),
			ReturnParam: c.String("login-return-param"), Secret: secret}
	}
	if modes["ip"] {
		cidrs, err := parseCIDRs(splitList(c.StringSlice("allow-cidr")))
		if err != nil {
			return o, err
		}
		o.AllowCIDRs = cidrs
	}
	return o, nil
}

func readUsers(path string) ([]templates.User, error) {
	if path == "" {
		return nil, usagef("--auth basic needs --auth-users FILE (make lines with studiobake auth add-user NAME)")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--auth-users: %w", err)
	}
	defer f.Close()
	return templates.ParseUsers(f, path)
}

// cookieSecret reads the secret from a file or STUDIOBAKE_COOKIE_SECRET;
// there is no flag for the value itself, which would end up in shell
// history and process listings.
func cookieSecret(path string) (string, error) {
	if path == "" {
		return os.Getenv("STUDIOBAKE_COOKIE_SECRET"), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--cookie-secret-file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// parseCIDRs accepts prefixes and bare addresses (a single host).
func parseCIDRs(vals []string) ([]netip.Prefix, error) {
	if len(vals) == 0 {
		return nil, usagef("--auth ip needs --allow-cidr CIDR (e.g. 203.0.113.0/24 or 2001:db8::/32)")
	}
	var out []netip.Prefix
	for _, v := range vals {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return nil, fmt.Errorf("invalid --allow-cidr %q: want an IPv4 or IPv6 prefix such as 203.0.113.0/24", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// splitList accepts both repeated flags and comma-separated values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func containsHost(hosts []templates.Host, h templates.Host) bool {
	for _, x := range hosts {
		if x == h {
			return true
		}
	}
	return false
}

func authCommand() *cli.Command {
	return &cli.Command{
		Name:  "auth",
		Usage: "manage basic-auth users for the edge gate",
		Subcommands: []*cli.Command{{
			Name:      "add-user",
			Usage:     "make a user with a generated password: the password goes to stderr once, the hash line to stdout",
			ArgsUsage: "NAME",
			Description: "Example: studiobake auth add-user alice >> users.txt\n" +
				"The password is 128 random bits; only its salted SHA-256 hash is printed to stdout.",
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usagef("auth add-user takes one NAME")
				}
				u, pw, err := templates.NewUser(c.Args().First())
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.ErrWriter, "password for %s (shown once, store it now): %s\n", u.Name, pw)
				_, err = fmt.Fprintln(c.App.Writer, u.Line())
				return err
			},
		}},
	}
}

// functionFlags are publish's flags for deploying the CloudFront gate.
func functionFlags() []cli.Flag {
	cat := "CloudFront Function:"
	return []cli.Flag{
		&cli.StringFlag{Name: "function-name", Category: cat, EnvVars: []string{"STUDIOBAKE_FUNCTION_NAME"},
			Usage: "deploy the bake's CloudFront gate (build --edge cloudfront) as function `NAME`: create or update, test, publish"},
		&cli.BoolFlag{Name: "associate", Category: cat, EnvVars: []string{"STUDIOBAKE_ASSOCIATE"},
			Usage: "attach the function to the distribution's cache behaviour for the base path as its viewer-request function"},
		&cli.BoolFlag{Name: "headers-policy", Category: cat, EnvVars: []string{"STUDIOBAKE_HEADERS_POLICY"},
			Usage: "also create or update the bake's response headers policy (CSP, HSTS...) and, with --associate, attach it (replacing the behaviour's policy)"},
		&cli.StringFlag{Name: "cache-behavior", Category: cat, EnvVars: []string{"STUDIOBAKE_CACHE_BEHAVIOR"},
			Usage: "with --associate, the cache behaviour's path `PATTERN` (or \"default\"; default: the one covering the base path)"},
	}
}

// deployFunction deploys the gate of the bake in bakeDir when
// --function-name is given: KeyValueStore entries, then the function, then
// the association; with publish's --dry-run it only reports what would
// change. It re-checks the code first, so a hand-edited function.js that
// CloudFront would reject is never deployed.
func deployFunction(c *cli.Context, cfg aws.Config, m *build.Manifest, bakeDir string, out io.Writer) error {
	name := c.String("function-name")
	if name == "" {
		for _, f := range []string{"associate", "headers-policy"} {
			if c.Bool(f) {
				return usagef("--%s needs --function-name", f)
			}
		}
		return nil
	}
	code, kvs, ok, err := templates.LoadCloudFront(bakeDir)
	if err != nil {
		return err
	}
	if !ok {
		return usagef("--function-name: the bake in %s has no CloudFront gate; build it with --edge cloudfront", bakeDir)
	}
	if err := templates.CheckCloudFront(code); err != nil {
		return fmt.Errorf("%s/edge/cloudfront/%s: %w", bakeDir, templates.FunctionFile, err)
	}
	info, err := templates.ReadFunctionInfo(bakeDir)
	if err != nil {
		return err
	}
	o := deploy.Options{Name: name, Code: []byte(code), Comment: "Mastra Studio gate (studiobake), base " + edgeOr(m.BasePath, "/"),
		KVSARN: info.KVSARN, KVS: kvs, ManagedKey: managedKey, BasePath: m.BasePath,
		Associate: c.Bool("associate"), DistributionID: c.String("distribution-id"), CacheBehavior: c.String("cache-behavior"),
		DryRun: c.Bool("dry-run")}
	if c.Bool("headers-policy") {
		doc, err := os.ReadFile(filepath.Join(bakeDir, build.EdgeDir, string(templates.CloudFront), templates.HeadersPolicyFile))
		if err != nil {
			return err
		}
		if o.HeadersPolicy, err = deploy.ParseHeadersPolicy(doc); err != nil {
			return err
		}
	}
	cf := cloudfront.NewFromConfig(cfg, func(o *cloudfront.Options) {
		// CloudFront is global: its API answers in us-east-1 whatever the
		// configured region (China partitions keep theirs).
		if !strings.HasPrefix(o.Region, "cn-") {
			o.Region = "us-east-1"
		}
	})
	clients := deploy.Clients{Functions: cf, Distributions: cf, HeadersPolicies: cf}
	if info.KVSARN != "" {
		clients.KVS = cloudfrontkeyvaluestore.NewFromConfig(cfg)
	}
	r, err := deploy.Run(c.Context, clients, o, out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, r.Summary(name))
	return err
}

// managedKey says which KeyValueStore keys the gate owns: a store may be
// shared, and keys studiobake does not own are never deleted.
func managedKey(k string) bool {
	return strings.HasPrefix(k, templates.KVSUserPrefix) || k == templates.KVSCookieSecret
}

func edgeOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
