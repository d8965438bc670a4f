package state

// Restoring the primitives' sections (snapshot version 7), and the check
// that the slots, shapes and elections read agree with one another.

func (s *State) readShapes(d *decoder) {
	n := d.count(3)
	prev := ""
	for i := 0; i < n && d.err == nil; i++ {
		name := d.str(MaxLockNameLen)
		sh := shape{limit: uint16(min(d.uvarint(), MaxLimit+1)), mode: Mode(d.u8())}
		if d.err == nil && (ValidLockName(name) != nil || name <= prev || sh == plainShape ||
			shapeErr(int(sh.limit), sh.mode) != nil) {
			d.fail("bad shape record")
		}
		prev = name
		s.shapes[name] = sh
	}
}

func (s *State) readElected(d *decoder) {
	n := d.count(2)
	prev := ""
	for i := 0; i < n && d.err == nil; i++ {
		key, since := d.str(MaxLockNameLen+len(electionPrefix)), d.varint()
		if d.err == nil && (!isElectionKey(key) || validKey(key) != nil || key <= prev) {
			d.fail("bad election record")
		}
		prev = key
		s.elected[key] = since
	}
}

// checkShapes refuses slots and shapes that Apply could not have left: a
// name with several slots has a shape that admits them, a shape or an
// election time belongs to a held name, and every held election has its
// time.
func (s *State) checkShapes(d *decoder) {
	if d.err != nil {
		return
	}
	counts := map[string]int{}
	s.locks.Ascend(func(l *Lock) bool { counts[l.Name]++; return true })
	for name, n := range counts {
		sh := s.nameShape(name)
		_, elected := s.elected[name]
		if n > 1 && sh.mode != Shared && n > int(sh.limit) || isElectionKey(name) && (s.shaped(name) || !elected) {
			d.fail("bad slots for " + name)
			return
		}
	}
	for name := range s.shapes {
		if counts[name] == 0 {
			d.fail("shape of a free name")
			return
		}
	}
	for key := range s.elected {
		if counts[key] == 0 {
			d.fail("election time of an election without a leader")
			return
		}
	}
}
