package templates

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/studiobake/studiobake/build"
)

// readyPaths are the site paths a ready folder holds, under the base path:
// the manifest's files (so no precompressed variant, which these hosts
// would serve as a file of its own) and the public manifest when the bake
// serves it.
func readyPaths(dir string, m *build.Manifest) []string {
	paths := make([]string, 0, len(m.Files)+1)
	for _, f := range m.Files {
		paths = append(paths, f.Path)
	}
	if _, err := os.Stat(filepath.Join(dir, build.SiteDir, build.PublicManifest)); err == nil && m.File(build.PublicManifest) == nil {
		paths = append(paths, build.PublicManifest)
	}
	return paths
}

// readyCollision refuses a site file that would land on one of the host's
// own files: at the root, Studio's tree must not hold a _headers of its own.
func readyCollision(h Host, m *build.Manifest, own map[string][]byte) error {
	for _, f := range m.Files {
		p := path.Join(strings.TrimPrefix(m.BasePath, "/"), f.Path)
		if _, ok := own[p]; ok {
			return fmt.Errorf("the Studio tree has a file %s, which would replace %s's own %s in the %s/ folder; bake with --base-path", f.Path, h, p, h)
		}
	}
	return nil
}

// copySite puts the site's files into the host's ready folder under the
// base path: hard links, as the folder is the site again, or copies where
// the file system has no links.
func copySite(dir string, m *build.Manifest, h Host) error {
	base := filepath.FromSlash(strings.TrimPrefix(m.BasePath, "/"))
	for _, p := range readyPaths(dir, m) {
		src := filepath.Join(dir, build.SiteDir, filepath.FromSlash(p))
		dst := filepath.Join(dir, string(h), base, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Link(src, dst); err == nil {
			continue
		} else if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("write %s: %w", dst, err)
		}
		if err := copyFile(src, dst); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return out.Close()
}
