package cluster

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// completeSeal finishes a segment rotation that a crash (or a Close racing
// it) interrupted. raft-wal seals a full tail segment by writing its index
// in the same fsynced batch as the last entries, then records the seal
// and the next segment in wal-meta.db in the background. Stopped between
// the two, the metadata still lists the sealed file as the tail; raft-wal
// v0.4.0 reopens it as a writer that refuses every append ("segment is
// sealed"), and the node can never write again. Here the metadata is
// brought to what the rotation would have written: the tail sealed at its
// index, and a new, empty tail after its last entry, which raft-wal
// creates on open.
// end is where verifySegments stopped reading the unsealed tail.
func completeSeal(dir string, meta *metadb.BoltMetaDB, st types.PersistentState, end walkEnd, log *slog.Logger) error {
	n := len(st.Segments)
	if n == 0 || !st.Segments[n-1].SealTime.IsZero() || end.sealAt == 0 {
		return nil // no unsealed tail, no file yet, or not sealed: raft-wal recovers it as it is
	}
	tail := st.Segments[n-1]
	path := filepath.Join(dir, segment.FileName(tail))
	now := time.Now()
	tail.SealTime, tail.IndexStart = now, uint64(end.sealAt)+segFrameHeaderLen
	tail.MaxIndex = tail.BaseIndex + end.entries - 1
	next := types.SegmentInfo{ID: st.NextSegmentID, BaseIndex: tail.MaxIndex + 1, MinIndex: tail.MaxIndex + 1,
		SizeLimit: uint32(walSegmentSize), Codec: tail.Codec, CreateTime: now}
	fixed := types.PersistentState{NextSegmentID: st.NextSegmentID + 1,
		Segments: append(append([]types.SegmentInfo{}, st.Segments[:n-1]...), tail, next)}
	if err := meta.CommitState(fixed); err != nil {
		return fmt.Errorf("complete the interrupted rotation of %s: %w", path, err)
	}
	log.Warn("raft log: completed a segment rotation that a stop interrupted", "sealed", path, "entries", end.entries)
	return nil
}
