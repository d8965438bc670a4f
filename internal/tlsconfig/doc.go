// Package tlsconfig serves a certificate and key kept in PEM files, and
// picks up replacements without a restart: certificates are renewed (by
// an ACME client, cert-manager, an operator) while the server runs, and
// clients that connect after the files changed must see the new pair.
//
// A Reloader is meant for tls.Config.GetCertificate. It checks the files
// during a handshake at most once per interval, and at once when asked
// (SIGHUP). A replacement that does not load (a half-written file, a key
// that does not match, an expired certificate) is refused with an error
// in the log, and the previous pair goes on being served: a bad deploy of
// a certificate must not take the service down.
//
// It knows nothing of HTTP, so the same Reloader can later serve the
// nodes' own certificates.
package tlsconfig
