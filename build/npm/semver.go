package npm

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// semverRe is the SemVer 2.0 shape npm publishes. Versions that match it are
// also safe as a path component: no separator, no leading dot.
var semverRe = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`)

type semver struct {
	num [3]uint64
	pre []string
}

func parseSemver(s string) (semver, bool) {
	m := semverRe.FindStringSubmatch(s)
	if m == nil {
		return semver{}, false
	}
	var v semver
	for i := range 3 {
		n, err := strconv.ParseUint(m[i+1], 10, 64)
		if err != nil {
			return semver{}, false
		}
		v.num[i] = n
	}
	if m[4] != "" {
		v.pre = strings.Split(m[4], ".")
	}
	return v, true
}

// isExactVersion tells a pinned version (cacheable without asking the
// registry) from a dist-tag such as "latest".
func isExactVersion(s string) bool {
	_, ok := parseSemver(s)
	return ok
}

// compare orders by SemVer precedence: a pre-release sorts before its release.
func (a semver) compare(b semver) int {
	for i := range 3 {
		if a.num[i] != b.num[i] {
			if a.num[i] < b.num[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		if c := comparePre(a.pre[i], b.pre[i]); c != 0 {
			return c
		}
	}
	return compareInt(len(a.pre), len(b.pre))
}

func comparePre(a, b string) int {
	an, aerr := strconv.ParseUint(a, 10, 64)
	bn, berr := strconv.ParseUint(b, 10, 64)
	switch {
	case aerr == nil && berr == nil:
		if an == bn {
			return 0
		}
		if an < bn {
			return -1
		}
		return 1
	case aerr == nil: // numeric identifiers sort before alphanumeric ones
		return -1
	case berr == nil:
		return 1
	}
	return strings.Compare(a, b)
}

func compareInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// nearestVersions picks up to n published versions around want, so that a
// typo such as 1.31.9 answers with 1.31.0 and 1.32.0 instead of a wall of
// alphas. Pre-releases are offered only when want is one.
func nearestVersions(available []string, want string, n int) []string {
	w, ok := parseSemver(want)
	type pv struct {
		s string
		v semver
	}
	var list []pv
	for _, s := range available {
		v, okv := parseSemver(s)
		if !okv || (len(v.pre) > 0 && (!ok || len(w.pre) == 0)) {
			continue
		}
		list = append(list, pv{s, v})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].v.compare(list[j].v) < 0 })
	at := len(list) // an unparseable want (a missing dist-tag): offer the newest
	if ok {
		at = sort.Search(len(list), func(i int) bool { return list[i].v.compare(w) >= 0 })
	}
	lo := max(at-n/2, 0)
	hi := min(lo+n, len(list))
	lo = max(hi-n, 0)
	out := make([]string, 0, hi-lo)
	for _, p := range list[lo:hi] {
		out = append(out, p.s)
	}
	return out
}
