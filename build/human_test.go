package build

import "testing"

func TestHumanBytes(t *testing.T) {
	for _, c := range []struct {
		desc string
		n    int64
		want string
	}{
		{"bytes stay exact", 1023, "1023 B"},
		{"a kibibyte is 1024 bytes", 1024, "1.0 KiB"},
		{"Studio's large chunk, binary", 7654321, "7.3 MiB"},
		{"gibibytes", 3 << 30, "3.0 GiB"},
	} {
		if got := HumanBytes(c.n); got != c.want {
			t.Errorf("%s: HumanBytes(%d) = %q, want %q", c.desc, c.n, got, c.want)
		}
	}
}
