package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates"
)

// TestNoSecretInTheBake bakes with every secret-bearing option (cookie
// auth with its secret from a file and from STUDIOBAKE_COOKIE_SECRET,
// users kept in the KeyValueStore, every edge host, the public manifest)
// and searches every file under the output's parent for the secret in any
// encoding and for the users' salts and hashes.
func TestNoSecretInTheBake(t *testing.T) {
	alice, _, _ := templates.NewUser("alice")
	bob, _, _ := templates.NewUser("bob")
	users := writeFile(t, "users.txt", alice.Line()+"\n"+bob.Line()+"\n")
	secret := "Vq8-cookie-secret-" + strings.Repeat("x7", 12) // 42 bytes of text
	secretFile := writeFile(t, "secret", secret+"\n")
	arn := "arn:aws:cloudfront::123456789012:key-value-store/0a1b2c3d"
	args := []string{"build", "--studio", testTree(t), "-q", "--public-manifest",
		"--edge", "cloudfront,nginx,netlify,cloudflare", "--auth", "basic,cookie,ip", "--users-in-kvs", "--auth-users", users,
		"--login-url", "https://login.example.com/", "--kvs-arn", arn, "--allow-cidr", "10.0.0.0/8"}
	needles := map[string][]byte{"the secret": []byte(secret), "its hex": []byte(hex.EncodeToString([]byte(secret)))}
	needles["its base64"] = []byte(base64.StdEncoding.EncodeToString([]byte(secret))[:40])
	needles["its base64url"] = []byte(base64.RawURLEncoding.EncodeToString([]byte(secret))[:40])
	for _, u := range []templates.User{alice, bob} {
		needles[u.Name+"'s salt"], needles[u.Name+"'s hash"] = []byte(u.Salt), []byte(u.Hash)
	}
	for _, from := range []string{"file", "environment"} {
		t.Run(from, func(t *testing.T) {
			root := t.TempDir()
			out := filepath.Join(root, "dist")
			a := append(append([]string{}, args...), "--out", out)
			if from == "file" {
				a = append(a, "--cookie-secret-file", secretFile)
			} else {
				t.Setenv("STUDIOBAKE_COOKIE_SECRET", secret)
			}
			if code, _, stderr := runCLI(t, a...); code != 0 {
				t.Fatalf("build: exit %d: %s", code, stderr)
			}
			info, err := templates.ReadFunctionInfo(out)
			if err != nil || !info.UsersInKVS || info.KVSARN != arn {
				t.Fatalf("function.json: %+v %v", info, err)
			}
			files := 0
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				files++
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				for what, n := range needles {
					if bytes.Contains(b, n) {
						t.Errorf("%s holds %s", p, what)
					}
				}
				return nil
			})
			if files < 10 {
				t.Fatalf("only %d files under %s", files, root)
			}
			if _, err := os.Stat(filepath.Join(out, build.EdgeDir, "cloudfront", "kvs.json")); !os.IsNotExist(err) {
				t.Errorf("kvs.json: %v", err)
			}
		})
	}
}

// TestCookieSecretRefusals: a secret in the wrong shape stops build with
// one line naming the setting, exit 1, and no output directory.
func TestCookieSecretRefusals(t *testing.T) {
	arn := "arn:aws:cloudfront::123456789012:key-value-store/0a1b2c3d"
	cases := []struct{ desc, content, env, want string }{
		{"binary file", "\xff\xfe" + strings.Repeat("k", 40), "", "the secret is not UTF-8 text"},
		{"binary variable", "", "\xc3\x28" + strings.Repeat("k", 40), "invalid STUDIOBAKE_COOKIE_SECRET: the secret is not UTF-8 text"},
		{"bad hex", "hex:xyz", "", "starts with hex: but the rest is not hex digits"},
		{"short", "short", "", "the secret is 5 bytes; use 32 to 512"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "d")
			args := []string{"build", "--studio", testTree(t), "-q", "--out", out, "--edge", "cloudfront", "--auth", "cookie",
				"--login-url", "https://login.example.com/", "--kvs-arn", arn}
			if c.content != "" {
				args = append(args, "--cookie-secret-file", writeFile(t, "secret", c.content))
			}
			t.Setenv("STUDIOBAKE_COOKIE_SECRET", c.env)
			code, _, stderr := runCLI(t, args...)
			if code != exitError || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, c.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output written: %v", err)
			}
		})
	}
}
