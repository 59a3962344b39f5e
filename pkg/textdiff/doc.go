// Package textdiff compares two versions of a text, line by line, and
// writes the differences as a unified diff, the format of `diff -u` and git
// that `patch` applies. `commons diff` uses it to show how a design's build
// instructions changed between two versions.
//
// Lines computes the edit script; Unified formats it with context lines,
// following GNU diffutils' conventions for hunk headers and "\ No newline at
// end of file", so that its output is usually byte for byte that of
// `diff -u` (where several minimal diffs exist, the two may pick different
// ones); Stats counts what changed; Text tells text from binary content.
//
// # Lines
//
// A line is the text up to a newline ('\n'); a carriage return before it is
// part of the line, so a file whose line endings changed from CRLF to LF
// differs on every line, as it does for diff. The last line of a file that
// does not end with a newline is a different line from the same text
// followed by one.
//
// # Algorithm and bounds
//
// The diff is found with Myers' O(ND) algorithm ("An O(ND) Difference
// Algorithm and Its Variations", 1986) in its linear-space form, which
// bisects the problem at a "middle snake" found by searching from both ends
// at once. Before searching, the common prefix and suffix are set aside and
// so are the lines that occur in only one of the two texts, since they can
// never be matched; neither step changes the result.
//
// Inputs come from peers and users, so the search is bounded whatever they
// hold. Let n and m be the numbers of lines left after those two steps and
// D the number of inserted plus deleted lines of a minimal diff of them:
//
//   - A search from both ends stops after MaxSearchD/2 (1024) steps in
//     each direction, when a minimal diff of the part searched has more
//     than MaxSearchD lines. It then cuts the part at the point that got
//     furthest, which is correct but maybe not minimal, and goes on with
//     both pieces.
//   - The whole computation stops searching after 2^25 elementary steps
//     (visit a diagonal of the edit graph, compare two lines), a fraction
//     of a second. The parts left are then reported as their lines
//     deleted followed by their new lines inserted, after their own common
//     prefix and suffix.
//
// The result is therefore always a correct edit script, and it is minimal
// whenever D*(n+m) <= 2^21: for instance two versions of 700 lines each,
// however different, or of ten thousand lines with a hundred lines changed
// among lines that repeat (a line found on one side only costs nothing). Time is linear in the size of a and b plus the bounded search,
// and memory is linear.
//
// Unified also refuses inputs over MaxSize bytes or MaxLines lines
// (ErrTooLarge): a diff of such files is no longer something to read.
package textdiff
