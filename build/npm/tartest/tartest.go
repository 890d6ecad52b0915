// Package tartest crafts hostile npm tarballs block by block, for tests of
// extraction: sparse entries (which archive/tar's Writer cannot make), sizes
// that are declared but never sent, and archives of many entries.
package tartest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strconv"
)

const block = 512

// Magic values of a header block: POSIX ustar (with PAX) and old GNU.
const (
	ustarMagic = "ustar\x0000"
	gnuMagic   = "ustar  \x00"
)

// Tar is a tar stream under construction.
type Tar struct{ buf bytes.Buffer }

// Header writes one header block. edit may set fields the arguments do not
// cover; the checksum is computed after it.
func (w *Tar) Header(name string, typ byte, size int64, magic string, edit func(b []byte)) {
	var b [block]byte
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], "00000000000\x00")
	b[156] = typ
	copy(b[257:265], magic)
	if edit != nil {
		edit(b[:])
	}
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	w.buf.Write(b[:])
}

// Data writes an entry's data, padded to whole blocks.
func (w *Tar) Data(p []byte) {
	w.buf.Write(p)
	if r := len(p) % block; r != 0 {
		w.buf.Write(make([]byte, block-r))
	}
}

// File writes a regular file.
func (w *Tar) File(name, body string) {
	w.Header(name, '0', int64(len(body)), ustarMagic, nil)
	w.Data([]byte(body))
}

// PAX writes an extended header for the next entry; kv alternates keys and
// values, and a key may repeat (the sparse format 0.0 repeats its records).
func (w *Tar) PAX(kv ...string) {
	var body bytes.Buffer
	for i := 0; i+1 < len(kv); i += 2 {
		rec := " " + kv[i] + "=" + kv[i+1] + "\n"
		// The length prefix counts itself: grow it until it is stable.
		n := len(rec)
		for len(strconv.Itoa(n))+len(rec) != n {
			n = len(strconv.Itoa(n)) + len(rec)
		}
		body.WriteString(strconv.Itoa(n) + rec)
	}
	w.Header("PaxHeaders/x", 'x', int64(body.Len()), ustarMagic, nil)
	w.Data(body.Bytes())
}

// Gzip ends the archive and returns it gzipped, as a .tgz.
func (w *Tar) Gzip() []byte {
	w.buf.Write(make([]byte, 2*block))
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(w.buf.Bytes())
	zw.Close()
	return out.Bytes()
}

// Package starts an npm tarball: package/package.json and a Studio index.html
// under package/dist/studio, so that only the entries added after it are bad.
func Package(version string) *Tar {
	w := &Tar{}
	w.File("package/package.json", `{"name":"mastra","version":"`+version+`"}`)
	w.File("package/dist/studio/index.html", "<!doctype html><title>Studio</title>")
	return w
}

// Sparse formats: the old GNU type 'S' and the three GNU PAX formats.
const (
	GNUOld = "GNU 'S'"
	PAX00  = "PAX 0.0"
	PAX01  = "PAX 0.1"
	PAX10  = "PAX 1.0"
)

// SparseFormats lists every format Sparse can write.
var SparseFormats = []string{GNUOld, PAX00, PAX01, PAX10}

// Sparse writes a sparse file of logical size bytes named name, in format:
// one data byte at its end, the rest a hole that archive/tar reads as zeros.
// Its stream size is about 1 KB whatever size is.
func (w *Tar) Sparse(format, name string, size int64) {
	last, real := strconv.FormatInt(size-1, 10), strconv.FormatInt(size, 10)
	switch format {
	case GNUOld:
		w.Header(name, 'S', 1, gnuMagic, func(b []byte) {
			copy(b[386:398], fmt.Sprintf("%011o\x00", size-1)) // sparse[0].offset
			copy(b[398:410], fmt.Sprintf("%011o\x00", 1))      // sparse[0].numbytes
			copy(b[483:495], fmt.Sprintf("%011o\x00", size))   // realsize
		})
	case PAX00:
		w.PAX("GNU.sparse.size", real, "GNU.sparse.numblocks", "1",
			"GNU.sparse.offset", last, "GNU.sparse.numbytes", "1")
		w.Header(name, '0', 1, ustarMagic, nil)
	case PAX01:
		w.PAX("GNU.sparse.size", real, "GNU.sparse.numblocks", "1", "GNU.sparse.map", last+",1")
		w.Header(name, '0', 1, ustarMagic, nil)
	case PAX10:
		w.PAX("GNU.sparse.major", "1", "GNU.sparse.minor", "0",
			"GNU.sparse.name", name, "GNU.sparse.realsize", real)
		w.Header("GNUSparseFile.0/"+name, '0', block+1, ustarMagic, nil)
		sparseMap := make([]byte, block)
		copy(sparseMap, "1\n"+last+"\n1\n")
		w.buf.Write(sparseMap)
	default:
		panic("tartest: unknown sparse format " + format)
	}
	w.Data([]byte("x"))
}

// Declared writes a regular file header claiming size bytes and sends none:
// the size a hostile tarball can announce. Sizes past 8 GiB go in a PAX record.
func (w *Tar) Declared(name string, size int64) {
	if size >= 1<<33 {
		w.PAX("size", strconv.FormatInt(size, 10))
		w.Header(name, '0', 0, ustarMagic, nil)
		return
	}
	w.Header(name, '0', size, ustarMagic, nil)
}
