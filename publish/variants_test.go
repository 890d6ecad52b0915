package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/build/buildtest"
)

// TestLoadBakeVariants: a variant is published with its Content-Encoding
// and the headers and phase of the file it encodes; one edited or missing
// after the bake stops the publish.
func TestLoadBakeVariants(t *testing.T) {
	dir, _ := buildtest.PrecompressedBake(t)
	b, err := LoadBake(dir)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]LocalFile{}
	for _, f := range b.Files {
		byPath[f.Path] = f
	}
	page, br, gz := byPath["index.html"], byPath["index.html.br"], byPath["index.html.gz"]
	if br.ContentEncoding != "br" || gz.ContentEncoding != "gzip" || page.ContentEncoding != "" {
		t.Errorf("encodings: page %q, br %q, gz %q", page.ContentEncoding, br.ContentEncoding, gz.ContentEncoding)
	}
	for _, v := range []LocalFile{br, gz} {
		if v.ContentType != page.ContentType || v.CacheControl != page.CacheControl || v.Phase != PhaseEntry {
			t.Errorf("%s: %q, %q, phase %s; want the page's %q, %q, entry", v.Path, v.ContentType, v.CacheControl, v.Phase,
				page.ContentType, page.CacheControl)
		}
	}
	if len(b.Warnings) != 0 {
		t.Errorf("warnings: %q", b.Warnings)
	}

	variant := filepath.Join(dir, build.SiteDir, "assets", "main-W2e3R4t5.js.br")
	if err := os.WriteFile(variant, []byte("not brotli"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBake(dir); err == nil || !strings.Contains(err.Error(), "main-W2e3R4t5.js.br changed after the bake") {
		t.Errorf("edited variant: %v", err)
	}
	if err := os.Remove(variant); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBake(dir); err == nil || !strings.Contains(err.Error(), "main-W2e3R4t5.js.br is in manifest.json but not in site/") {
		t.Errorf("missing variant: %v", err)
	}
}

// TestS3PublishVariants: in a real S3 server every variant carries its
// Content-Encoding and the file's Content-Type and Cache-Control, the files
// themselves no Content-Encoding; publishing again writes nothing.
func TestS3PublishVariants(t *testing.T) {
	v := startVersitygw(t)
	dir, m := buildtest.PrecompressedBake(t)
	v.publish(t, dir)
	checked := 0
	for _, f := range m.Files {
		if o := v.head(t, "agents/"+f.Path); o == nil || aws.ToString(o.ContentEncoding) != "" {
			t.Errorf("%s: %+v, want no Content-Encoding", f.Path, o)
		}
		for _, vr := range f.Variants {
			o := v.head(t, "agents/"+vr.Path)
			if o == nil {
				t.Errorf("%s not uploaded", vr.Path)
				continue
			}
			if aws.ToString(o.ContentEncoding) != vr.Encoding || aws.ToString(o.ContentType) != f.ContentType ||
				aws.ToString(o.CacheControl) != f.Cache.CacheControl() {
				t.Errorf("%s: Content-Encoding %q, Content-Type %q, Cache-Control %q", vr.Path,
					aws.ToString(o.ContentEncoding), aws.ToString(o.ContentType), aws.ToString(o.CacheControl))
			}
			sum := sha256.Sum256([]byte(v.body(t, "agents/"+vr.Path)))
			if hex.EncodeToString(sum[:]) != vr.SHA256 {
				t.Errorf("%s: the stored bytes are not the variant's", vr.Path)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no variant checked")
	}
	v.requests(t)
	v.publish(t, dir)
	if ops := v.requests(t); count(ops, "PutObject") != 0 || count(ops, "HeadObject") != 0 {
		t.Errorf("second publish of the same bake: %v", ops)
	}
}

// TestRollbackOverVariants: rolling back to a bake made without variants
// (--precompress off, or before precompression) over one made with them
// must not leave the newer index.html.br and .gz in place: the deployed gate
// sends most viewers to them. The rollback writes variants of the page it
// restores, and keeps them in its record for the next rollback.
func TestRollbackOverVariants(t *testing.T) {
	bake := func(precompress build.Precompress, note string) (string, []byte) {
		out, _ := buildtest.BakeTreeAt(t, precompress, func(tree string) {
			page := filepath.Join(tree, "index.html")
			b, err := os.ReadFile(page)
			if err == nil {
				err = os.WriteFile(page, append(b, "<!-- "+note+" -->\n"...), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
		served, err := os.ReadFile(filepath.Join(out, build.SiteDir, "index.html"))
		if err != nil {
			t.Fatal(err)
		}
		return out, served
	}
	zero, _ := bake(build.PrecompressOff, "release zero")
	plain, plainPage := bake(build.PrecompressOff, "release one")
	withVariants, _ := bake(build.PrecompressBest, "release two")
	store := newFakeStore()
	mustPublish(t, store, zero)
	mustPublish(t, store, plain)
	mustPublish(t, store, withVariants)
	if store.get("agents/index.html.br") == nil {
		t.Fatal("the second bake published no index.html.br")
	}

	// A variant replaced by hand is a conflict, not something to serve on.
	hand := store.get("agents/index.html.br")
	store.objects["agents/index.html.br"] = &fakeObject{data: []byte("by hand"), ct: "text/html", etag: "hand", modified: hand.modified}
	_, err := Rollback(context.Background(), Options{Bucket: "site", Prefix: "agents/", clients: &testClients{store: store}})
	if err == nil || !strings.Contains(err.Error(), "did not upload would be overwritten (index.html.br)") {
		t.Fatalf("rollback over a variant replaced by hand: err = %v", err)
	}
	store.objects["agents/index.html.br"] = hand

	// The first attempt stops before its page goes live (its record, with
	// the variants, is written); the same command finishes it, keeping the
	// same releases as a rollback that never stopped.
	store.failOn = func(op string) bool { return op == "put agents/index.html" }
	if _, err := Rollback(context.Background(), Options{Bucket: "site", Prefix: "agents/", clients: &testClients{store: store}}); err == nil {
		t.Fatal("the rollback did not stop at its page")
	}
	store.failOn = nil
	if _, err := Rollback(context.Background(), Options{Bucket: "site", Prefix: "agents/", clients: &testClients{store: store}}); err != nil {
		t.Fatal(err)
	}
	checkPage := func(want []byte) {
		t.Helper()
		if o := store.get("agents/index.html"); o == nil || string(o.data) != string(want) {
			t.Fatal("index.html is not the restored page")
		}
		for _, enc := range build.Encodings {
			o := store.get("agents/index.html" + enc.Ext)
			if o == nil {
				t.Fatalf("index.html%s is gone: the deployed gate still sends viewers to it", enc.Ext)
			}
			r, err := build.NewDecoder(enc.Name, strings.NewReader(string(o.data)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || string(got) != string(want) {
				t.Errorf("index.html%s decodes to another page than index.html (%v)", enc.Ext, err)
			}
		}
	}
	checkPage(plainPage)

	// The rollback is a release of its own: going to the last bake again
	// restores its variants, and going back to the rollback's release
	// restores the variants it wrote.
	// The variants make the rollback's file set differ from the one it
	// restores, which still takes no slot of the default three: the oldest
	// release is kept.
	rels, err := Releases(context.Background(), Options{Bucket: "site", Prefix: "agents/", clients: &testClients{store: store}})
	if err != nil || len(rels.Releases) != 4 {
		t.Fatalf("releases after the rollback: %v, %+v; want all four kept", err, rels)
	}
	rollbackTo := func(id string) {
		t.Helper()
		if _, err := Rollback(context.Background(), Options{Bucket: "site", Prefix: "agents/", To: id, clients: &testClients{store: store}}); err != nil {
			t.Fatal(err)
		}
	}
	// Going to the live rollback again changes nothing and keeps them all.
	rollbackTo(rels.Releases[0].ID)
	if again, err := Releases(context.Background(), Options{Bucket: "site", Prefix: "agents/", clients: &testClients{store: store}}); err != nil || len(again.Releases) != 4 {
		t.Fatalf("releases after a rollback to the live rollback: %v, %d; want all four kept", err, len(again.Releases))
	}
	rollbackTo(rels.Releases[1].ID)
	_, secondPage := bake(build.PrecompressBest, "release two")
	checkPage(secondPage)
	rollbackTo(rels.Releases[0].ID)
	checkPage(plainPage)
}
