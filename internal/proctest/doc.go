// Package proctest is test support: it builds the octostore binary once
// and runs `octostore serve` as real processes that tests can kill -9,
// pause and restart.
package proctest
