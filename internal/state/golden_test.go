package state

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// goldenPath holds the log encoding of every command of everyCommand, as
// the codec wrote it before commands carried their own codec methods
// (version 3). Logs on disk were written by that code, so the encoding of
// the fields must never change; a new version changes the version byte
// only (its rules, not its fields), and the golden lines still decode.
// OCTOSTORE_UPDATE_GOLDEN=1 rewrites it, which is right only when adding a
// command (append it to everyCommand).
const goldenPath = "testdata/commands.golden"

func goldenLines() []string {
	var lines []string
	for _, c := range everyCommand() {
		lines = append(lines, fmt.Sprintf("%T %x", c, EncodeBatch(Batch{Now: t0, Skew: time.Second, Commands: []Command{c}})))
	}
	return append(lines, fmt.Sprintf("batch %x", EncodeBatch(Batch{Now: t0, Skew: time.Second, Commands: everyCommand()})))
}

// TestCodec_GoldenEncoding: every command type encodes to exactly the
// bytes the log format fixed, and those bytes decode back to it.
func TestCodec_GoldenEncoding(t *testing.T) {
	got := goldenLines()
	if os.Getenv("OCTOSTORE_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(goldenPath, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		want = append(want, sc.Text())
	}
	if len(want) != len(got) {
		t.Fatalf("%d golden encodings, %d commands: a command was added without its golden line", len(want), len(got))
	}
	for i := range want {
		if got[i] != atCurrentVersion(want[i]) {
			t.Errorf("encoding changed:\n got %s\nwant %s", got[i], want[i])
		}
		raw, _ := hex.DecodeString(want[i][strings.LastIndexByte(want[i], ' ')+1:])
		if _, err := DecodeBatch(raw); err != nil {
			t.Errorf("golden %s does not decode: %v", want[i][:strings.IndexByte(want[i], ' ')], err)
		}
	}
}

// atCurrentVersion is a golden line with its batch header's version byte
// (after the magic) set to the current version.
func atCurrentVersion(line string) string {
	at := strings.IndexByte(line, ' ') + 1 + 2
	return line[:at] + fmt.Sprintf("%02x", batchVersion) + line[at+2:]
}

// TestCodec_EveryKindCovered: every wire tag has a command in
// everyCommand, so the round trip and golden tests cover it, and the
// registry decodes each tag to the command carrying that tag.
func TestCodec_EveryKindCovered(t *testing.T) {
	for k, c := range registry {
		if c.kind() != k {
			t.Errorf("registry: tag %d holds %T, whose tag is %d", k, c, c.kind())
		}
	}
	seen := map[kind]bool{}
	for _, c := range everyCommand() {
		seen[c.kind()] = true
	}
	for k := kindAcquire; k <= kindResign; k++ { // the last tag
		if !seen[k] {
			t.Errorf("kind %d has no command in everyCommand", k)
		}
		if _, ok := registry[k]; !ok {
			t.Errorf("kind %d is not in the registry", k)
		}
	}
}
