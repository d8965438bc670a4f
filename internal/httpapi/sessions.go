package httpapi

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

type createSessionResponse struct {
	SessionID             uuid.UUID `json:"session_id"`
	ExpiresAt             time.Time `json:"expires_at"`
	KeepaliveIntervalSecs int64     `json:"keepalive_interval_secs"`
}

func (a *API) handleCreateSession(w http.ResponseWriter, r *request) {
	var body struct {
		TTLSeconds *wholeNumber `json:"ttl_seconds"`
	}
	err := decodeJSON(r, &body, false)
	cmd := state.CreateSession{ID: uuid.New(), UserID: r.user.ID, MaxSessions: a.limits.MaxSessionsPerUser}
	if err == nil {
		cmd.TTL, err = sessionTTL(body.TTLSeconds)
	}
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	res, ok := a.apply(w, r, cmd)
	if !ok {
		return
	}
	writeJSON(w, http.StatusCreated, createSessionResponse{SessionID: res.Session.ID,
		ExpiresAt: unixTime(res.Session.ExpiresAt), KeepaliveIntervalSecs: int64(cmd.TTL/time.Second) / 2})
}

type keepAliveResponse struct {
	SessionID uuid.UUID `json:"session_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleKeepAlive ignores the body, which intake read and bounded
// (route.body) and answered any failure of.
func (a *API) handleKeepAlive(w http.ResponseWriter, r *request) {
	res, ok := a.apply(w, r, state.KeepAlive{ID: r.id, UserID: r.user.ID})
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, keepAliveResponse{SessionID: r.id, ExpiresAt: unixTime(res.Session.ExpiresAt)})
}

type sessionStatusResponse struct {
	SessionID uuid.UUID `json:"session_id"`
	UserID    uuid.UUID `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
	LockCount int       `json:"lock_count"`
	Active    bool      `json:"active"`
}

func (a *API) handleGetSession(w http.ResponseWriter, r *request) {
	stale, err := staleParam(r.Request)
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	var resp sessionStatusResponse
	found := false
	err = a.store.Read(r.Context(), stale, func(s state.View, now int64) {
		sess, n, ok := s.GetSession(r.id, now)
		if found = ok && sess.UserID == r.user.ID; found {
			resp = sessionStatus(sess, n, now)
		}
	})
	switch {
	case err != nil:
		a.writeError(w, r.Request, err)
	case !found:
		a.writeError(w, r.Request, state.ErrSessionNotFound)
	default:
		writeJSON(w, http.StatusOK, resp)
	}
}

// sessionStatus shows an ended session's end as its expiry.
func sessionStatus(sess state.Session, locks int, now int64) sessionStatusResponse {
	exp := sess.ExpiresAt
	if sess.Ended() {
		exp = min(exp, sess.EndedAt)
	}
	return sessionStatusResponse{SessionID: sess.ID, UserID: sess.UserID, ExpiresAt: unixTime(exp),
		LockCount: locks, Active: sess.ActiveAt(now)}
}

func (a *API) handleDeleteSession(w http.ResponseWriter, r *request) {
	if err := a.mayEndSession(r); err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	if _, ok := a.apply(w, r, state.DeleteSession{ID: r.id, UserID: r.user.ID}); ok {
		w.WriteHeader(http.StatusNoContent)
	}
}
