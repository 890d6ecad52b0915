package templates

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// AuthModes are the gate's access checks that are on.
type AuthModes struct{ Basic, Cookie, IP bool }

// ParseModes reads --auth values: basic, cookie, ip.
func ParseModes(vals []string) (AuthModes, error) {
	var m AuthModes
	for _, v := range vals {
		switch v {
		case "basic":
			m.Basic = true
		case "cookie":
			m.Cookie = true
		case "ip":
			m.IP = true
		default:
			return m, fmt.Errorf("invalid --auth %q: want basic, cookie or ip", v)
		}
	}
	return m, nil
}

// Any says whether some mode is on.
func (m AuthModes) Any() bool { return m.Basic || m.Cookie || m.IP }

// AuthInput is the gate's access control as the user gives it: files and
// values not read or checked yet.
type AuthInput struct {
	Modes []string // basic, cookie, ip
	// Basic auth: the users file (lines from NewUser), the realm, and
	// whether users live in the KeyValueStore instead of the code.
	UsersFile  string
	Realm      string
	UsersInKVS bool
	// Cookie auth.
	CookieName, LoginURL, ReturnParam string
	// CookieSecretFile holds the secret; CookieSecretEnv is the value of
	// STUDIOBAKE_COOKIE_SECRET, used when there is no file.
	CookieSecretFile, CookieSecretEnv string
	// AllowCIDRs are prefixes or bare addresses (ip mode).
	AllowCIDRs []string
	KVSARN     string
}

// ParseAuth reads the files in and and checks every value, returning the
// auth part of the gate's options.
func ParseAuth(in AuthInput) (CloudFrontOptions, error) {
	var o CloudFrontOptions
	modes, err := ParseModes(in.Modes)
	if err != nil {
		return o, err
	}
	o.KVSARN = in.KVSARN
	if modes.Basic {
		users, err := ReadUsersFile(in.UsersFile)
		if err != nil {
			return o, err
		}
		o.Basic = &BasicAuth{Realm: in.Realm, Users: users, InKVS: in.UsersInKVS}
	}
	if modes.Cookie {
		secret, err := readCookieSecret(in.CookieSecretFile, in.CookieSecretEnv)
		if err != nil {
			return o, err
		}
		o.Cookie = &CookieAuth{Name: in.CookieName, LoginURL: in.LoginURL, ReturnParam: in.ReturnParam, Secret: secret}
	}
	if modes.IP {
		if o.AllowCIDRs, err = ParseCIDRs(in.AllowCIDRs); err != nil {
			return o, err
		}
	}
	return o, nil
}

// ReadUsersFile reads a users file (see ParseUsers).
func ReadUsersFile(path string) ([]User, error) {
	if path == "" {
		return nil, fmt.Errorf("--auth basic needs --auth-users FILE (make lines with studiobake auth add-user NAME)")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--auth-users: %w", err)
	}
	defer f.Close()
	return ParseUsers(f, path)
}

// readCookieSecret reads the secret from a file, else takes the value of
// STUDIOBAKE_COOKIE_SECRET; there is no flag for the value itself, which
// would end up in shell history and process listings.
func readCookieSecret(path, env string) (string, error) {
	if path == "" {
		return env, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--cookie-secret-file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// ParseCIDRs accepts prefixes and bare addresses (a single host).
func ParseCIDRs(vals []string) ([]netip.Prefix, error) {
	if len(vals) == 0 {
		return nil, fmt.Errorf("--auth ip needs --allow-cidr CIDR (e.g. 203.0.113.0/24 or 2001:db8::/32)")
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
