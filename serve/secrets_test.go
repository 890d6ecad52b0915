package serve

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates"
)

// TestServeReadsSecretsLikePublish: a bake's gate that reads the
// KeyValueStore (a signed cookie, users kept in the store) gets the
// entries from --cookie-secret-file and --auth-users, as publish deploys
// them; without them serve refuses to start, naming the settings. The
// bake names no store (as for the stack, which creates one).
func TestServeReadsSecretsLikePublish(t *testing.T) {
	dir := writeBake(t, "/agents", []string{"agents"}, []string{"index.html"})
	m, _ := build.ReadManifest(dir)
	u, pw, err := templates.NewUser("ann")
	if err != nil {
		t.Fatal(err)
	}
	o := templates.EdgeOptions{Hosts: []templates.Host{templates.CloudFront}, Auth: templates.CloudFrontOptions{
		Basic:  &templates.BasicAuth{Realm: "Studio", Users: []templates.User{u}, InKVS: true},
		Cookie: &templates.CookieAuth{Name: "sess", LoginURL: "https://login.example.com/"}}}
	if err := templates.WriteEdge(dir, m, o); err != nil {
		t.Fatal(err)
	}
	key := append([]byte{0xff, 0x00}, []byte(strings.Repeat("k", 38))...) // not UTF-8: given as hex
	secretFile := filepath.Join(t.TempDir(), "secret")
	usersFile := filepath.Join(t.TempDir(), "users.txt")
	os.WriteFile(secretFile, []byte("hex:"+hex.EncodeToString(key)+"\n"), 0o600)
	os.WriteFile(usersFile, []byte(u.Line()+"\n"), 0o600)

	for _, c := range []struct {
		in   templates.SecretInput
		want string
	}{
		{templates.SecretInput{UsersFile: usersFile}, "signed session cookie: no cookie secret: give --cookie-secret-file FILE or STUDIOBAKE_COOKIE_SECRET"},
		{templates.SecretInput{CookieSecretFile: secretFile}, "reads its users from the KeyValueStore: give --auth-users FILE"},
	} {
		if s, err := Start(Options{Dir: dir, Addr: "127.0.0.1:0", Secrets: c.in}); err == nil || !strings.Contains(err.Error(), c.want) {
			if s != nil {
				_ = s.Shutdown(context.Background())
			}
			t.Errorf("%+v: got %v, want %q", c.in, err, c.want)
		}
	}

	s, err := Start(Options{Dir: dir, Addr: "127.0.0.1:0", Secrets: templates.SecretInput{CookieSecretFile: secretFile, UsersFile: usersFile}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	get := func(cookie string, basic bool) int {
		req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
		if basic {
			req.SetBasicAuth("ann", pw)
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "sess", Value: cookie})
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d}`, time.Now().Unix()+600)))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(payload))
	signed := payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	if got := get(signed, true); got != http.StatusOK {
		t.Errorf("user from the users file and a cookie signed with the secret: %d, want 200", got)
	}
	if got := get("", true); got != http.StatusFound {
		t.Errorf("no cookie: %d, want 302 to the login", got)
	}
	if got := get(signed, false); got != http.StatusUnauthorized {
		t.Errorf("no password: %d, want 401", got)
	}
}
