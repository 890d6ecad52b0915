package publish

import (
	"crypto/sha256"
	"encoding/hex"
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
