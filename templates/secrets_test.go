package templates

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binaryKey is 40 bytes that are not UTF-8 text.
var binaryKey = append([]byte{0xff, 0xfe, 0x00, 0x80}, bytes.Repeat([]byte{0xc3, 0x28}, 18)...)

func TestDecodeSecret(t *testing.T) {
	text := strings.Repeat("k", 40)
	good := []struct {
		desc, raw string
		want      []byte
	}{
		{"text", text, []byte(text)},
		{"UTF-8 text", strings.Repeat("ключ", 5), []byte(strings.Repeat("ключ", 5))},
		{"hex", "hex:" + hex.EncodeToString(binaryKey), binaryKey},
		{"hex with spaces around", "hex: " + hex.EncodeToString(binaryKey) + " ", binaryKey},
		{"base64", "base64:" + base64.StdEncoding.EncodeToString(binaryKey), binaryKey},
		{"base64 unpadded", "base64:" + base64.RawStdEncoding.EncodeToString(binaryKey[:34]), binaryKey[:34]},
		{"base64url", "base64:" + base64.RawURLEncoding.EncodeToString(binaryKey), binaryKey},
	}
	for _, c := range good {
		got, err := DecodeSecret([]byte(c.raw), "--cookie-secret-file s")
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s: got %x, %v", c.desc, got, err)
		}
	}
	bad := []struct {
		desc string
		raw  []byte
		want string
	}{
		{"not UTF-8", binaryKey, "is not UTF-8 text (bad byte at offset 0); give a binary secret encoded, as hex:HEX or base64:BASE64"},
		{"bad byte later", append([]byte(text), 0xff), "bad byte at offset 40"},
		{"bad hex", []byte("hex:zz" + text), "starts with hex: but the rest is not hex digits"},
		{"bad base64", []byte("base64:!!" + text), "starts with base64: but the rest is not base64"},
		{"short", []byte("short"), "the secret is 5 bytes; use 32 to 512"},
		{"short once decoded", []byte("hex:" + strings.Repeat("ab", 31)), "the secret is 31 bytes"},
		{"too long for the store", bytes.Repeat([]byte("k"), 513), "the secret is 513 bytes"},
	}
	for _, c := range bad {
		_, err := DecodeSecret(c.raw, "--cookie-secret-file s")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--cookie-secret-file s") {
			t.Errorf("%s: got %v, want %q naming the setting", c.desc, err, c.want)
		}
		if err != nil && bytes.Contains([]byte(err.Error()), c.raw[:min(8, len(c.raw))]) && len(c.raw) > 8 {
			t.Errorf("%s: the error quotes the secret: %v", c.desc, err)
		}
	}
}

// The file wins over STUDIOBAKE_COOKIE_SECRET; a file loses its trailing
// line break only; errors name where the secret came from.
func TestCookieSecretSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	os.WriteFile(file, []byte(strings.Repeat("f", 40)+"\r\n"), 0o600)
	env := strings.Repeat("e", 40)
	if k, err := (SecretInput{CookieSecretFile: file, CookieSecretEnv: env}).CookieSecret(); err != nil || string(k) != strings.Repeat("f", 40) {
		t.Errorf("file: %q %v", k, err)
	}
	if k, err := (SecretInput{CookieSecretEnv: env}).CookieSecret(); err != nil || string(k) != env {
		t.Errorf("env: %q %v", k, err)
	}
	if _, err := (SecretInput{CookieSecretEnv: string(binaryKey)}).CookieSecret(); err == nil || !strings.Contains(err.Error(), "invalid STUDIOBAKE_COOKIE_SECRET") {
		t.Errorf("binary env: %v", err)
	}
	if _, err := (SecretInput{}).CookieSecret(); err == nil || !strings.Contains(err.Error(), "--cookie-secret-file FILE or STUDIOBAKE_COOKIE_SECRET") {
		t.Errorf("none: %v", err)
	}
	if _, err := (SecretInput{CookieSecretFile: filepath.Join(dir, "missing")}).CookieSecret(); err == nil || !strings.Contains(err.Error(), "--cookie-secret-file") {
		t.Errorf("missing file: %v", err)
	}
}

// GateKVS asks for what the bake's gate reads, and only that.
func TestGateKVS(t *testing.T) {
	u, _, _ := NewUser("alice")
	dir := t.TempDir()
	users := filepath.Join(dir, "users.txt")
	os.WriteFile(users, []byte(u.Line()+"\n"), 0o600)
	secret := SecretInput{CookieSecretEnv: strings.Repeat("e", 40), UsersFile: users}
	kv, err := GateKVS(FunctionInfo{Auth: []string{"basic", "cookie"}, UsersInKVS: true}, secret)
	if err != nil || kv[KVSCookieSecret] != strings.Repeat("e", 40) || kv[KVSUserPrefix+"alice"] != u.Salt+":"+u.Hash || len(kv) != 2 {
		t.Errorf("cookie and users: %v %v", kv, err)
	}
	if kv, err := GateKVS(FunctionInfo{Auth: []string{"ip", "basic"}}, secret); err != nil || len(kv) != 0 {
		t.Errorf("nothing in the store: %v %v", kv, err)
	}
	if _, err := GateKVS(FunctionInfo{Auth: []string{"cookie"}}, SecretInput{}); err == nil || !strings.Contains(err.Error(), "signed session cookie") {
		t.Errorf("cookie without secret: %v", err)
	}
	if _, err := GateKVS(FunctionInfo{Auth: []string{"basic"}, UsersInKVS: true}, SecretInput{}); err == nil || !strings.Contains(err.Error(), "--auth-users") {
		t.Errorf("KVS users without file: %v", err)
	}
	weak := filepath.Join(dir, "weak.txt")
	salt := strings.Repeat("5a", 16)
	os.WriteFile(weak, []byte("bob:sha256:"+salt+":"+HashPassword(salt, "Summer2024!")+"\n"), 0o600)
	kvsUsers := FunctionInfo{Auth: []string{"basic"}, UsersInKVS: true}
	if _, err := GateKVS(kvsUsers, SecretInput{UsersFile: weak}); err == nil || !strings.Contains(err.Error(), "without add-user's check") {
		t.Errorf("a hand-made line deployed to the store: %v", err)
	}
	if kv, err := GateKVS(kvsUsers, SecretInput{UsersFile: weak, AllowWeakUsers: true}); err != nil || kv[KVSUserPrefix+"bob"] == "" {
		t.Errorf("--allow-weak-users: %v %v", kv, err)
	}
	if got := kvsSecret(binaryKey); got != "hex:"+hex.EncodeToString(binaryKey) {
		t.Errorf("binary key stored as %q", got)
	}
	if got := kvsSecret([]byte("hex:" + strings.Repeat("a", 40))); !strings.HasPrefix(got, "hex:6865783a") {
		t.Errorf("a text key that looks encoded is stored as %q", got)
	}
}

// A key that is not UTF-8 text signs sessions the gate accepts: the store
// holds it as hex and the gate decodes it into the same bytes.
func TestGateCookieBinaryKey(t *testing.T) {
	o := CloudFrontOptions{BasePath: "/agents",
		Cookie: &CookieAuth{Name: "studio_session", LoginURL: "https://login.example.com/"}}
	code, err := CompileCloudFront(o)
	if err != nil {
		t.Fatal(err)
	}
	live := fmt.Sprintf(`{"sub":"alice","exp":%d}`, time.Now().Unix()+3600)
	c := func(v string) map[string]string { return map[string]string{"studio_session": v} }
	other := append([]byte{}, binaryKey...)
	other[0] = 0xfd
	redirect := want{status: 302, location: "https://login.example.com/"}
	runCases(t, code, kvsEntries(binaryKey, nil), []gateCase{
		{"signed with the binary key", ev("/agents/tools", "", "", nil, c(session(string(binaryKey), "", live))), want{uri: "/agents/index.html"}},
		{"signed with another key", ev("/agents/tools", "", "", nil, c(session(string(other), "", live))), redirect},
		{"signed with the hex text", ev("/agents/tools", "", "", nil, c(session(hex.EncodeToString(binaryKey), "", live))), redirect},
	})
}

// A bake from an earlier version still holding kvs.json (with the secret)
// is refused, with what to do.
func TestLegacyKVSFileRefused(t *testing.T) {
	dir, m := testBake(t, "/agents", false)
	if err := WriteEdge(dir, m, EdgeOptions{Hosts: []Host{CloudFront}}); err != nil {
		t.Fatal(err)
	}
	legacy := filepath.Join(dir, "edge", "cloudfront", legacyKVSFile)
	os.WriteFile(legacy, []byte(`{"cookie-secret":"x"}`), 0o600)
	if _, _, err := LoadCloudFront(dir); err == nil || !strings.Contains(err.Error(), legacy+" is from an earlier studiobake") ||
		!strings.Contains(err.Error(), "delete it") {
		t.Errorf("got %v", err)
	}
}
