// Package checktest provides a small fake Mastra API for tests of check and
// of the baked page in a browser: it answers the calls Studio makes on start,
// applies CORS the way the Mastra server's cors middleware does, and records
// every request.
package checktest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// CORS modes of the fake.
type CORS int

const (
	// AllowOrigins answers the listed origins with credentials, as
	// server.cors = { origin: [...], credentials: true } does.
	AllowOrigins CORS = iota
	// Wildcard is the Mastra default: origin *, no credentials.
	Wildcard
	// NoCORS sends no CORS headers at all.
	NoCORS
)

// Options configure a fake.
type Options struct {
	Prefix  string   // API prefix, default /api
	CORS    CORS     // default AllowOrigins
	Origins []string // for AllowOrigins
	// Agents is the agents list (GET {prefix}/agents); nil means one agent.
	Agents map[string]any
	// Auth makes auth/capabilities say Studio Auth is on, as a server with
	// server.auth (SimpleAuth) does.
	Auth bool
}

// Request is one request the fake received.
type Request struct {
	Method  string
	Path    string
	Origin  string
	Headers http.Header
}

// API is a running fake on 127.0.0.1.
type API struct {
	*httptest.Server
	o    Options
	mu   sync.Mutex
	reqs []Request
}

// New starts a fake; Close it when done.
func New(o Options) *API {
	if o.Prefix == "" {
		o.Prefix = "/api"
	}
	if o.Agents == nil {
		o.Agents = map[string]any{"weather-agent": map[string]any{
			"name": "Weather Agent", "instructions": "You tell the weather.",
			"tools": map[string]any{}, "workflows": map[string]any{},
			"provider": "openai.chat", "modelId": "gpt-4o-mini",
		}}
	}
	a := &API{o: o}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	return a
}

// AllowOrigin adds an origin to the AllowOrigins list: tests that learn the
// site's address after starting the API use it.
func (a *API) AllowOrigin(origin string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.o.Origins = append(a.o.Origins, origin)
}

// SetCORS switches the CORS mode, to break a working setup on purpose.
func (a *API) SetCORS(c CORS) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.o.CORS = c
}

// Requests returns a copy of what the fake has received so far.
func (a *API) Requests() []Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Request(nil), a.reqs...)
}

func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.reqs = append(a.reqs, Request{Method: r.Method, Path: r.URL.Path, Origin: r.Header.Get("Origin"), Headers: r.Header.Clone()})
	a.mu.Unlock()
	if a.cors(w, r) {
		return
	}
	p := r.URL.Path
	switch {
	case p == "/":
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_, _ = w.Write([]byte("Hello to the Mastra API!"))
	case p == a.o.Prefix+"/auth/capabilities":
		if a.o.Auth {
			writeJSON(w, http.StatusOK, map[string]any{"enabled": true, "login": map[string]any{"type": "credentials"}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"enabled": false, "login": nil})
	case p == a.o.Prefix+"/agents":
		writeJSON(w, http.StatusOK, a.o.Agents)
	case strings.HasPrefix(p, a.o.Prefix+"/agents/") && a.o.Agents[strings.TrimPrefix(p, a.o.Prefix+"/agents/")] != nil:
		writeJSON(w, http.StatusOK, a.o.Agents[strings.TrimPrefix(p, a.o.Prefix+"/agents/")])
	case strings.HasPrefix(p, a.o.Prefix+"/"):
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "Not Found"})
	default:
		http.NotFound(w, r)
	}
}

// cors sets CORS headers and answers preflights; it reports whether it answered.
func (a *API) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	a.mu.Lock()
	mode, origins := a.o.CORS, append([]string(nil), a.o.Origins...)
	a.mu.Unlock()
	switch mode {
	case NoCORS:
	case Wildcard:
		w.Header().Set("Access-Control-Allow-Origin", "*")
	case AllowOrigins:
		for _, o := range origins {
			if o == origin {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				w.Header().Set("Access-Control-Allow-Credentials", "true")
				w.Header().Add("Vary", "Origin")
			}
		}
	}
	if !preflight {
		return false
	}
	if mode != NoCORS {
		w.Header().Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,POST,DELETE,PATCH")
		if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
			w.Header().Set("Access-Control-Allow-Headers", h)
		}
		w.Header().Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
