package httpapi

import "net/http"

// handleHealth is liveness only: the process serves HTTP. Readiness lives
// on its own route.
func (a *API) handleHealth(w http.ResponseWriter, r *request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("OK"))
}

func (a *API) handleSpec(w http.ResponseWriter, r *request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(a.spec)
}

// handleUI serves the dashboard (internal/ui), which sets its own headers.
func (a *API) handleUI(w http.ResponseWriter, r *request) { a.ui.ServeHTTP(w, r.Request) }
