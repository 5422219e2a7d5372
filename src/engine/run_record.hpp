// engine/run_record: the record of a container run() launches (internal to engine/launch.cpp):
// made in the runtime directory from its creation for exec, ps, stop, logs and rm, updated as it
// starts, joins its network and ends, and removed again when the run ends without keeping it.
#pragma once

#include "container_log/output.hpp"
#include "engine/engine.hpp"
#include "engine/health.hpp"
#include "engine/kept_preparation.hpp"
#include "engine/record.hpp"
#include "engine/request_json.hpp"
#include "engine/restart_policy.hpp"
#include "engine/volumes.hpp"
#include "records/boot.hpp"
#include "records/events.hpp"
#include "records/health.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/log.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gantry::engine::detail {

inline std::filesystem::path current_dir() {
    std::error_code ec;
    auto cwd = std::filesystem::current_path(ec);
    if (ec) throw Error(Errc::io, "cannot read the current directory: " + ec.message());
    return cwd;
}

// A container that exec, ps, stop and rm can find: recorded in the runtime directory from its
// creation, and removed again when the run ends without keeping it.
class Record {
  public:
    explicit Record(Prepared& p)
        : scratch_(*p.scratch), store_(*p.store), volumes_(p.request.anonymous_volumes) {
        const auto& r = p.request;
        // a foreground run is recorded when something names it: --name, or a label or a
        // --cidfile a script finds it by (the Dev Containers CLI: ps --filter label=...); every
        // run's events are journalled (`gantry events`)
        if (!recorded(r)) {
            cs_.name = p.id;
            cs_.id = p.id;
            cs_.image = r.image;
            cs_.labels = p.labels;
            // journalled with the start event once the process runs, off the start's path
            // (before that if it never starts), with this moment's time
            create_ = records::container_event(cs_, "create");
            create_->time_nano = records::realtime_nanos();
            return;
        }
        states_.emplace();
        cs_ = container_record(p);
        configured_endpoints_ = cs_.endpoints;
        cs_.monitor = ::getpid();
        if (!r.container_id.empty()) { // gantry start: the record is taken over, not made
            auto old = states_->get(r.container_id);
            cs_.name = old.name;
            cs_.created = old.created;
            cs_.user_mounts = old.user_mounts; // a kept preparation has no parsed options
            cs_.anonymous_volumes = old.anonymous_volumes;
            cs_.healthcheck = old.healthcheck;
            volumes_ = old.anonymous_volumes;
            if (old.status == "restarting") { // by its policy: counted on, not by hand
                cs_.restart_count = old.restart_count;
                cs_.restart_delay_ms = old.restart_delay_ms;
            }
            cs_.startable = true;
            owner_ = states_->take(old);
            states_->save(cs_);
            return;
        }
        // a -d container keeps its request, so `gantry start` runs it again
        if (r.detach) try {
                write_request(p.scratch->dir(), persistable(r, current_dir(), p.labels));
                write_preparation(p.scratch->dir(), kept_preparation(p));
                cs_.startable = true;
            } catch (const Error& e) {
                log::debug("the container cannot be started again: " + e.message());
            }
        owner_ = states_->create(cs_);
        journal_.append(records::container_event(cs_, "create"));
    }
    ~Record() {
        if (!scratch_.kept()) remove();
    }
    Record(const Record&) = delete;
    Record& operator=(const Record&) = delete;

    // The -d monitor takes the record over before anything else: the state must always name a
    // live process while the name is claimed, or a concurrent `run --name` with the same name
    // takes it for a crashed run's debris once the parent has returned (both then run).
    void monitored_here() {
        if (!states_) return;
        cs_.monitor = ::getpid();
        states_->save_current(cs_);
    }
    // -d -i: the monitor's descriptor holding its stdin's writing end (ContainerState::stdin_fd,
    // what an attached client's stdin is written to), saved with monitored_here()
    void stdin_held(int fd) { cs_.stdin_fd = fd; }
    // The process serving the container's root over FUSE: `gantry rm -f` kills it when the
    // container does not end with SIGKILL (a read it has not answered holds it).
    void serving(pid_t server) {
        if (!states_ || server <= 0) return;
        cs_.server = server;
        cs_.server_start = records::process_start_time(server);
    }
    // Its own cgroup (runtime::ContainerCgroup::to_json), recorded with its start: what pause
    // freezes.
    void cgrouped(nlohmann::json cgroup) { cs_.cgroup = std::move(cgroup); }
    // The user-mode stack serving its network while it runs (0 once it stopped).
    void networked(pid_t helper) { cs_.network_helper = helper; }
    void joined(nlohmann::json endpoints) { cs_.endpoints = std::move(endpoints); }
    void started(pid_t pid) {
        started_at_ = std::chrono::steady_clock::now();
        std::vector<records::ContainerEvent> events;
        if (create_) events.push_back(std::move(*create_));
        create_.reset();
        events.push_back(records::container_event(cs_, "start"));
        journal_.append_all(events);
        if (!states_) return;
        cs_.pid = pid;
        cs_.pid_start = records::process_start_time(pid);
        cs_.monitor = ::getpid();
        cs_.status = "running";
        // docker's StartedAt: each start's own, with nanoseconds as docker's
        cs_.started_at = container_log::log_time(records::realtime_nanos());
        states_->save_current(cs_);
        if (cs_.detached) try { // always, unless-stopped: brought back after a boot
                records::keep_for_boot(cs_);
            } catch (const Error& e) {
                log::warn("container " + cs_.name +
                          " will not be started after a boot: " + e.message());
            }
        if (!cs_.healthcheck.is_null()) { // docker's: "starting" from the start on
            try {
                records::write_health(cs_.container_dir, records::HealthState{});
            } catch (const Error& e) {
                log::warn("container " + cs_.name + "'s health is not recorded: " + e.message());
            }
            start_health_checker(cs_.id);
        }
    }
    void exited(int status) {
        journal_created();
        journal_.append(
            records::container_event(cs_, "die", {{"exitCode", std::to_string(status)}}));
        if (!states_) return;
        removing_ = removal_requested();
        cs_.status = "exited";
        cs_.endpoints = configured_endpoints_; // off its network: its aliases, no address
        cs_.network_helper = 0;
        cs_.exit_code = status;
        cs_.finished = records::now_rfc3339();
        states_->save_current(cs_); // unless rm'ed
    }
    bool removing() const { return removing_; }
    // -d, once the workload has ended: whether its restart policy starts it again
    // (engine/restart_policy.hpp). The record says "restarting" while the monitor waits before
    // that start; a stop, kill or rm meanwhile ends the wait, and the container stays exited.
    bool restart_due(int status) {
        auto policy = RestartPolicy::parse(cs_.restart_policy);
        if (!states_ || !policy.any() || removing_ || destroyed_) return false;
        auto called_off = [this] {
            auto now = states_->find(cs_.id);
            return !now || now->id != cs_.id || now->status == "removing" || now->stopped_by_user;
        };
        if (called_off() || !policy.restarts(status, cs_.restart_count)) return false;
        std::chrono::duration<double> ran = std::chrono::steady_clock::now() - started_at_;
        cs_.restart_delay_ms = restart_delay_ms(cs_.restart_delay_ms, ran.count());
        cs_.restart_count++;
        cs_.status = "restarting";
        if (!states_->save_current(cs_)) return false;
        for (long long waited = 0; waited < cs_.restart_delay_ms; waited += 20) {
            ::usleep(20 * 1000);
            if (called_off()) {
                cs_.status = "exited";
                states_->save_current(cs_);
                return false;
            }
        }
        return true;
    }
    // `gantry rm` marks the container it removes before it kills it or waits for its monitor
    // (or removed it already). Asked again while a lazy image's copies become store layers.
    bool removal_requested() const {
        if (!states_) return false;
        try {
            auto now = states_->find(cs_.id);
            return !now || now->id != cs_.id || now->status == "removing";
        } catch (const Error&) { // a state file being replaced: asked again later
            return false;
        }
    }
    // The state removed, and the container's destroy event journalled by whoever removed it
    // (this run, or a `gantry rm` that came first).
    // Its anonymous volumes go with it (docker's --rm); a `gantry rm` that came first decided
    // about them (-v).
    void remove() noexcept {
        if (destroyed_) return;
        destroyed_ = true;
        try {
            if (states_) {
                if (auto now = states_->find(cs_.id)) cs_.name = now->name; // renamed
                if (!states_->remove(cs_.name)) return;
            }
        } catch (...) {
            return;
        }
        journal_created();
        journal_.append(records::container_event(cs_, "destroy"));
        remove_anonymous_volumes(store_, volumes_);
    }

  private:
    void journal_created() {
        if (create_) journal_.append(std::move(*create_));
        create_.reset();
    }
    store::Scratch& scratch_;
    const store::Store& store_;
    std::vector<std::string> volumes_; // the anonymous volumes made for it
    std::optional<records::StateDir> states_;
    records::ContainerState cs_;
    // The name's owner lock: inherited by the -d monitor (fork shares it), so the name stays
    // claimed until the last of this gantry and its monitor has exited.
    FileLock owner_;
    records::EventJournal journal_;
    std::optional<records::ContainerEvent> create_; // not journalled yet (a foreground run's)
    nlohmann::json configured_endpoints_;           // a user network's, while not running
    bool removing_ = false, destroyed_ = false;
    std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
};

} // namespace gantry::engine::detail
