// A detached container's output: the file its stdout and stderr were opened on (`run -d`),
// read back as `docker logs` does: the whole of it, its last lines, and following it while the
// container may still write.
#pragma once

#include <cstddef>
#include <functional>
#include <sys/types.h>

namespace gantry::runtime {

// The offset at which the last LINES lines of the file FD begin (a last line without a newline
// counts as one). Reads backwards from the end in blocks, so a large file costs only its tail.
off_t tail_offset(int fd, std::size_t lines);

// Copies FD from offset FROM to OUT until its end. With FOLLOW set, then keeps copying what is
// appended, woken by inotify (or every 100 ms), until FOLLOW returns false, and copies what was
// appended up to then. Error(io) if FD cannot be read or OUT cannot be written.
void copy_output(int fd, off_t from, int out, const std::function<bool()>& follow = {});

} // namespace gantry::runtime
