// Package version says which OctoStore this is, for `octostore version`,
// User-Agent headers and logs.
package version
