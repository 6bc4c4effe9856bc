package httpx

import (
	"net/http"
	"slices"
	"strings"
)

// Router is a ServeMux with the platform's conventions: each route is
// wrapped (metrics, logs) under its pattern as label, a known path with the
// wrong method gets a 405 envelope with Allow, and anything else a 404
// envelope.
type Router struct {
	mux     *http.ServeMux
	wrap    func(route string, h http.Handler) http.Handler
	methods map[string][]string
}

// NewRouter returns a router; wrap may be nil.
func NewRouter(wrap func(route string, h http.Handler) http.Handler) *Router {
	if wrap == nil {
		wrap = func(_ string, h http.Handler) http.Handler { return h }
	}
	r := &Router{mux: http.NewServeMux(), wrap: wrap, methods: map[string][]string{}}
	r.mux.Handle("/", wrap("unmatched", NotFoundHandler()))
	return r
}

// Handle registers h for method and path (a ServeMux path pattern).
func (r *Router) Handle(method, path string, h http.Handler) {
	pattern := method + " " + path
	r.mux.Handle(pattern, r.wrap(pattern, h))
	if _, seen := r.methods[path]; !seen {
		r.mux.Handle(path, r.wrap("unmatched", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Allow", strings.Join(r.methods[path], ", "))
			WriteError(req.Context(), w, ErrMethod)
		})))
	}
	r.methods[path] = append(r.methods[path], method)
	slices.Sort(r.methods[path])
}

// Routes lists the registered routes as "METHOD /path/{param}", sorted.
func (r *Router) Routes() []string {
	var out []string
	for path, methods := range r.methods {
		for _, m := range methods {
			out = append(out, m+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// ServeHTTP implements http.Handler.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }
