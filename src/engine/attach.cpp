// A client attached to a detached container (engine/attach.hpp).
#include "engine/attach.hpp"

#include "container_log/output.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <poll.h>
#include <string>
#include <unistd.h>

namespace gantry::engine {

namespace {

// all of DATA to FD (the container's stdin); false when its reader closed it
bool attach_write(int fd, std::string_view data) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

} // namespace

bool AttachedStdin::forward(std::string_view data) {
    bool detached = false;
    std::string bytes = keys ? keys->scan(data, detached) : std::string(data);
    if (fd && !bytes.empty() && !attach_write(fd.get(), bytes)) fd = Fd();
    return !detached;
}

AttachEnd attach(const records::ContainerState& s, Attachment& a) {
    auto reader = container_log::OutputReader::open(s.container_dir);
    if (!reader) return AttachEnd::no_output;
    if (!a.logs) reader->tail(0, a.streams); // from now on
    const auto state_file = records::StateDir().dir() / s.name / "state.json";
    container_log::OutputWatch watch(reader->fd());
    bool running = a.follow, gone = false;
    auto sink = [&a, &gone](int stream, const char* data, std::size_t n) {
        if (!gone && !a.output(stream, data, n)) gone = true;
    };
    try {
        for (;;) {
            reader->read(a.streams, sink);
            if (gone || (a.flush && !a.flush())) return AttachEnd::gone;
            if (!running) break;
            // its workload, then its monitor recording the end (so the copier is done); until
            // then, or its removal; what was written up to then is read once more
            running = (s.running() || s.monitor_alive()) && fs::stdfs::exists(state_file);
            if (!running) continue;
            if (a.input_fd >= 0) {
                pollfd p{a.input_fd, POLLIN, 0};
                if (::poll(&p, 1, 0) > 0) {
                    switch (a.on_input(p.revents)) {
                    case InputStep::detached:
                        return AttachEnd::detached;
                    case InputStep::gone:
                        return AttachEnd::gone;
                    case InputStep::ended:
                        a.input_fd = -1;
                        break;
                    case InputStep::more:
                        break;
                    }
                }
            }
            watch.wait(100, a.input_fd);
        }
    } catch (const Error&) {
        // the file went bad under us: end the stream
    }
    return AttachEnd::ended;
}

} // namespace gantry::engine
