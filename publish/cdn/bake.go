package cdn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates"
)

// GateOptions are the choices of a gate deploy that are not in the bake.
type GateOptions struct {
	// Name is the CloudFront Function's name.
	Name string
	// Associate attaches the function (and HeadersPolicy) to the
	// distribution's cache behaviour; CacheBehavior names it by path
	// pattern or "default" ("" picks the one serving the base path).
	Associate     bool
	CacheBehavior string
	// HeadersPolicy also deploys the bake's response headers policy.
	HeadersPolicy bool
	// BucketOrigin and ReplaceFunctions: see Options.
	BucketOrigin     string
	ReplaceFunctions bool
	// Secrets says where the KeyValueStore entries the gate reads are kept
	// (they are never in the bake); read only when the gate needs them.
	Secrets templates.SecretInput
	// KVSARN is the KeyValueStore the gate reads, given when deploying
	// (publish --kvs-arn, or the stack's output): the gate's code names no
	// store, so this is where its entries go and, with Name, the store
	// associated with the function. "" falls back to the one recorded at
	// build (function.json) for a function deploy.
	KVSARN string
	// Stack is the stack KVSARN was read from (publish --stack), for errors.
	Stack string
	// KeysOnly writes the KeyValueStore entries and nothing else: with
	// publish --stack, CloudFormation owns the function and the
	// distribution, and publish puts in the secrets the template never holds.
	KeysOnly bool
}

// ErrNoGate says a bake was built without --edge cloudfront.
var ErrNoGate = errors.New("the bake has no CloudFront gate")

// FromBake reads the gate of the bake in dir (build --edge cloudfront) into
// deploy options. It checks the code again, so a hand-edited function.js
// that CloudFront would reject is never deployed.
func FromBake(dir string, m *build.Manifest, g GateOptions) (Options, error) {
	code, ok, err := templates.LoadCloudFront(dir)
	if err != nil {
		return Options{}, err
	}
	if !ok && g.KeysOnly {
		return Options{KeysOnly: true}, nil // no gate, no secrets to write
	}
	if !ok {
		return Options{}, fmt.Errorf("--function-name: %w in %s; build it with --edge cloudfront", ErrNoGate, dir)
	}
	if err := templates.CheckCloudFront(code); err != nil {
		return Options{}, fmt.Errorf("%s/edge/cloudfront/%s: %w", dir, templates.FunctionFile, err)
	}
	info, err := templates.ReadFunctionInfo(dir)
	if err != nil {
		return Options{}, err
	}
	arn, err := gateStore(info, g)
	if err != nil {
		return Options{}, err
	}
	var kvs map[string]string
	if arn != "" {
		if kvs, err = templates.GateKVS(info, g.Secrets); err != nil {
			if g.KeysOnly {
				return Options{}, fmt.Errorf("--stack: %w", err)
			}
			return Options{}, fmt.Errorf("--function-name: %w", err)
		}
	}
	o := Options{Name: g.Name, Code: []byte(code), Comment: "Mastra Studio gate (studiobake), base " + or(m.BasePath, "/"),
		KVSARN: arn, KVS: kvs, ManagedKey: templates.GateOwnsKey, BasePath: m.BasePath,
		Associate: g.Associate, CacheBehavior: g.CacheBehavior, API: m.API,
		BucketOrigin: g.BucketOrigin, ReplaceFunctions: g.ReplaceFunctions, KeysOnly: g.KeysOnly}
	if g.HeadersPolicy {
		doc, err := os.ReadFile(filepath.Join(dir, build.EdgeDir, string(templates.CloudFront), templates.HeadersPolicyFile))
		if err != nil {
			return Options{}, err
		}
		if o.HeadersPolicy, err = ParseHeadersPolicy(doc); err != nil {
			return Options{}, err
		}
	}
	return o, nil
}

// gateStore is the KeyValueStore a deploy writes the gate's entries to (and
// associates with the function), "" for a gate that reads none. With a
// stack it is the stack's; otherwise publish --kvs-arn, else the ARN given
// at build. A gate that reads a store with none to name is refused here,
// before anything is uploaded.
func gateStore(info templates.FunctionInfo, g GateOptions) (string, error) {
	arn := g.KVSARN
	if arn == "" && !g.KeysOnly {
		arn = info.KVSARN
	}
	switch {
	case !info.UsesKVS() && g.KVSARN != "" && !g.KeysOnly:
		return "", fmt.Errorf("--kvs-arn %q: the bake's gate reads no KeyValueStore (built without --auth cookie or --users-in-kvs): drop it", g.KVSARN)
	case !info.UsesKVS():
		return "", nil
	case arn == "" && g.KeysOnly:
		return "", fmt.Errorf("--stack %q has no output %s, which this bake needs: its gate reads the cookie secret or users from a KeyValueStore, "+
			"and a stack made from its %s creates one; deploy that template to the stack (aws cloudformation deploy), then publish again", g.Stack, OutputKVSARN, StackFile)
	case arn == "":
		return "", fmt.Errorf("--function-name: the bake's gate reads the cookie secret or users from a CloudFront KeyValueStore: give --kvs-arn ARN "+
			"(create one with aws cloudfront create-key-value-store, or deploy edge/cloudfront/%s, which creates one, and publish --stack)", StackFile)
	}
	setting := "--kvs-arn"
	if g.KeysOnly {
		setting = fmt.Sprintf("--stack %q output %s", g.Stack, OutputKVSARN)
	}
	return arn, templates.CheckKVSARN(setting, arn)
}
