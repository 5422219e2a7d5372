// create, start, restart and rename (engine/lifecycle.hpp).
#include "engine/lifecycle.hpp"

#include "engine/docker_flags.hpp"
#include "engine/kept_preparation.hpp"
#include "engine/record.hpp"
#include "engine/removal.hpp"
#include "engine/request_json.hpp"
#include "records/events.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/lock.hpp"
#include "util/log.hpp"

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

namespace gantry::engine {

std::string create(store::Store& store, RunRequest request, Caller caller) {
    if (!request.container_id.empty())
        throw Error(Errc::internal, "create of an existing container " + request.container_id);
    // -a: the streams `start -a` attaches (checked by prepare as a foreground run's)
    auto attach = std::move(request.attach);
    request.attach.clear();
    if (!attach.empty()) {
        RunRequest check;
        check.attach = attach;
        attached_streams(check);
    }
    // a start later begins on the layer this one leaves: on disk, unless asked otherwise
    if (request.writable_layer.empty())
        if (const char* e = std::getenv("GANTRY_WRITABLE_LAYER"); e && *e)
            request.writable_layer = e;
    if (request.writable_layer.empty() || request.writable_layer == "auto")
        request.writable_layer = "disk";
    request.detach = true; // the store's hold on the image is a file that outlives this process
    std::error_code ec;
    auto cwd = std::filesystem::current_path(ec);
    if (ec) throw Error(Errc::io, "cannot read the current directory: " + ec.message());
    auto p = prepare(store, request, std::move(caller));
    auto kept = persistable(p.request, cwd, p.labels);
    kept.attach = std::move(attach);
    auto cs = container_record(p);
    cs.startable = true;
    write_request(p.scratch->dir(), kept);
    write_preparation(p.scratch->dir(), kept_preparation(p));
    records::StateDir states;
    {
        auto owner = states.create(cs); // released at once: nothing runs it
    }
    p.scratch->keep();
    records::EventJournal().append(records::container_event(cs, "create"));
    if (!request.cidfile.empty()) write_cidfile(request.cidfile, p.id);
    return p.id;
}

namespace {

// Removes the --rm container ID whose start failed (its record as it is now: the failed start
// may have changed it); what cannot be removed is said, the start's own error is what fails.
void remove_after_failed_start(records::StateDir& states, const std::string& id) noexcept {
    try {
        auto now = states.find(id);
        if (!now) return;
        // the start took the record over as its monitor (this process): nothing to wait for
        if (now->monitor == ::getpid()) now->monitor = 0;
        remove_whole_container(states, *now, true); // docker's --rm: its anonymous volumes too
    } catch (const std::exception& e) {
        log::warn("the --rm container " + id + " whose start failed was not removed: " +
                  std::string(e.what()) + " (remove it with `gantry rm -f " + id + "`)");
    }
}

} // namespace

Outcome start(const std::string& key, Caller caller, const StartOptions& o) {
    records::StateDir states;
    auto s = states.get(key);
    bool attach = o.attach || o.interactive;
    if (s.running()) {
        if (attach)
            throw Error(Errc::conflict,
                        "container " + s.name +
                            " is already running: start -a attaches to the "
                            "container it starts",
                        "follow its output with `gantry logs -f " + s.name +
                            "`, its exit status with `gantry wait " + s.name + "`");
        return {0, s.id};
    }
    if (!s.startable)
        throw Error(Errc::conflict,
                    "container " + s.name +
                        " cannot be started again: its run request was not kept (a foreground "
                        "run's record, or a container of an older gantry)",
                    "remove it (`gantry rm " + s.name +
                        "`) and `gantry run -d` a new one, or "
                        "`gantry create` it");
    auto request = read_request(s.container_dir);
    request.name = s.name; // renamed since, perhaps
    request.container_id = s.id;
    request.detach = !attach;
    // -a: create -a's streams, else stdout and stderr; -i: all three
    if (!attach || o.interactive)
        request.attach.clear();
    else if (request.attach.empty())
        request.attach = {"STDOUT", "STDERR"};
    store::Store store(s.store_root);
    const bool remove_on_failure = request.rm;
    try {
        // what create (or run -d) prepared, run as it is; a container of an older gantry kept
        // its request only, and is prepared from it again
        auto kept = read_preparation(s.container_dir);
        auto p = kept
                     ? prepare_again(store, std::move(request), std::move(caller), std::move(*kept))
                     : prepare(store, std::move(request), std::move(caller));
        return run(p);
    } catch (const Error& e) {
        // docker's AutoRemove (run --rm): a container whose start failed goes too, so a failed
        // `docker run --rm` leaves nothing behind (one left would block the image's rmi)
        if (remove_on_failure) remove_after_failed_start(states, s.id);
        // as run's: failed before the workload began (125)
        if (static_cast<int>(e.code()) >= 125 || e.code() == Errc::usage) throw;
        throw Error(Errc::run_failed, e.message(), e.hint());
    }
}

void restart_by_policy(const std::string& id, Caller caller) {
    records::StateDir states;
    auto s = states.find(id);
    if (!s || s->id != id || s->status != "restarting") return;
    if (auto started = s->monitor_start()) records::await_exit(s->monitor, started, 60);
    s = states.find(id); // as the monitor left it
    if (!s || s->id != id || s->status != "restarting") return;
    auto leave_exited = [&] {
        s->status = "exited";
        states.save_current(*s);
    };
    if (s->stopped_by_user) return leave_exited();
    try {
        start(id, std::move(caller));
        // a stop that came while this start took the record over found nothing running
        if (auto now = states.find(id); now && now->id == id && now->stopped_by_user)
            records::stop(*now);
    } catch (const Error& e) {
        log::warn("container " + s->name + " was not restarted: " + e.message());
        if (auto now = states.find(id); now && now->status == "restarting") leave_exited();
    }
}

void restart(const std::string& key, Caller caller, std::optional<double> timeout) {
    records::StateDir states;
    auto s = states.get(key);
    if (s.running()) {
        records::stop(s, timeout);
        records::EventJournal().append(records::container_event(s, "stop"));
    }
    start(s.id, std::move(caller));
    records::EventJournal().append(records::container_event(states.get(s.id), "restart"));
}

records::ContainerState rename(const std::string& key, const std::string& new_name) {
    records::StateDir states;
    auto old = states.get(key).name;
    auto s = states.rename(key, new_name);
    records::EventJournal().append(records::container_event(s, "rename", {{"oldName", "/" + old}}));
    return s;
}

} // namespace gantry::engine
