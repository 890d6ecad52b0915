package templates

import (
	"fmt"
	"net/netip"
	"os"
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
	// AllowWeakUsers accepts users lines without add-user's check (see
	// CheckGenerated), with a warning given to Warn.
	AllowWeakUsers bool
	Warn           func(string)
	// Cookie auth. The secret is not part of the bake: when one is given
	// it is only checked, so that a bad one fails the build early.
	CookieName, LoginURL, ReturnParam string
	Secrets                           SecretInput
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
		warning, err := CheckGenerated(users, in.UsersFile, in.AllowWeakUsers)
		if err != nil {
			return o, err
		}
		if warning != "" && in.Warn != nil {
			in.Warn(warning)
		}
		o.Basic = &BasicAuth{Realm: in.Realm, Users: users, InKVS: in.UsersInKVS}
	}
	if modes.Cookie {
		if in.Secrets.Given() {
			if _, err := in.Secrets.CookieSecret(); err != nil {
				return o, err
			}
		}
		o.Cookie = &CookieAuth{Name: in.CookieName, LoginURL: in.LoginURL, ReturnParam: in.ReturnParam}
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
