// Package serve previews a bake locally with the CDN's routing: every request
// runs the bake's compiled CloudFront viewer-request function (in an emulator
// of the cloudfront-js-2.0 runtime), so the preview routes exactly like the
// edge does; what the function passes on is served from site/ with the
// manifest's Content-Type and Cache-Control and the bake's security headers.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/studiobake/studiobake/templates"
)

// DefaultAddr is where serve listens unless told otherwise: loopback only,
// since a preview is not meant to be reachable from the network.
const DefaultAddr = "127.0.0.1:3000"

// Options configure a preview server.
type Options struct {
	Dir  string    // bake output directory (default "dist")
	Addr string    // host:port to listen on (default DefaultAddr; port 0 picks one)
	Out  io.Writer // receives the "serving ... at URL" line (nil: nothing printed)
	Log  io.Writer // receives request errors, e.g. a gate that throws, and warnings (nil: Out)
	// API is the Mastra server the API prefix goes to (--api), for a bake
	// whose page calls its own origin; "" forwards nothing.
	API string
	// AccessLog gets one line per request with the gate's rewrite (nil: none).
	AccessLog io.Writer
	// Secrets says where the gate's KeyValueStore entries are kept (the
	// cookie secret, users in the store); see Handler.UseSecrets.
	Secrets templates.SecretInput
	// Grace is how long a stop waits for requests in flight before it
	// closes their connections (default 5s).
	Grace time.Duration
}

// Server is a running preview.
type Server struct {
	URL  string // the Studio page: http://127.0.0.1:3000/agents/
	srv  *http.Server
	done chan error
}

// Start validates the bake, listens, and serves in the background.
func Start(o Options) (*Server, error) {
	if o.Dir == "" {
		o.Dir = "dist"
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	logw := o.Log
	if logw == nil {
		logw = o.Out
	}
	if logw == nil {
		logw = io.Discard
	}
	h, err := NewHandler(o.Dir, logw)
	if err != nil {
		return nil, err
	}
	if err := h.UseSecrets(o.Secrets); err != nil {
		return nil, err
	}
	h.AccessLog = o.AccessLog
	if o.API != "" {
		target, err := ParseAPI(o.API)
		if err != nil {
			return nil, err
		}
		if err := h.ForwardAPI(target); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, listenError(o.Addr, err)
	}
	s := &Server{
		URL:  "http://" + displayAddr(l.Addr().(*net.TCPAddr)) + h.basePath + "/",
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(logw, "serve: ", 0)},
		done: make(chan error, 1),
	}
	s.srv.RegisterOnShutdown(h.StopStreams)
	go func() { s.done <- s.srv.Serve(l) }()
	notice, warning := h.apiNotice(strings.TrimSuffix(strings.TrimSuffix(s.URL, h.basePath+"/"), "/"))
	if o.Out != nil {
		fmt.Fprintf(o.Out, "serving %s at %s (Ctrl-C to stop)\n", o.Dir, s.URL)
		if !warning {
			fmt.Fprint(o.Out, notice)
		}
	}
	if warning {
		fmt.Fprint(logw, notice)
	}
	return s, nil
}

// Shutdown stops accepting requests and waits (up to ctx) for those in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// Run serves until ctx is cancelled (Ctrl-C), then shuts down cleanly.
func Run(ctx context.Context, o Options) error {
	s, err := Start(o)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-s.done:
		return fmt.Errorf("serve: %w", err)
	}
	// A fresh context: the caller's is already cancelled, and open requests
	// (a 7 MB chunk on a slow link) deserve a moment to finish.
	grace := o.Grace
	if grace <= 0 {
		grace = 5 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err = s.srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A browser tab can keep a request open past any grace period
		// (a stream, a stalled download): a preview stops anyway, cleanly.
		return s.srv.Close()
	}
	if err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	return nil
}

func listenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s: the port is in use (another serve or dev server?); pick another with --port", addr)
	}
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("cannot listen on %s: permission denied (ports below 1024 need privileges); pick another with --port", addr)
	}
	return fmt.Errorf("cannot listen on %s: %w", addr, err)
}

// displayAddr is the address to print: an unspecified host (0.0.0.0, ::)
// is shown as 127.0.0.1, which a browser on this machine can open.
func displayAddr(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s:%d", host, a.Port)
}
