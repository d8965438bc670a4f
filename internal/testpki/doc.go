// Package testpki is test support: throwaway certificate authorities and
// the certificates they sign, made in memory with crypto/x509 (ECDSA
// P-256) when a test runs, so no private key is ever committed. It writes
// them as PEM files for the code under test to load, and replaces files
// the way an operator's tooling would (write a temporary file, rename it
// into place).
package testpki
