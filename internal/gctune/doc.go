// Package gctune sets the garbage collector's target from the live heap
// after every collection, so a server with a small state does not collect
// every few hundred requests and a server with a large state does not
// double its memory between collections.
//
// GOGC is a fixed ratio: the heap may grow by GOGC percent of what the
// last collection left alive. A lock server's live heap is its state,
// which ranges from a few megabytes (a busy server with short-lived
// locks) to hundreds (a million held locks). One ratio is wrong at one end:
// 50 keeps 100,000 held locks near 55 MB resident but collects a 4 MB heap
// every 2 MB of garbage, which at 64 clients is a tenth of the CPU; 400 is
// cheap at 4 MB and five times the state at 100 MB. The tuner grows the
// heap by half its live size, but never by less than a floor (12 MiB), the
// same bound in bytes that GOGC=50 gives a 24 MiB state. (16 MiB put
// 100,000 held locks at 62 MB resident; 12 MiB keeps them at 56-58.)
package gctune
