// Package apitest is test support: an HTTP client for OctoStore servers
// that validates every request and response against the server's own
// served /openapi.yaml with kin-openapi's openapi3filter. Tests of every
// package that talk HTTP use it, so no response escapes the contract.
package apitest
