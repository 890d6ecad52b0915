package templates

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// The gate's secrets (the cookie secret, and users kept in the
// KeyValueStore) are never written into a bake: teams upload dist/ as a CI
// artifact or cache it. publish reads them where the user keeps them when
// it deploys the KeyValueStore entries, and serve when it runs the gate.

// Cookie secret limits: HMAC-SHA256 wants at least its output size, and a
// KeyValueStore value holds at most 1 KB (hex doubles a binary key).
const (
	minSecret = 32
	maxSecret = 512
)

// SecretInput says where the gate's secrets are kept.
type SecretInput struct {
	// CookieSecretFile holds the cookie secret (--cookie-secret-file);
	// CookieSecretEnv is the value of STUDIOBAKE_COOKIE_SECRET, used when
	// there is no file.
	CookieSecretFile, CookieSecretEnv string
	// UsersFile holds the users the gate reads from the KeyValueStore
	// (--auth-users with --users-in-kvs); AllowWeakUsers accepts lines
	// without add-user's check there too (see CheckGenerated; build has
	// warned about them).
	UsersFile      string
	AllowWeakUsers bool
}

// Given says whether a cookie secret was given at all.
func (in SecretInput) Given() bool { return in.CookieSecretFile != "" || in.CookieSecretEnv != "" }

// CookieSecret reads the cookie secret and returns the HMAC key's bytes.
//
// The secret is text: the file's content without its trailing line break,
// or the variable's value. A secret that is not UTF-8 text must be given
// encoded, as "hex:" followed by hex digits or "base64:" followed by
// standard or URL-safe base64; a secret starting with either is always
// decoded. Anything else that is not valid UTF-8 is refused, never
// changed.
func (in SecretInput) CookieSecret() ([]byte, error) {
	setting, raw := "STUDIOBAKE_COOKIE_SECRET", []byte(in.CookieSecretEnv)
	if in.CookieSecretFile != "" {
		b, err := os.ReadFile(in.CookieSecretFile)
		if err != nil {
			return nil, fmt.Errorf("--cookie-secret-file: %w", err)
		}
		setting, raw = "--cookie-secret-file "+in.CookieSecretFile, bytes.TrimRight(b, "\r\n")
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("no cookie secret: give --cookie-secret-file FILE or STUDIOBAKE_COOKIE_SECRET")
	}
	return DecodeSecret(raw, setting)
}

// DecodeSecret turns a secret as given (see CookieSecret) into the key;
// setting names where it came from in errors, which never quote it.
func DecodeSecret(raw []byte, setting string) ([]byte, error) {
	var key []byte
	switch {
	case bytes.HasPrefix(raw, []byte("hex:")):
		k, err := hex.DecodeString(strings.TrimSpace(string(raw[4:])))
		if err != nil {
			return nil, fmt.Errorf("invalid %s: it starts with hex: but the rest is not hex digits", setting)
		}
		key = k
	case bytes.HasPrefix(raw, []byte("base64:")):
		k, err := decodeBase64(strings.TrimSpace(string(raw[7:])))
		if err != nil {
			return nil, fmt.Errorf("invalid %s: it starts with base64: but the rest is not base64", setting)
		}
		key = k
	case !utf8.Valid(raw):
		return nil, fmt.Errorf("invalid %s: the secret is not UTF-8 text (bad byte at offset %d); give a binary secret encoded, as hex:HEX or base64:BASE64",
			setting, firstInvalid(raw))
	default:
		key = raw
	}
	if len(key) < minSecret || len(key) > maxSecret {
		return nil, fmt.Errorf("invalid %s: the secret is %d bytes; use %d to %d", setting, len(key), minSecret, maxSecret)
	}
	return key, nil
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func decodeBase64(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// kvsSecret is the KeyValueStore value for a cookie key. A value is text:
// a key that is UTF-8 text is stored as it is, so that the login service
// and the gate sign with the same bytes; any other key (or one that looks
// encoded) as "hex:" and its hex digits, which the gate decodes.
func kvsSecret(key []byte) string {
	if utf8.Valid(key) && !bytes.HasPrefix(key, []byte("hex:")) {
		return string(key)
	}
	return "hex:" + hex.EncodeToString(key)
}

// kvsEntries are the KeyValueStore entries the gate reads, by key: the
// cookie key (nil: none) and users kept in the store.
func kvsEntries(cookieKey []byte, users []User) map[string]string {
	kv := map[string]string{}
	for _, u := range users {
		kv[KVSUserPrefix+u.Name] = u.Salt + ":" + u.Hash
	}
	if cookieKey != nil {
		kv[KVSCookieSecret] = kvsSecret(cookieKey)
	}
	return kv
}

// GateKVS reads the KeyValueStore entries a bake's gate needs (info is its
// function.json) from where the user keeps them.
func GateKVS(info FunctionInfo, in SecretInput) (map[string]string, error) {
	var key []byte
	if slices.Contains(info.Auth, "cookie") {
		k, err := in.CookieSecret()
		if err != nil {
			return nil, fmt.Errorf("the bake's gate checks a signed session cookie: %w", err)
		}
		key = k
	}
	var users []User
	if info.UsersInKVS {
		if in.UsersFile == "" {
			return nil, fmt.Errorf("the bake's gate reads its users from the KeyValueStore: give --auth-users FILE")
		}
		u, err := ReadUsersFile(in.UsersFile)
		if err != nil {
			return nil, err
		}
		// The file may have changed since the build: check it again.
		if _, err := CheckGenerated(u, in.UsersFile, in.AllowWeakUsers); err != nil {
			return nil, err
		}
		users = u
	}
	return kvsEntries(key, users), nil
}

// GateOwnsKey says which KeyValueStore keys the gate owns: a store may be
// shared, and keys studiobake does not own are never deleted.
func GateOwnsKey(k string) bool {
	return strings.HasPrefix(k, KVSUserPrefix) || k == KVSCookieSecret
}
