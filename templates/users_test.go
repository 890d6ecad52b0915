package templates

import (
	"strings"
	"testing"
)

// TestUsersCheck: add-user's lines carry a check the parser verifies; a line
// without one parses but is not Generated; a line changed after add-user
// made it is refused.
func TestUsersCheck(t *testing.T) {
	u, _, err := NewUser("alice")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Split(u.Line(), ":")
	if len(fields) != 5 || !strings.HasPrefix(fields[4], "gen1-") || len(fields[4]) != len("gen1-")+16 {
		t.Fatalf("add-user line %q: want NAME:sha256:SALT:HASH:gen1-<16 hex>", u.Line())
	}
	legacy := strings.Join(fields[:4], ":")
	other, _, _ := NewUser("bob")
	otherCheck := strings.Split(other.Line(), ":")[4]
	// flip changes one hex digit into another, so the line stays well formed.
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		return string(b)
	}
	tests := []struct {
		desc, line string
		generated  bool
		err        string
	}{
		{"add-user's line", u.Line(), true, ""},
		{"renamed: the check covers salt and hash only", "ann:" + strings.Join(fields[1:], ":"), true, ""},
		{"four fields: an earlier add-user, or by hand", legacy, false, ""},
		{"check of another line", legacy + ":" + otherCheck, false, "users.txt line 1: user alice: the check does not match"},
		{"hash edited by hand", "alice:sha256:" + u.Salt + ":" + flip(u.Hash, 3) + ":" + fields[4], false, "the line was changed after add-user made it"},
		{"salt edited by hand", "alice:sha256:" + flip(u.Salt, 0) + ":" + u.Hash + ":" + fields[4], false, "studiobake auth add-user alice"},
		{"check truncated", u.Line()[:len(u.Line())-1], false, "the check does not match"},
		{"six fields", u.Line() + ":x", false, "want NAME:sha256:SALT:HASH:CHECK"},
	}
	for _, tc := range tests {
		users, err := ParseUsers(strings.NewReader(tc.line+"\n"), "users.txt")
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.desc, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.desc, err)
		case users[0].Generated != tc.generated:
			t.Errorf("%s: Generated %v, want %v", tc.desc, users[0].Generated, tc.generated)
		case users[0].Line() != tc.line:
			t.Errorf("%s: Line() %q, want the line read back unchanged", tc.desc, users[0].Line())
		}
	}
}

func TestCheckGenerated(t *testing.T) {
	gen, _, _ := NewUser("alice")
	weak := []User{gen, {Name: "bob", Salt: gen.Salt, Hash: gen.Hash}, {Name: "carol", Salt: gen.Salt, Hash: gen.Hash}}
	if w, err := CheckGenerated([]User{gen}, "users.txt", false); w != "" || err != nil {
		t.Errorf("generated users: warning %q, error %v", w, err)
	}
	_, err := CheckGenerated(weak, "users.txt", false)
	for _, want := range []string{"users.txt: users bob, carol without add-user's check", "studiobake auth add-user NAME", "--allow-weak-users"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("weak users refused with %v, want it to contain %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "alice") {
		t.Errorf("the error names a generated user: %v", err)
	}
	w, err := CheckGenerated(weak[:2], "users.txt", true)
	if err != nil || !strings.Contains(w, "users.txt: user bob without add-user's check") || !strings.Contains(w, "accepted because of --allow-weak-users") {
		t.Errorf("with the override: warning %q, error %v", w, err)
	}
}
