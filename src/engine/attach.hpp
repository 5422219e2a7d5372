// A client attached to a detached container (docker's attach), the one loop both doors run: the
// Engine API's POST /containers/{id}/attach over its hijacked connection, and `gantry attach` on
// this terminal. The container's output is read from the file its output copier writes
// (container_log/output.hpp), from now on (or from its start: docker's logs=1), and handed to the
// client as it is written until the container ends or the client leaves; what the client sends
// goes to the container's stdin (-i: the pipe its monitor holds, records' stdin_writer), through
// docker's detach keys where the container has a terminal: they end the attach and leave the
// container running.
#pragma once

#include "records/state.hpp"
#include "runtime/detach_keys.hpp"
#include "util/fd.hpp"

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>

namespace gantry::engine {

// An attached client's way into a running container's stdin (records::ContainerState::
// stdin_writer) and, where it has a terminal, its detach keys: without one, docker's daemon
// passes every byte on (binary input), and so does gantry.
struct AttachedStdin {
    Fd fd;
    std::optional<runtime::DetachKeys> keys;
    // What the client sent (DATA), through the keys, to the container's stdin; false once the
    // keys detached the client. A stdin the container closed takes nothing more.
    bool forward(std::string_view data);
};

// What the client's input did (Attachment::on_input)
enum class InputStep {
    more,     // taken (or none there yet): go on
    ended,    // the client's input ended (a half-close, EOF): go on with the output alone
    detached, // its detach keys came
    gone,     // the client went away
};

enum class AttachEnd {
    ended,     // the container ended (or, without follow, what it wrote so far was handed over)
    detached,  // the client's detach keys
    gone,      // the client went away (its output or input failed)
    no_output, // the container has no output file (removed meanwhile, or never started)
};

struct Attachment {
    unsigned streams = 3; // container_log::kStdout | kStderr
    bool logs = false;    // from the start of its output (docker's logs=1), else from now on
    bool follow = true;   // until the container ends (docker's stream=1), else what is there
    // a chunk of the output: its stream (1 or 2) and bytes; false when the client is gone
    std::function<bool(int stream, const char* data, std::size_t n)> output;
    // after each read that handed output over: false when the client is gone
    std::function<bool()> flush;
    int input_fd = -1; // polled for the client's input while following (-1: none)
    // called when INPUT_FD is ready, with poll's REVENTS for it
    std::function<InputStep(short revents)> on_input;
};

// Runs A for container S until it ends as AttachEnd says. Reading the output file going bad
// under it ends it as the container's end would.
AttachEnd attach(const records::ContainerState& s, Attachment& a);

} // namespace gantry::engine
