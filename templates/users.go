package templates

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// User is one line of a users file: NAME:sha256:SALT:HASH, where HASH is
// hex(sha256(SALT + password)) and SALT is 32 hex digits. Only hashes are
// stored; the gate hashes what the viewer sends and compares in constant
// time.
type User struct {
	Name string
	Salt string
	Hash string
}

var (
	userName = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}$`)
	hexSalt  = regexp.MustCompile(`^[0-9a-f]{32}$`)
	hexHash  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Line is the users-file form of u.
func (u User) Line() string { return u.Name + ":sha256:" + u.Salt + ":" + u.Hash }

func (u User) validate() error {
	if !userName.MatchString(u.Name) {
		return fmt.Errorf("invalid user name %q: use 1-64 letters, digits and . _ @ + -", u.Name)
	}
	if u.Name == "__proto__" {
		// As a key of the users object compiled into the gate it would set
		// the prototype instead of a user; esbuild writes it as a computed
		// key, which cloudfront-js-2.0 lacks.
		return fmt.Errorf("invalid user name %q: reserved in JavaScript", u.Name)
	}
	if !hexSalt.MatchString(u.Salt) || !hexHash.MatchString(u.Hash) {
		return fmt.Errorf("user %s: salt must be 32 and hash 64 lower-case hex digits", u.Name)
	}
	return nil
}

// HashPassword is the hash the gate computes for a salt and password.
func HashPassword(salt, password string) string {
	h := sha256.Sum256([]byte(salt + password))
	return hex.EncodeToString(h[:])
}

// NewUser makes a user with a fresh random salt and password. The password
// is returned once for the caller to show; it is 128 bits from crypto/rand,
// which is what makes a single fast SHA-256 an adequate hash here.
func NewUser(name string) (User, string, error) {
	var salt, pw [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return User{}, "", err
	}
	if _, err := rand.Read(pw[:]); err != nil {
		return User{}, "", err
	}
	password := base64.RawURLEncoding.EncodeToString(pw[:])
	u := User{Name: name, Salt: hex.EncodeToString(salt[:])}
	u.Hash = HashPassword(u.Salt, password)
	if err := u.validate(); err != nil {
		return User{}, "", err
	}
	return u, password, nil
}

// ParseUsers reads a users file: one NAME:sha256:SALT:HASH per line, blank
// lines and # comments allowed. file names the source in errors. An error
// never quotes a line, since it may hold a pasted password.
func ParseUsers(r io.Reader, file string) ([]User, error) {
	var users []User
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != 4 || parts[1] != "sha256" {
			return nil, fmt.Errorf("%s line %d: want NAME:sha256:SALT:HASH (make lines with studiobake auth add-user NAME)", file, n)
		}
		u := User{Name: parts[0], Salt: parts[2], Hash: parts[3]}
		if err := u.validate(); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", file, n, err)
		}
		if prev, dup := seen[u.Name]; dup {
			return nil, fmt.Errorf("%s line %d: user %s already defined on line %d", file, n, u.Name, prev)
		}
		seen[u.Name] = n
		users = append(users, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s: no users", file)
	}
	return users, nil
}
