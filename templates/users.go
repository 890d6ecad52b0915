package templates

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// User is one line of a users file: NAME:sha256:SALT:HASH:CHECK, where HASH
// is hex(sha256(SALT + password)), SALT is 32 hex digits and CHECK is the
// mark auth add-user leaves (see check). Only hashes are stored; the gate
// hashes what the viewer sends and compares in constant time.
type User struct {
	Name string
	Salt string
	Hash string
	// Generated: the line carries add-user's check, so its password is 128
	// random bits. Lines without it (older add-user, or made by hand) may
	// hide a chosen password, which the fast hash does not protect.
	Generated bool
}

// checkTag versions the check; a later line format gets a new tag.
const checkTag = "gen1"

// check is the fifth field add-user writes. It proves the line came out of
// NewUser (whose password is 128 bits from crypto/rand), not from a hash
// computed by hand over a chosen password: a mistake, not a forger, is what
// it stops, as anyone can compute it on purpose.
func check(salt, hash string) string {
	sum := sha256.Sum256([]byte("studiobake auth add-user " + checkTag + "\n" + salt + ":" + hash))
	return checkTag + "-" + hex.EncodeToString(sum[:8])
}

var (
	userName = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}$`)
	hexSalt  = regexp.MustCompile(`^[0-9a-f]{32}$`)
	hexHash  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Line is the users-file form of u; only a generated user gets the check.
func (u User) Line() string {
	line := u.Name + ":sha256:" + u.Salt + ":" + u.Hash
	if u.Generated {
		line += ":" + check(u.Salt, u.Hash)
	}
	return line
}

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
	u := User{Name: name, Salt: hex.EncodeToString(salt[:]), Generated: true}
	u.Hash = HashPassword(u.Salt, password)
	if err := u.validate(); err != nil {
		return User{}, "", err
	}
	return u, password, nil
}

// ParseUsers reads a users file: one NAME:sha256:SALT:HASH:CHECK per line
// (NAME:sha256:SALT:HASH from earlier versions, read with Generated false),
// blank lines and # comments allowed. file names the source in errors. An
// error never quotes a line, since it may hold a pasted password.
func ParseUsers(r io.Reader, file string) ([]User, error) {
	var users []User
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, err := parseUser(line)
		if err != nil {
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

func parseUser(line string) (User, error) {
	parts := strings.Split(line, ":")
	if (len(parts) != 4 && len(parts) != 5) || parts[1] != "sha256" {
		return User{}, errors.New("want NAME:sha256:SALT:HASH:CHECK (make lines with studiobake auth add-user NAME)")
	}
	u := User{Name: parts[0], Salt: parts[2], Hash: parts[3]}
	if err := u.validate(); err != nil {
		return User{}, err
	}
	if len(parts) == 5 {
		if parts[4] != check(u.Salt, u.Hash) {
			return User{}, fmt.Errorf("user %s: the check does not match the salt and hash: the line was changed after add-user made it; make it again with studiobake auth add-user %s", u.Name, u.Name)
		}
		u.Generated = true
	}
	return u, nil
}

// CheckGenerated refuses users whose lines carry no add-user check: SHA-256
// is fast, so a hash of a chosen password shipped in the gate is cracked in
// seconds; only add-user's 128 random bits make it safe. allowWeak turns the
// refusal into the returned warning. file names the source.
func CheckGenerated(users []User, file string, allowWeak bool) (warning string, err error) {
	var weak []string
	for _, u := range users {
		if !u.Generated {
			weak = append(weak, u.Name)
		}
	}
	if len(weak) == 0 {
		return "", nil
	}
	what := fmt.Sprintf("%s: %s without add-user's check (made by hand or by an earlier studiobake): "+
		"a chosen password under a fast SHA-256 is cracked in seconds", file, plural(weak, "user", "users"))
	if allowWeak {
		return what + "; accepted because of --allow-weak-users", nil
	}
	return "", fmt.Errorf("%s; make each line again with studiobake auth add-user NAME (new passwords), "+
		"or pass --allow-weak-users if they hold random passwords of 128 bits", what)
}

func plural(names []string, one, many string) string {
	if len(names) == 1 {
		return one + " " + names[0]
	}
	return many + " " + strings.Join(names, ", ")
}
