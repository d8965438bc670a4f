package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// raft-wal's recovery reads the last segment until the first frame it
// cannot parse and checks the checksum of the last batch only. Damage
// anywhere earlier (a flipped header, a zeroed sector) would silently end
// the log there, and every entry after it would be gone: a shortened
// history, served as if complete. verifySegments closes that gap before
// raft-wal opens the files.
//
// A segment is a 32-byte header, then frames (8-byte header: type, 3
// reserved bytes, length or, for a commit frame, a CRC-32C; payload
// padded to 8 bytes). Each append is a batch of entry frames closed by a
// commit frame whose CRC covers every byte since the previous commit
// frame (the file header too, for the first batch).
//
// What a crash can leave is one unfinished batch at the end of the last
// segment: frames with no commit, a commit whose CRC does not match, a
// file cut short, zeros. Raft never acknowledged that batch, so raft-wal
// drops it, and so do we. Anything else is corruption: a sealed segment
// that ends before its last entry, or any intact batch after the
// point where reading stopped (found by trying every 8-byte boundary
// after it: a crash never leaves a whole, checksummed batch behind the
// torn one, since the batch after the torn one is written at the torn
// one's place).

// Frame types and sizes of raft-wal's segment format (segment/format.go).
const (
	segFileHeaderLen  = 32
	segFrameHeaderLen = 8
	frameEntry        = 1
	frameIndex        = 2
	frameCommit       = 3
	maxFrameLen       = 64 << 20 // segment.MaxEntrySize
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// verifySegments checks every segment the WAL metadata lists: sealed ones
// must hold all their entries, the tail may only have a torn last batch.
// It returns where reading the unsealed tail stopped (zero when there is
// none, or no file yet) for completeSeal and the torn-tail warning.
func verifySegments(dir string, segs []types.SegmentInfo) (tailEnd walkEnd, err error) {
	for i, si := range segs {
		path := filepath.Join(dir, segment.FileName(si))
		tail := i == len(segs)-1 && si.SealTime.IsZero()
		end, err := verifySegment(path, si, tail)
		if errors.Is(err, os.ErrNotExist) && tail {
			continue // created in the metadata, crashed before the file: raft-wal recreates it
		}
		if err != nil {
			return walkEnd{}, err
		}
		if tail {
			tailEnd = end
		}
	}
	return tailEnd, nil
}

// verifySegment checks one segment file (see the top of this file).
func verifySegment(path string, si types.SegmentInfo, tail bool) (walkEnd, error) {
	f, err := os.Open(path)
	if err != nil {
		return walkEnd{}, err
	}
	defer f.Close()
	r := &segReader{f: f}
	end := r.walk(0, true)
	corrupt := func(format string, args ...any) (walkEnd, error) {
		return end, fmt.Errorf("%w: %s: %s", ErrCorruptLog, path, fmt.Sprintf(format, args...))
	}
	if r.err != nil {
		return end, fmt.Errorf("read %s: %w", path, r.err)
	}
	if end.commits > 0 {
		if got := binary.LittleEndian.Uint64(r.at(8, 8)); got != si.BaseIndex {
			return corrupt("segment header says base index %d, metadata %d", got, si.BaseIndex)
		}
	}
	// A sealed segment may end in the remains of a batch torn while it
	// was the tail (the next append overwrote only part of it), so only
	// its entry count is checked, not what follows them.
	if want := si.MaxIndex - si.BaseIndex + 1; !tail && si.MaxIndex > 0 && end.entries < want {
		return corrupt("sealed segment ends after %d of its %d entries", end.entries, want)
	}
	if off, ok := r.intactBatchAfter(end.goodEnd); ok {
		return corrupt("the record after offset %d is damaged and intact records follow it at offset %d; "+
			"starting would lose them (restore this node from a backup, or empty its data dir and rejoin it to its cluster)", end.goodEnd, off)
	}
	if r.err != nil {
		return end, fmt.Errorf("read %s: %w", path, r.err)
	}
	return end, nil
}

// walkEnd is where reading a run of frames stopped.
type walkEnd struct {
	goodEnd int64  // offset just past the last commit frame whose CRC matched
	commits int    // batches that checked out
	entries uint64 // entry frames in those batches
	torn    bool   // something other than zeros or EOF came after goodEnd
	sealAt  int64  // offset of a committed index frame (the segment is sealed); 0: none
}

// segReader reads a segment through a 1 MiB window: the scans are mostly
// sequential, and most of a preallocated segment is zeros.
type segReader struct {
	f     *os.File
	buf   []byte
	start int64
	err   error // first read error other than EOF
}

const segWindow = 1 << 20

// at returns n bytes at off, or fewer at the end of the file.
func (r *segReader) at(off int64, n int) []byte {
	if off >= r.start && off+int64(n) <= r.start+int64(len(r.buf)) {
		return r.buf[off-r.start : off-r.start+int64(n)]
	}
	size := max(n, segWindow)
	if cap(r.buf) < size {
		r.buf = make([]byte, size)
	}
	got, err := r.f.ReadAt(r.buf[:size], off)
	if err != nil && !errors.Is(err, io.EOF) && r.err == nil {
		r.err = err
	}
	r.buf, r.start = r.buf[:got], off
	return r.buf[:min(n, got)]
}

// walk reads frames from off (0: the file start, header included in the
// first batch's CRC), checking each commit's CRC, until the file ends,
// zeros begin, or a frame or batch does not check out.
func (r *segReader) walk(off int64, fromStart bool) walkEnd {
	end := walkEnd{goodEnd: off}
	var crc uint32
	var pending uint64
	var index int64
	pos := off
	if fromStart {
		h := r.at(0, segFileHeaderLen)
		if len(h) < segFileHeaderLen {
			return end
		}
		crc = crc32.Update(0, castagnoli, h)
		pos = segFileHeaderLen
	}
	for r.err == nil {
		h := r.at(pos, segFrameHeaderLen)
		if len(h) < segFrameHeaderLen {
			end.torn = len(h) > 0
			return end
		}
		typ, val := h[0], binary.LittleEndian.Uint32(h[4:8])
		switch {
		case typ == frameCommit && h[1]|h[2]|h[3] == 0:
			if val != crc {
				end.torn = true
				return end
			}
			pos += segFrameHeaderLen
			end.goodEnd, end.commits, end.entries, crc, pending = pos, end.commits+1, end.entries+pending, 0, 0
			if index > 0 {
				end.sealAt, index = index, 0
			}
		case (typ == frameEntry || typ == frameIndex) && h[1]|h[2]|h[3] == 0 && val <= maxFrameLen:
			size := int64(segFrameHeaderLen) + int64(val) + int64(padTo8(int(val)))
			var whole bool
			if crc, whole = r.crcOf(crc, pos, size); !whole {
				end.torn = true
				return end
			}
			if typ == frameEntry {
				pending++
			} else {
				index = pos
			}
			pos += size
		default:
			end.torn = typ != 0 || val != 0 || h[1]|h[2]|h[3] != 0 || pending > 0
			return end
		}
	}
	return end
}

// crcOf adds n bytes at off to crc a window at a time, so that a frame
// length read from damaged bytes (up to 64 MiB) never sizes a buffer. It
// reports false if the file ends first.
func (r *segReader) crcOf(crc uint32, off, n int64) (uint32, bool) {
	for n > 0 {
		chunk := r.at(off, int(min(n, segWindow)))
		if len(chunk) == 0 {
			return crc, false
		}
		crc = crc32.Update(crc, castagnoli, chunk)
		off, n = off+int64(len(chunk)), n-int64(len(chunk))
	}
	return crc, true
}

// intactBatchAfter looks for a whole batch (at least one entry, then a
// commit whose CRC matches) starting at any 8-byte boundary after from.
// A batch starts with an entry frame, type 1 in its first byte: the scan
// jumps from one such byte to the next, so the zeros that fill the rest
// of a preallocated segment cost about one memory scan.
func (r *segReader) intactBatchAfter(from int64) (int64, bool) {
	for off := from + segFrameHeaderLen; r.err == nil; {
		w := r.rest(off)
		if len(w) < segFrameHeaderLen {
			return 0, false
		}
		i := bytes.IndexByte(w, frameEntry)
		switch {
		case i < 0:
			off += int64(len(w)) &^ 7
			continue
		case i%segFrameHeaderLen != 0:
			off += int64(i - i%segFrameHeaderLen + segFrameHeaderLen)
			continue
		}
		cand := off + int64(i)
		if h := r.at(cand, segFrameHeaderLen); len(h) == segFrameHeaderLen && h[1]|h[2]|h[3] == 0 {
			if end := r.walk(cand, false); end.commits > 0 && end.entries > 0 {
				return cand, true
			}
		}
		off = cand + segFrameHeaderLen
	}
	return 0, false
}

// rest returns the bytes of the window from off on (at least a frame
// header's worth unless the file ends), loading a new window if needed.
func (r *segReader) rest(off int64) []byte {
	if off < r.start || off+segFrameHeaderLen > r.start+int64(len(r.buf)) {
		r.at(off, segWindow)
	}
	if off < r.start || off >= r.start+int64(len(r.buf)) {
		return nil
	}
	return r.buf[off-r.start:]
}

// padTo8 is how many zero bytes pad an n-byte payload to 8 bytes.
func padTo8(n int) int { return (8 - n%8) & 7 }
