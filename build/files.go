package build

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// viteHashRE matches Vite's content-hashed names: name-XXXXXXXX.ext, with an
// 8-character base64url hash (main-BU75WpCq.js, style-B8hWA7ar.css,
// MonaSans-VariableFont_wdth-wght-CX-7s9jm.ttf, x-AbCd1234.js.map).
var viteHashRE = regexp.MustCompile(`^.+-[A-Za-z0-9_-]{8}(\.[A-Za-z0-9]+)+$`)

// keepNames are files that must keep their names: the entry page, data read
// by hosts and edge functions, and names browsers or crawlers ask for by
// convention. They are served with revalidation.
var keepNames = map[string]bool{
	EntryFile:      true,
	RoutesManifest: true,
	"favicon.ico":  true,
	"robots.txt":   true,
}

// srcFile is one file of the Studio tree, read into memory.
type srcFile struct {
	rel  string // slash path relative to the tree
	data []byte
}

// readTree reads every regular file under dir. Studio trees are about 11 MB;
// reading them whole keeps the bake simple and well under its memory budget.
func readTree(dir string) ([]*srcFile, error) {
	var rels []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("studio tree %s: %s is not a regular file (links and special files are refused)", dir, p)
		}
		rel, _ := filepath.Rel(dir, p)
		rels = append(rels, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(rels)
	files := make([]*srcFile, len(rels))
	err = parallel(len(rels), func(i int) error {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rels[i])))
		files[i] = &srcFile{rel: rels[i], data: b}
		return err
	})
	return files, err
}

// parallel runs fn(0..n-1) on up to GOMAXPROCS goroutines and returns the
// first error.
func parallel(n int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
		err  error
	)
	workers := min(runtime.GOMAXPROCS(0), n)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := err != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if e := fn(i); e != nil {
					mu.Lock()
					if err == nil {
						err = e
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return err
}

// planNames decides each file's output name. Vite-hashed files and keepNames
// keep theirs. Any other file gets a content hash in its name, unless a
// JavaScript or CSS file mentions it by name: those are never rewritten (they
// are Vite-hashed and must stay byte-identical), so such a file keeps its name
// and is revalidated instead. It returns original -> new for renamed files.
func planNames(files []*srcFile) (renamed map[string]string, keep map[string]bool) {
	renamed, keep = map[string]string{}, map[string]bool{}
	var candidates []*srcFile
	for _, f := range files {
		switch {
		case keepNames[f.rel]:
			keep[f.rel] = true
		case isViteHashed(f.rel):
		default:
			candidates = append(candidates, f)
		}
	}
	for _, c := range candidates {
		base := []byte(path.Base(c.rel))
		for _, f := range files {
			if isCode(f.rel) && bytes.Contains(f.data, base) {
				keep[c.rel] = true
				break
			}
		}
		if !keep[c.rel] {
			renamed[c.rel] = hashedName(c.rel, c.data)
		}
	}
	return renamed, keep
}

func isViteHashed(rel string) bool {
	return strings.HasPrefix(rel, "assets/") && viteHashRE.MatchString(path.Base(rel))
}

func isCode(rel string) bool {
	switch path.Ext(rel) {
	case ".js", ".mjs", ".css":
		return true
	}
	return false
}

// hashedName puts 8 base64url characters of the content's SHA-256 in the
// name, in Vite's style: mastra-dark-tile.svg -> mastra-dark-tile-Ab3_x9Qz.svg.
func hashedName(rel string, data []byte) string {
	sum := sha256.Sum256(data)
	h := base64.RawURLEncoding.EncodeToString(sum[:6])
	dir, base := path.Split(rel)
	ext := path.Ext(base)
	return dir + strings.TrimSuffix(base, ext) + "-" + h + ext
}

// describe computes a file's manifest entry.
func describe(rel string, data []byte, cache CacheClass) File {
	var s256 [sha256.Size]byte
	var s384 [sha512.Size384]byte
	if len(data) > 1<<20 {
		// Hash big files on two cores: this is most of a bake's CPU time.
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { s384 = sha512.Sum384(data); wg.Done() }()
		s256 = sha256.Sum256(data)
		wg.Wait()
	} else {
		s256, s384 = sha256.Sum256(data), sha512.Sum384(data)
	}
	return File{
		Path:        rel,
		Size:        int64(len(data)),
		SHA256:      hex.EncodeToString(s256[:]),
		ContentType: ContentType(rel),
		Cache:       cache,
		Integrity:   "sha384-" + base64.StdEncoding.EncodeToString(s384[:]),
	}
}
