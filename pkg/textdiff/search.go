package textdiff

// MaxSearchD bounds one bisection: a search from both ends of a part of
// the texts gives up after MaxSearchD/2 steps in each direction, that is
// once it knows a minimal diff of that part has more than MaxSearchD
// inserted plus deleted lines, and cuts the part where it got furthest.
// It keeps one hard part from spending the whole work budget.
const MaxSearchD = 2048

// workBudget bounds the elementary steps of the whole search: diagonals
// visited, plus line comparisons while following one. A step takes a few
// nanoseconds, so the budget is a fraction of a second; past it, the parts
// left are diffed without searching.
//
// The bound of the package documentation follows from counting steps:
// searching a part of n+m lines with a minimal diff of D lines visits
// fewer than D*D/4 diagonals and compares fewer than (D+2)*(n+m) lines
// (no pair twice), and the bisected halves have half of D each, so the
// whole search takes fewer than (2D + 3*log2(D) + 6)*(n+m) + D*D/2 steps,
// which is below 8*2^21 + 2^20 when D*(n+m) <= 2^21: about half the budget,
// leaving room for the approximations of this count.
const workBudget = 1 << 25

// search finds which lines of a are deleted and which lines of b are
// inserted by a diff of a and b, the sequences of line numbers.
//
// Coordinates: a point (x, y) of a box means that x lines of a and y lines
// of b are behind; a move right deletes a line of a, a move down inserts a
// line of b, a diagonal move over a[x] == b[y] keeps it. Diagonal k holds
// the points with x-y == k.
type search struct {
	a, b       []int32
	delA, insB []bool // the result, one mark per line

	limit int // steps from each end of one bisection before it cuts anyway
	work  int // steps left in the budget; <= 0 means stop searching

	// fwd[off+k] is the furthest x reached on diagonal k from the top-left
	// corner of the box being bisected, bwd[off+k-delta] the least x reached
	// on it from the bottom-right corner (see bisect).
	fwd, bwd []int
	off      int

	// For tests: whether some bisection cut at a point not known to be on
	// a minimal path, and whether the budget ran out.
	cut, exhausted bool
}

// newSearch prepares the diff of a and b with at most limit steps from each
// end per bisection and work elementary steps in all.
func newSearch(a, b []int32, limit, work int) *search {
	return &search{
		a: a, b: b,
		delA:  make([]bool, len(a)),
		insB:  make([]bool, len(b)),
		limit: limit,
		work:  work,
	}
}

// run computes delA and insB.
func (s *search) run() {
	a, b := s.a, s.b
	// Set aside the common prefix and suffix, then the lines that the
	// other side does not have: none of them can change the matching.
	lo := 0
	for lo < len(a) && lo < len(b) && a[lo] == b[lo] {
		lo++
	}
	ha, hb := len(a), len(b)
	for ha > lo && hb > lo && a[ha-1] == b[hb-1] {
		ha--
		hb--
	}
	if lo == ha || lo == hb {
		mark(s.delA[lo:ha])
		mark(s.insB[lo:hb])
		return
	}
	ids := int32(0)
	for _, v := range a[lo:ha] {
		ids = max(ids, v+1)
	}
	for _, v := range b[lo:hb] {
		ids = max(ids, v+1)
	}
	inA := make([]bool, ids)
	inB := make([]bool, ids)
	for _, v := range a[lo:ha] {
		inA[v] = true
	}
	for _, v := range b[lo:hb] {
		inB[v] = true
	}
	ra, ia := reduce(a, lo, ha, inB, s.delA)
	rb, ib := reduce(b, lo, hb, inA, s.insB)

	// Search the reduced sequences, then carry the marks back.
	r := newSearch(ra, rb, s.limit, s.work)
	r.bisectAll()
	for i, c := range r.delA {
		s.delA[ia[i]] = c
	}
	for i, c := range r.insB {
		s.insB[ib[i]] = c
	}
	s.cut, s.exhausted, s.work = r.cut, r.exhausted, r.work
}

// reduce returns the lines of seq[lo:hi] that other has, with their
// indexes in seq, and marks the others changed.
func reduce(seq []int32, lo, hi int, other []bool, changed []bool) ([]int32, []int) {
	var r []int32
	var idx []int
	for i := lo; i < hi; i++ {
		if other[seq[i]] {
			r = append(r, seq[i])
			idx = append(idx, i)
		} else {
			changed[i] = true
		}
	}
	return r, idx
}

// mark marks all lines changed.
func mark(changed []bool) {
	for i := range changed {
		changed[i] = true
	}
}

// box is the part of the edit graph a[x0:x1] by b[y0:y1].
type box struct{ x0, x1, y0, y1 int }

// bisectAll diffs the whole of a and b: it splits boxes at points of
// (usually minimal) paths until each box is trivial. A stack rather than
// recursion keeps the depth of the Go stack independent of the input.
func (s *search) bisectAll() {
	// The number of steps from each end never exceeds half the number of
	// lines (rounded up), nor the limit.
	s.limit = min(s.limit, (len(s.a)+len(s.b)+1)/2)
	s.off = s.limit + 1
	s.fwd = make([]int, 2*s.limit+3)
	s.bwd = make([]int, 2*s.limit+3)
	stack := []box{{0, len(s.a), 0, len(s.b)}}
	for len(stack) > 0 {
		bx := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for bx.x0 < bx.x1 && bx.y0 < bx.y1 && s.a[bx.x0] == s.b[bx.y0] {
			bx.x0++
			bx.y0++
		}
		for bx.x0 < bx.x1 && bx.y0 < bx.y1 && s.a[bx.x1-1] == s.b[bx.y1-1] {
			bx.x1--
			bx.y1--
		}
		if bx.x0 == bx.x1 || bx.y0 == bx.y1 || s.work <= 0 {
			mark(s.delA[bx.x0:bx.x1])
			mark(s.insB[bx.y0:bx.y1])
			continue
		}
		x, y, ok := s.bisect(bx)
		if !ok {
			mark(s.delA[bx.x0:bx.x1])
			mark(s.insB[bx.y0:bx.y1])
			continue
		}
		// The top-left part is popped first, though the order does not
		// matter to the result while the budget lasts.
		stack = append(stack, box{x, bx.x1, y, bx.y1}, box{bx.x0, x, bx.y0, y})
	}
}

// bisect returns a point (x, y) of bx, other than its corners, through
// which to diff it. It searches from both corners at once, one more
// non-diagonal move each step, until the two searches overlap on a
// diagonal, as in Myers' paper: the point where they do is on a minimal
// path. If they have not met after s.limit steps or the budget runs out,
// it returns the point that got furthest from its corner. ok is false if
// there is none, which leaves the box to be diffed trivially.
//
// Moves that would leave the box are not made. That loses only paths that
// run along an edge after a point where another path reached that edge
// with fewer moves, so never a minimal path, and the searches never leave
// the box.
//
// The box has had its common prefix and suffix removed, so it is not empty
// on either side and its corners are not followed by a diagonal.
func (s *search) bisect(bx box) (x, y int, ok bool) {
	a, b := s.a[bx.x0:bx.x1], s.b[bx.y0:bx.y1]
	n, m := len(a), len(b)
	delta := n - m
	odd := delta&1 != 0
	fwd, bwd, off := s.fwd, s.bwd, s.off
	// fwd holds -1 and bwd n+1 for a diagonal not reached: neither passes
	// the overlap tests, and the max and min below skip them. Entries are
	// only read where the previous steps wrote them.
	work := 0
	last := -1 // the last step completed
	for d := 0; d <= s.limit && s.work-work > 0; d++ {
		// Forward: the furthest points reached with d moves from (0, 0),
		// on the diagonals k = -d, -d+2, ..., d that the box has.
		lo, hi := max(-d, -m), min(d, n)
		lo += (lo + d) & 1
		hi -= (hi + d) & 1
		for k := lo; k <= hi; k += 2 {
			x := 0
			if d > 0 {
				// Down from diagonal k+1 unless on the bottom edge, right
				// from k-1 unless on the right edge, or where diagonal k
				// was reached in d-2 moves (moves can cancel out; keeping
				// it means no line is compared twice on a diagonal, which
				// bounds the work).
				down, right, prev := -1, -1, -1
				if k+1 <= d-1 && k+1 <= n {
					if v := fwd[off+k+1]; v-k <= m {
						down = v
					}
				}
				if k-1 >= -(d-1) && k-1 >= -m {
					if v := fwd[off+k-1]; v >= 0 && v < n {
						right = v + 1
					}
				}
				if k >= -(d-2) && k <= d-2 {
					prev = fwd[off+k]
				}
				x = max(down, right, prev)
				if x < 0 {
					fwd[off+k] = -1
					work++
					continue
				}
			}
			y := x - k
			x0 := x
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			work += 1 + x - x0
			fwd[off+k] = x
			// With delta odd, a minimal path has an odd number of moves:
			// d forward and d-1 backward.
			if j := k - delta; odd && j >= -(d-1) && j <= d-1 && bwd[off+j] <= x {
				s.work -= work
				return bx.x0 + x, bx.y0 + y, true
			}
		}
		// Backward: the least points reached with d moves from (n, m), on
		// the diagonals k = delta+j for j = -d, -d+2, ..., d.
		lo, hi = max(-d, -n), min(d, m)
		lo += (lo + d) & 1
		hi -= (hi + d) & 1
		for j := lo; j <= hi; j += 2 {
			k := j + delta
			x := n
			if d > 0 {
				// Left from diagonal k+1 unless on the left edge, up from
				// k-1 unless on the top edge, or as reached in d-2 moves.
				left, up, prev := n+1, n+1, n+1
				if j+1 <= d-1 && k+1 <= n {
					if v := bwd[off+j+1]; v >= 1 && v <= n {
						left = v - 1
					}
				}
				if j-1 >= -(d-1) && k-1 >= -m {
					if v := bwd[off+j-1]; v-k >= 0 {
						up = v
					}
				}
				if j >= -(d-2) && j <= d-2 {
					prev = bwd[off+j]
				}
				x = min(left, up, prev)
				if x > n {
					bwd[off+j] = n + 1
					work++
					continue
				}
			}
			y := x - k
			x0 := x
			for x > 0 && y > 0 && a[x-1] == b[y-1] {
				x--
				y--
			}
			work += 1 + x0 - x
			bwd[off+j] = x
			if !odd && k >= -d && k <= d && fwd[off+k] >= x {
				s.work -= work
				return bx.x0 + x, bx.y0 + y, true
			}
		}
		last = d
	}
	s.work -= work
	if s.work <= 0 {
		s.exhausted = true
	}
	s.cut = true
	if last < 0 {
		return 0, 0, false
	}
	// Cut at the point that got furthest from its own corner.
	best, cx, cy := 0, 0, 0
	for k := -last; k <= last; k += 2 {
		if k < -m || k > n {
			continue
		}
		if v := fwd[off+k]; v >= 0 && 2*v-k > best {
			best, cx, cy = 2*v-k, v, v-k
		}
	}
	for j := -last; j <= last; j += 2 {
		k := j + delta
		if k < -m || k > n {
			continue
		}
		if v := bwd[off+j]; v <= n && n+m-(2*v-k) > best {
			best, cx, cy = n+m-(2*v-k), v, v-k
		}
	}
	if (cx == 0 && cy == 0) || (cx == n && cy == m) {
		return 0, 0, false
	}
	return bx.x0 + cx, bx.y0 + cy, true
}
