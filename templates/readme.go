package templates

import (
	"fmt"
	"strings"

	"github.com/studiobake/studiobake/build"
)

// cloudFrontReadme explains edge/cloudfront/ to whoever deploys it by hand.
func cloudFrontReadme(m *build.Manifest, o CloudFrontOptions, size int) []byte {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# CloudFront gate for Mastra Studio\n\n%s.\n\n", generatedBy)
	w("- `%s`: the viewer-request function (runtime %s, %d bytes of CloudFront's %d).\n", FunctionFile, Runtime, size, MaxFunctionSize)
	w("- `%s`: what deploy needs beside the code.\n", FunctionInfoFile)
	w("- `%s`: a response headers policy (CSP from the baked index.html, HSTS,\n  nosniff, Referrer-Policy, frame denial). It also covers error responses.\n", HeadersPolicyFile)
	w("\nBase path: `%s`. Auth: %s.\n\n", or(m.BasePath, "/"), or(strings.Join(o.authModes(), ", "), "none"))
	w("Deploy with `studiobake publish --function-name NAME --associate`, or by hand:\n\n")
	w("    aws cloudfront create-function --name NAME --function-code fileb://%s \\\n", FunctionFile)
	w("      --function-config '{\"Comment\":\"studio gate\",\"Runtime\":\"%s\"", Runtime)
	if o.usesKVS() {
		w(",\"KeyValueStoreAssociations\":{\"Quantity\":1,\"Items\":[{\"KeyValueStoreARN\":\"%s\"}]}", or(o.KVSARN, "KVS_ARN"))
	}
	w("}'\n    aws cloudfront publish-function --name NAME --if-match ETAG\n")
	w("    aws cloudfront create-response-headers-policy --response-headers-policy-config file://%s\n\n", HeadersPolicyFile)
	w("then attach both to the cache behaviour that serves Studio (viewer request).\n")
	if o.usesKVS() {
		w("\nThe gate reads the KeyValueStore associated with the function (its code\nnames none). stack.yaml creates one; without the stack, create it (aws\n")
		w("cloudfront create-key-value-store) and give its ARN to publish --kvs-arn.\n")
		w("Its entries are secrets and are not in this directory: publish writes them\nwhen it deploys, reading the cookie secret from\n")
		w("--cookie-secret-file or STUDIOBAKE_COOKIE_SECRET and KeyValueStore users from\n--auth-users (by hand: keys %q and %q+NAME = SALT:HASH).\n", KVSCookieSecret, KVSUserPrefix)
	}
	if o.Cookie != nil {
		w("\nCookie auth: your login service sets the cookie `%s` to an HS256 JWT\n", o.Cookie.Name)
		w("(header.payload.signature, base64url) or to payload.signature, where the\n")
		w("signature is HMAC-SHA256 over the part before it with the secret, and the\n")
		w("payload is JSON with `exp` (seconds since 1970) and optionally `nbf`.\n")
		w("Viewers without a valid cookie are sent to %s", o.Cookie.LoginURL)
		if o.Cookie.ReturnParam != "" {
			w(" with `%s` set to the URL they asked for", o.Cookie.ReturnParam)
		}
		w(".\n")
	}
	if len(o.Encoded) > 0 {
		precompressedReadme(w, len(o.Encoded))
	}
	w("Do not add custom error responses that map 403/404 to index.html: the\nfunction already routes deep links, and such mappings hide missing assets.\n")
	return []byte(b.String())
}

// precompressedReadme says what the variants need from the distribution.
func precompressedReadme(w func(string, ...any), files int) {
	w("\nPrecompressed files: the function sends each viewer to `FILE.br` or\n")
	w("`FILE.gz` (%d files have both) by its Accept-Encoding, q-values included;\n", files)
	w("a viewer that accepts neither gets FILE itself, and one that refuses even\n")
	w("that (identity;q=0) gets 406. The function runs before the cache lookup,\n")
	w("so the rewritten path is the cache key and each encoding is cached apart:\n")
	w("any cache policy works, the managed CachingOptimized\n")
	w("(658327ea-f89d-4fab-a63d-7e88639e58f6) included (its Accept-Encoding\n")
	w("normalisation only splits the variants' cache entries further). Keep\n")
	w("\"Compress objects automatically\" on for the files that have no variant;\n")
	w("CloudFront never compresses an object that arrives with a\n")
	w("Content-Encoding. Upload every variant with its Content-Encoding and the\n")
	w("original's Content-Type and Cache-Control (studiobake publish does): a\n")
	w("variant missing from the bucket is a 403 or 404 for the viewers sent to it.\n")
	w("The headers policy adds `Vary: Accept-Encoding`.\n\n")
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
