// printable: the one rule for a value gantry prints as text (docs/printed-text.md). A value
// someone else chose (a label, a name, an image's env or command, a path in a layer, a registry's
// answer, a Dockerfile's line) is printed with every character that could end gantry's line,
// move the terminal's cursor or reorder what the line shows escaped as Go's strconv.Quote (%q)
// escapes it, and every other byte as it is:
//   - C0 controls (U+0000-U+001F): \a \b \f \n \r \t \v, the others \xNN (ESC: \x1b);
//   - DEL (U+007F): \x7f;
//   - C1 controls (U+0080-U+009F, as UTF-8; NEL and CSI among them): \u0085, \u009b, ...;
//   - the Unicode line and paragraph separators U+2028 and U+2029: \u2028, \u2029;
//   - the bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069,
//     "Trojan Source", CVE-2021-42574): \u202e, ...;
//   - a byte that does not begin a valid UTF-8 sequence (RFC 3629): \xNN, one per byte.
// Plain text (ASCII letters, spaces, quotes and backslashes, any other valid UTF-8) is left as
// it is, so an ordinary value prints exactly as docker prints it; the escaped form of a value is
// one line with no control byte, and escaping it again changes nothing.
#pragma once

#include <string>
#include <string_view>

namespace gantry::text {

// S with the characters above escaped: "a\nb" -> `a\nb`, "\x1b[2J" -> `\x1b[2J`; "C:\x" stays.
std::string printable(std::string_view s);

// Whether printable(S) == S (no character above in S).
bool is_printable(std::string_view s);

// Go's strconv.Quote(S) for the characters above: S in double quotes, `"` and `\` escaped too
// ("sleep 1" -> "\"sleep 1\"", as docker's ps prints a COMMAND). Go also escapes the rest of what
// unicode.IsPrint refuses (U+00A0, U+200B, U+FEFF, private use, unassigned code points); these
// are printed as they are here, being neither a line end nor a cursor movement.
std::string quote(std::string_view s);

} // namespace gantry::text
