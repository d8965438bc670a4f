// Package tenancy decides who may touch which lock names. In shared mode
// (the default for static tokens and allow-listed GitHub sign-in) one
// deployment is one trust domain, as it always was. In isolated mode a
// lock name's first component is its owner: a user's login, a GitHub
// organization it belongs to, or a static group it is in; a user reads
// and writes only names under its owners, and an owner namespace is bound
// to the account (not the login) that first used it.
//
// Everything that confines a user (the HTTP API's lock routes, lists,
// event streams, webhook delivery) asks Policy.Owners, so the rule lives
// in one place. The package reads state through a small interface
// (Bindings) and never writes it: binding a namespace is a command the
// caller proposes.
package tenancy
