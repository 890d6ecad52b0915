package publish

import (
	"context"
	"fmt"
	"github.com/studiobake/studiobake/build"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// termCols is the width of the terminal w is, else 80.
func termCols(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	return 80
}

// progressEvery spaces the redraws of the progress line: ten a second is
// smooth to read and costs nothing next to the uploads.
const progressEvery = 100 * time.Millisecond

// progress is the line a terminal shows while a phase uploads, redrawn in
// place: files done, bytes sent (counted as the store takes them, so that
// it moves while one large file is in flight), and the rate. It is drawn by
// hand rather than with a bar library because lines from other goroutines
// (retries, notes) must clear and redraw it, and because sizes must read
// as they do everywhere else (build.HumanBytes).
type progress struct {
	w           io.Writer
	phase       Phase
	files, done int
	total, sent int64
	start, last time.Time
	shown       int // width of the line on screen; 0 when none
	cols        int // of the terminal: a longer line would wrap and not be redrawn in place
}

func (p *progress) line() string {
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.sent)/float64(p.total), 1) // upload caps each file: a guard
	}
	const cells = 16
	fill := int(frac * cells)
	verb := "uploading"
	if p.done == p.files {
		verb = "uploaded"
	}
	s := fmt.Sprintf("%s %d/%d %s files [%s%s] %3d%% %s of %s", verb, p.done, p.files, p.phase,
		strings.Repeat("=", fill), strings.Repeat(" ", cells-fill), int(frac*100), build.HumanBytes(p.sent), build.HumanBytes(p.total))
	if secs := time.Since(p.start).Seconds(); secs >= 1 {
		s += fmt.Sprintf(", %s/s", build.HumanBytes(int64(float64(p.sent)/secs)))
	}
	return s
}

// draw redraws the line, at most every progressEvery unless forced.
func (p *progress) draw(force bool) {
	if !force && time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	s := p.line()
	if p.cols > 1 && len(s) >= p.cols {
		s = s[:p.cols-1]
	}
	fmt.Fprintf(p.w, "\r%s%s", s, strings.Repeat(" ", max(p.shown-len(s), 0)))
	p.shown = len(s)
}

// clear blanks the line so that another can be printed in its place.
func (p *progress) clear() {
	if p.shown > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.shown))
		p.shown = 0
	}
}

// upload counts the bytes of one file as they are sent. The SDK may read a
// body more than once: to hash it for the signature or a checksum (hold is
// set meanwhile, see countSent) and again on a retry. Only the furthest
// point any send reached counts, never more than the file's size, and done
// makes the count exact.
type upload struct {
	rep  *reporter
	a    Action
	mu   sync.Mutex
	pos  int64 // read from the current body
	sent int64 // counted
	hold bool
}

type uploadKey struct{}

// uploadOf returns the upload ctx carries, or nil.
func uploadOf(ctx context.Context) *upload {
	u, _ := ctx.Value(uploadKey{}).(*upload)
	return u
}

// wrap returns body counting into u (body itself when u is nil).
func (u *upload) wrap(body io.ReadSeekCloser) io.ReadSeekCloser {
	if u == nil {
		return body
	}
	u.mu.Lock()
	u.pos = 0
	u.mu.Unlock()
	return &countingBody{ReadSeekCloser: body, u: u}
}

func (u *upload) setHold(hold bool) {
	u.mu.Lock()
	u.hold = hold
	u.mu.Unlock()
}

// read counts n bytes read from the current body.
func (u *upload) read(n int64) {
	u.mu.Lock()
	u.pos += n
	var more int64
	if !u.hold && u.pos > u.sent {
		more = min(u.pos, u.a.Size) - u.sent
		u.sent += more
	}
	u.mu.Unlock()
	if more > 0 {
		u.rep.sent(more)
	}
}

// seeked records the body's new position. A seek moves no bytes: the SDK
// seeks to the end to learn a body's length, and back to retry.
func (u *upload) seeked(pos int64) {
	u.mu.Lock()
	u.pos = pos
	u.mu.Unlock()
}

// done counts the rest of the file: it is stored.
func (u *upload) done() {
	u.mu.Lock()
	rest := u.a.Size - u.sent
	u.sent = u.a.Size
	u.mu.Unlock()
	u.rep.uploaded(u.a, rest)
}

// countingBody is an upload body that tells its upload how far it was read.
type countingBody struct {
	io.ReadSeekCloser
	u *upload
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadSeekCloser.Read(p)
	b.u.read(int64(n))
	return n, err
}

func (b *countingBody) Seek(offset int64, whence int) (int64, error) {
	pos, err := b.ReadSeekCloser.Seek(offset, whence)
	if err == nil {
		b.u.seeked(pos)
	}
	return pos, err
}
