package templates

import (
	"errors"

	"github.com/studiobake/studiobake/build"
)

func pagesFiles(m *build.Manifest, headers map[string]string) (map[string][]byte, error) {
	return nil, errors.New("not written yet")
}

func nginxFiles(m *build.Manifest, headers map[string]string) (map[string][]byte, error) {
	return nil, errors.New("not written yet")
}

func cloudFrontReadme(m *build.Manifest, o CloudFrontOptions, size int) []byte {
	return []byte("# CloudFront gate\n")
}
