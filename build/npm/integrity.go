package npm

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// checksum is what a downloaded tarball must hash to.
type checksum struct {
	algo    string
	newHash func() hash.Hash
	want    [][]byte // any one may match, as SRI allows several of one algorithm
	display string   // the expected value as SRI, for messages
}

// Strongest first: from an SRI listing several algorithms only the strongest
// one counts, as in npm's ssri, so a weak hash can't stand in for a strong one.
var sriAlgos = []struct {
	name string
	new  func() hash.Hash
}{
	{"sha512", sha512.New},
	{"sha384", sha512.New384},
	{"sha256", sha256.New},
	{"sha1", sha1.New},
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// expectedSum reads dist.integrity, or dist.shasum when the registry gives no
// integrity (old packages, some private registries), returning a warning then.
func expectedSum(dist distInfo, spec string) (checksum, string, error) {
	if strings.TrimSpace(dist.Integrity) != "" {
		sum, err := parseSRI(dist.Integrity)
		return sum, "", err
	}
	if dist.Shasum == "" {
		return checksum{}, "", errors.New("the registry gives neither dist.integrity nor dist.shasum: refusing an unverifiable tarball")
	}
	raw, err := hex.DecodeString(dist.Shasum)
	if err != nil || len(raw) != sha1.Size {
		return checksum{}, "", fmt.Errorf("invalid dist.shasum %q", dist.Shasum)
	}
	sum := checksum{algo: "sha1", newHash: sha1.New, want: [][]byte{raw}, display: "sha1-" + b64(raw)}
	warning := fmt.Sprintf("%s: the registry gives no dist.integrity; verified only the weaker sha1 dist.shasum", spec)
	return sum, warning, nil
}

func parseSRI(sri string) (checksum, error) {
	byAlgo := map[string][][]byte{}
	for _, field := range strings.Fields(sri) {
		algo, rest, ok := strings.Cut(field, "-")
		if !ok {
			continue
		}
		digest, _, _ := strings.Cut(rest, "?") // SRI options are ignored
		raw, err := base64.StdEncoding.DecodeString(digest)
		if err != nil {
			return checksum{}, fmt.Errorf("invalid dist.integrity %q: %w", sri, err)
		}
		byAlgo[algo] = append(byAlgo[algo], raw)
	}
	for _, a := range sriAlgos {
		if want := byAlgo[a.name]; len(want) > 0 {
			return checksum{algo: a.name, newHash: a.new, want: want, display: a.name + "-" + b64(want[0])}, nil
		}
	}
	return checksum{}, fmt.Errorf("dist.integrity %q has no supported hash (sha512, sha384, sha256, sha1)", sri)
}

func (c checksum) matches(got []byte) bool {
	for _, w := range c.want {
		if bytes.Equal(w, got) {
			return true
		}
	}
	return false
}
