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
		key, since := d.str(maxKeyLen), d.varint()
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
// time. It walks the slots once, run by run, without a map of its own.
func (s *State) checkShapes(d *decoder) {
	if d.err != nil {
		return
	}
	name, run := "", 0
	check := func() bool { return run == 0 || s.validRun(name, run) }
	s.locks.Ascend(func(l *Lock) bool {
		if l.Name != name {
			if !check() {
				return false
			}
			name, run = l.Name, 0
		}
		run++
		return true
	})
	if !check() {
		d.fail("bad slots for " + name)
		return
	}
	for name := range s.shapes {
		if _, held := s.firstSlot(name); !held {
			d.fail("shape of a free name")
			return
		}
	}
	for key := range s.elected {
		if _, held := s.firstSlot(key); !held {
			d.fail("election time of an election without a leader")
			return
		}
	}
}

// validRun: name may have n slots in its shape, and an election key has
// its time of election and no shape.
func (s *State) validRun(name string, n int) bool {
	sh := s.nameShape(name)
	if sh.mode != Shared && n > int(sh.limit) {
		return false
	}
	if isElectionKey(name) {
		_, elected := s.elected[name]
		return elected && !s.shaped(name)
	}
	return true
}
