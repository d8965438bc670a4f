// Package ui is the dashboard served at /ui/: one HTML page, one script
// and one stylesheet, embedded in the binary. The page talks to the same
// HTTP API as any client, with the bearer token the user pasted (or got
// from GitHub sign-in) kept in the tab's sessionStorage. It lists held
// locks (live through /events, or refreshed periodically), the sessions
// this tab knows about, the user's webhooks, and the cluster's nodes.
//
// Every response carries a strict Content-Security-Policy (no inline
// script, nothing from other origins), X-Content-Type-Options nosniff
// and frame denial; the script renders data only through textContent.
package ui
