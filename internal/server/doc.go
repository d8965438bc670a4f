// Package server assembles a running OctoStore node: the Raft node, the
// operator's identity configuration, the HTTP API and its listener, and
// their orderly shutdown. cmd/octostore parses flags into Config; tests
// start servers through it in-process.
package server
