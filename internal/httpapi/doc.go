// Package httpapi is OctoStore's HTTP/JSON interface: routing (lock names
// may contain '/', raw or %2F-encoded), bearer authentication, request
// validation, the one table that maps errors to status codes, and the
// JSON shapes of the served openapi.yaml.
//
// It changes state only through Store.Apply and reads it only through
// Store.Read, so the same handlers serve a single node and a cluster.
package httpapi
