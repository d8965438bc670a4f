// Package bench owns the load generator behind the `octostore bench`
// subcommand.
//
// It drives acquire+release cycles against a running OctoStore HTTP lock API,
// each on a fresh lock name so workers never contend with each other (or on
// one name: a contended mutex, a semaphore's slots, shared holds), checks
// that fencing tokens only move forward, and summarizes throughput and
// per-operation latency percentiles in a Report. Flag parsing and process
// wiring belong to the CLI; this package only needs a base URL and a token.
//
// The generator is written to be cheap: it usually shares a small machine
// with the server under test, so every CPU cycle it burns is taken from the
// thing being measured.
package bench
