package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/publish/cdn"
	"github.com/studiobake/studiobake/templates"
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
		flagAuthUsers(cat),
		flagAllowWeakUsers(cat),
		&cli.StringFlag{Name: "auth-realm", Category: cat, EnvVars: []string{"STUDIOBAKE_AUTH_REALM"}, Value: templates.DefaultRealm,
			Usage: "basic auth `REALM` shown by the browser"},
		&cli.BoolFlag{Name: "users-in-kvs", Category: cat, EnvVars: []string{"STUDIOBAKE_USERS_IN_KVS"},
			Usage: "keep basic auth users in the KeyValueStore instead of the function code"},
		&cli.StringFlag{Name: "login-url", Category: cat, EnvVars: []string{"STUDIOBAKE_LOGIN_URL"},
			Usage: "cookie auth: absolute `URL` that signs viewers in and sets the session cookie"},
		&cli.StringFlag{Name: "login-return-param", Category: cat, EnvVars: []string{"STUDIOBAKE_LOGIN_RETURN_PARAM"}, Value: templates.DefaultReturnParam,
			Usage: "cookie auth: query `NAME` that carries the URL to return to (empty: none)"},
		&cli.StringFlag{Name: "cookie-name", Category: cat, EnvVars: []string{"STUDIOBAKE_COOKIE_NAME"}, Value: templates.DefaultCookieName,
			Usage: "cookie auth: session cookie `NAME` (an HS256 JWT or payload.signature, with exp)"},
		flagCookieSecretFile(cat),
		&cli.StringSliceFlag{Name: "allow-cidr", Category: cat, EnvVars: []string{"STUDIOBAKE_ALLOW_CIDR"},
			Usage: "ip auth: allow viewers from `CIDR`, IPv4 or IPv6 (repeatable)"},
		&cli.StringFlag{Name: "kvs-arn", Category: cat, EnvVars: []string{"STUDIOBAKE_KVS_ARN"},
			Usage: "an existing CloudFront KeyValueStore `ARN` for the cookie secret and --users-in-kvs (publish --function-name needs it; the stack creates a store without it)"},
		&cli.StringFlag{Name: "stack-domain", Category: cat, EnvVars: []string{"STUDIOBAKE_STACK_DOMAIN"},
			Usage: "default of the CloudFormation stack's DomainName parameter: Studio's alternate domain `NAME` (with --stack-certificate-arn)"},
		&cli.StringFlag{Name: "stack-certificate-arn", Category: cat, EnvVars: []string{"STUDIOBAKE_STACK_CERTIFICATE_ARN"},
			Usage: "default of the stack's CertificateArn parameter: the ACM certificate `ARN` (us-east-1) for --stack-domain"},
	}
}

// The flags that say where the gate's secrets are kept, shared by build,
// publish and serve.
func flagAuthUsers(cat string) cli.Flag {
	return &cli.StringFlag{Name: "auth-users", Category: cat, EnvVars: []string{"STUDIOBAKE_AUTH_USERS"},
		Usage: "basic auth users `FILE`, lines from studiobake auth add-user"}
}

func flagAllowWeakUsers(cat string) cli.Flag {
	return &cli.BoolFlag{Name: "allow-weak-users", Category: cat, EnvVars: []string{"STUDIOBAKE_ALLOW_WEAK_USERS"},
		Usage: "basic auth: accept users lines without add-user's check (a warning instead of an error)"}
}

func flagCookieSecretFile(cat string) cli.Flag {
	return &cli.StringFlag{Name: "cookie-secret-file", Category: cat, EnvVars: []string{"STUDIOBAKE_COOKIE_SECRET_FILE"},
		Usage: "cookie auth: HMAC-SHA256 secret from `FILE` (or STUDIOBAKE_COOKIE_SECRET; hex:HEX or base64:B64 for a binary one); publish writes it to the KeyValueStore, never into the bake"}
}

// edgeFinisher validates every edge flag before the bake starts and returns
// the step that writes edge output into the bake's temporary directory, or
// nil when no --edge was given.
func edgeFinisher(c *cli.Context) (func(dir string, m *build.Manifest) error, error) {
	opts, err := edgeOptions(c)
	if err != nil {
		return nil, err
	}
	stack := cdn.StackOptions{Domain: c.String("stack-domain"), CertificateARN: c.String("stack-certificate-arn")}
	if stack.Domain != "" || stack.CertificateARN != "" {
		if opts == nil || !slices.Contains(opts.Hosts, templates.CloudFront) {
			return nil, usagef("--stack-domain and --stack-certificate-arn set the CloudFormation stack's parameters: add --edge cloudfront")
		}
		if err := stack.Validate(); err != nil {
			return nil, err
		}
	}
	if opts == nil {
		return nil, nil
	}
	return func(dir string, m *build.Manifest) error {
		if err := templates.WriteEdge(dir, m, *opts); err != nil {
			return err
		}
		if !slices.Contains(opts.Hosts, templates.CloudFront) {
			return nil
		}
		// The stack is made from the gate just written: its code and
		// headers policy, as they will be deployed.
		return cdn.WriteStack(dir, m, stack.Domain, stack.CertificateARN)
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
	if hasAuth && !slices.Contains(hosts, templates.CloudFront) {
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

// authOptions reads the --auth settings. A setting given without its mode,
// or a mode without what it needs, is a usage error: it would silently do
// nothing, or could not work.
func authOptions(c *cli.Context) (templates.CloudFrontOptions, error) {
	in := templates.AuthInput{Modes: splitList(c.StringSlice("auth")),
		UsersFile: c.String("auth-users"), Realm: c.String("auth-realm"), UsersInKVS: c.Bool("users-in-kvs"),
		AllowWeakUsers: c.Bool("allow-weak-users"), Warn: func(msg string) { warn(c, msg) },
		CookieName: c.String("cookie-name"), LoginURL: c.String("login-url"), ReturnParam: c.String("login-return-param"),
		Secrets:    secretInput(c),
		AllowCIDRs: splitList(c.StringSlice("allow-cidr")), KVSARN: c.String("kvs-arn")}
	modes, err := templates.ParseModes(in.Modes)
	if err != nil {
		return templates.CloudFrontOptions{}, err
	}
	if err := checkAuthFlags(c, modes); err != nil {
		return templates.CloudFrontOptions{}, err
	}
	return templates.ParseAuth(in)
}

func checkAuthFlags(c *cli.Context, modes templates.AuthModes) error {
	on := map[string]bool{"basic": modes.Basic, "cookie": modes.Cookie, "ip": modes.IP}
	for _, f := range []struct{ flag, mode string }{{"auth-users", "basic"}, {"auth-realm", "basic"}, {"allow-weak-users", "basic"},
		{"users-in-kvs", "basic"}, {"login-url", "cookie"}, {"login-return-param", "cookie"},
		{"cookie-name", "cookie"}, {"cookie-secret-file", "cookie"}, {"allow-cidr", "ip"}} {
		if c.IsSet(f.flag) && !on[f.mode] {
			return usagef("--%s is only used with --auth %s", f.flag, f.mode)
		}
	}
	if c.IsSet("kvs-arn") && !modes.Cookie && !c.Bool("users-in-kvs") {
		return usagef("--kvs-arn is only used with --auth cookie or --users-in-kvs")
	}
	if modes.Basic && c.String("auth-users") == "" {
		return usagef("--auth basic needs --auth-users FILE (make lines with studiobake auth add-user NAME)")
	}
	if modes.IP && len(splitList(c.StringSlice("allow-cidr"))) == 0 {
		return usagef("--auth ip needs --allow-cidr CIDR (e.g. 203.0.113.0/24 or 2001:db8::/32)")
	}
	return nil
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
			Usage: "set up the distribution: the function as viewer-request function of every cache behaviour that can reach the bucket under the prefix (and, for a one-origin bake, the API origin and behaviour)"},
		&cli.BoolFlag{Name: "headers-policy", Category: cat, EnvVars: []string{"STUDIOBAKE_HEADERS_POLICY"},
			Usage: "also create or update the bake's response headers policy (CSP, HSTS...) and, with --associate, attach it (replacing the behaviour's policy)"},
		&cli.StringFlag{Name: "cache-behavior", Category: cat, EnvVars: []string{"STUDIOBAKE_CACHE_BEHAVIOR"},
			Usage: "with --associate, the main cache behaviour (it also gets the headers policy): path `PATTERN` or \"default\" (default: the one covering the base path)"},
		&cli.StringFlag{Name: "bucket-origin", Category: cat, EnvVars: []string{"STUDIOBAKE_BUCKET_ORIGIN"},
			Usage: "with --associate, the distribution's origin `ID` that serves the bucket, when its domain name is not the bucket's S3 endpoint"},
		&cli.BoolFlag{Name: "replace-functions", Category: cat, EnvVars: []string{"STUDIOBAKE_REPLACE_FUNCTIONS"},
			Usage: "with --associate, replace another viewer-request function (CloudFront Function or Lambda@Edge) on a cache behaviour that can reach the bucket"},
	}
}

// gateOptions are publish's settings for deploying the bake's CloudFront
// gate, nil without --function-name.
func gateOptions(c *cli.Context) (*cdn.GateOptions, error) {
	name := c.String("function-name")
	if name == "" {
		for _, f := range []string{"associate", "headers-policy"} {
			if c.Bool(f) {
				return nil, usagef("--%s needs --function-name", f)
			}
		}
		return nil, nil
	}
	if !c.Bool("associate") {
		for _, f := range []string{"bucket-origin", "replace-functions"} {
			if c.IsSet(f) {
				return nil, usagef("--%s is only used with --associate", f)
			}
		}
	}
	return &cdn.GateOptions{Name: name, Associate: c.Bool("associate"), CacheBehavior: c.String("cache-behavior"),
		HeadersPolicy: c.Bool("headers-policy"), BucketOrigin: c.String("bucket-origin"), ReplaceFunctions: c.Bool("replace-functions"),
		Secrets: secretInput(c), KVSARN: c.String("kvs-arn")}, nil
}

// deployFlags are build's flags that publish also reads when it deploys
// the gate, so they are not ignored next to --dir: the KeyValueStore and
// the secrets written to it, which are never in the bake.
var deployFlags = []string{"kvs-arn", "cookie-secret-file", "auth-users", "allow-weak-users"}

// secretInput says where the gate's secrets are kept: build only checks
// them, publish deploys them and serve feeds them to the gate. There is no
// flag for the cookie secret itself, which would end up in shell history
// and process listings.
func secretInput(c *cli.Context) templates.SecretInput {
	return templates.SecretInput{CookieSecretFile: c.String("cookie-secret-file"),
		CookieSecretEnv: os.Getenv("STUDIOBAKE_COOKIE_SECRET"), UsersFile: c.String("auth-users"),
		AllowWeakUsers: c.Bool("allow-weak-users")}
}
