// The Engine API's container endpoints over runtime/'s records, as the CLI's ps, inspect, logs,
// stop, wait, rm and top do them (src/cli/cmd_*.cpp).
#include "container_log/output.hpp"
#include "docker_model/containers.hpp"
#include "docker_model/filters.hpp"
#include "docker_model/top.hpp"
#include "docker_model/words.hpp"
#include "engine/docker_flags.hpp"
#include "engine/removal.hpp"
#include "engine_api/api.hpp"
#include "engine_api/sessions.hpp"
#include "network/ports.hpp"
#include "records/events.hpp"
#include "records/state.hpp"
#include "store/images.hpp"
#include "store/owned_tree.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <unistd.h>
#include <utility>

namespace gantry::engine_api {

namespace {

// docker's types.Container: a row of GET /containers/json (`docker ps`: its parts made directly,
// not cut from a whole inspect, which was a third of the list's time).
json api_ctr_row(const records::ContainerState& s, bool up) {
    std::string net = docker_model::network_mode(s);
    std::string command;
    for (auto& a : s.command) command += (command.empty() ? "" : " ") + a;
    return {{"Id", s.id},
            {"Names", json::array({"/" + s.name})},
            {"Image", s.image},
            {"ImageID", s.manifest},
            {"Command", command},
            {"Created", docker_model::epoch_of(s.created).value_or(0)},
            {"Ports", up ? network::api_ports(s.ports) : json::array()},
            {"Labels", s.labels},
            {"State", docker_model::state_word(s, up)},
            {"Status", records::status_text(s, up)},
            {"HostConfig", {{"NetworkMode", net}}},
            {"NetworkSettings", {{"Networks", {{net, json::object()}}}}},
            {"Mounts", docker_model::inspect_mounts(s)}};
}

// A detached container's output, read as `gantry logs` reads it (container_log/output.hpp): the
// STREAMS asked for, through VIEW (since, until, timestamps), framed as docker's multiplexed
// stream (an 8-byte header: the stream, 0, 0, 0, the length big endian), a frame per line as
// docker's log messages are, with each chunk's own stream when the container has no terminal;
// raw with one. An older container's file holds both
// streams in one: stdout's. Following ends when the container has ended, or UNTIL has passed.
class ApiCtrLogs : public Stream {
  public:
    ApiCtrLogs(container_log::OutputReader reader, unsigned streams, bool follow, bool framed,
               container_log::LogView view, records::ContainerState s,
               std::filesystem::path state_file)
        : r_(std::move(reader)), streams_(streams), follow_(follow), framed_(framed),
          until_(view.until), s_(std::move(s)), state_file_(std::move(state_file)),
          sink_(view, [this](int stream, const char* data, std::size_t n) {
              if (framed_)
                  container_log::append_line_frames(pending_, stream, data, n);
              else
                  pending_.append(data, n);
          }) {}

    std::size_t read(char* buf, std::size_t max, const std::function<bool()>& gone) override {
        for (;;) {
            if (pos_ < pending_.size()) {
                std::size_t n = std::min(max, pending_.size() - pos_);
                std::memcpy(buf, pending_.data() + pos_, n);
                pos_ += n;
                return n;
            }
            pending_.clear();
            pos_ = 0;
            try {
                r_.read(streams_, container_log::TimedSink(std::ref(sink_)));
            } catch (const Error&) {
                return 0; // the file went bad under us: end the stream
            }
            if (!pending_.empty()) continue;
            if (!follow_ || ended_) return 0;
            // its workload, then its monitor recording the end; until then, or its removal, or
            // until's time; what was appended up to then is read once more before the end
            if (!((s_.running() || s_.monitor_alive()) && fs::stdfs::exists(state_file_)) ||
                (until_ && records::realtime_nanos() > until_)) {
                ended_ = true;
                continue;
            }
            if (gone()) return 0;
            if (!watch_) watch_.emplace(r_.fd());
            watch_->wait(100);
        }
    }

  private:
    container_log::OutputReader r_;
    unsigned streams_;
    bool follow_, framed_, ended_ = false;
    std::int64_t until_;
    records::ContainerState s_;
    std::filesystem::path state_file_;
    container_log::ViewSink sink_;
    std::string pending_;
    std::size_t pos_ = 0;
    std::optional<container_log::OutputWatch> watch_;
};

Response api_ctr_logs(const Request& r, const records::ContainerState& s,
                      const records::StateDir& states) {
    container_log::LogView view;
    view.timestamps = query_bool(r.arg("timestamps"));
    if (!r.arg("since").empty()) view.since = query_time_nanos("since", r.arg("since"));
    if (!r.arg("until").empty()) view.until = query_time_nanos("until", r.arg("until"));
    bool out = query_bool(r.arg("stdout")), err = query_bool(r.arg("stderr"));
    if (!out && !err) throw ApiError(400, "Bad parameters: you must choose at least one stream");
    if (!s.detached)
        throw ApiError(501, "container " + s.name +
                                " was started in the foreground: its output goes to the terminal "
                                "that started it, and gantry keeps no copy");
    if (s.log_driver == "none") // docker's daemon's words, and its 501
        throw ApiError(501, "configured logging driver does not support reading");
    auto reader = container_log::OutputReader::open(s.container_dir);
    if (!reader)
        throw ApiError(404, "container " + s.name + " has no output file (" + s.container_dir +
                                "/" + container_log::kOutputFile + ")");
    unsigned streams = (out ? container_log::kStdout : 0) | (err ? container_log::kStderr : 0);
    const std::string& tail = r.arg("tail");
    if (!tail.empty() && tail != "all")
        reader->tail(static_cast<std::size_t>(query_int("tail", tail)), streams);
    Response res;
    bool tty = s.spec.terminal;
    res.content_type =
        tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
    res.stream =
        std::make_unique<ApiCtrLogs>(std::move(*reader), streams, query_bool(r.arg("follow")), !tty,
                                     view, s, states.dir() / s.name / "state.json");
    return res;
}

// ps's output table as docker's top JSON: the header's words, and each row split into as many
// fields, the last taking the rest of the line (the command).
json api_ctr_top_json(const std::string& table) {
    std::istringstream in(table);
    std::string line;
    json titles = json::array(), rows = json::array();
    std::getline(in, line);
    std::istringstream head(line);
    for (std::string w; head >> w;) titles.push_back(w);
    while (std::getline(in, line)) {
        json row = json::array();
        std::size_t i = 0;
        for (std::size_t k = 0; k < titles.size(); ++k) {
            while (i < line.size() && line[i] == ' ') ++i;
            if (k + 1 == titles.size()) {
                row.push_back(line.substr(i));
                break;
            }
            auto j = line.find(' ', i);
            if (j == std::string::npos) j = line.size();
            row.push_back(line.substr(i, j - i));
            i = j;
        }
        rows.push_back(row);
    }
    return {{"Titles", titles}, {"Processes", rows}};
}

// wait's next-exit and removed on a container not started yet: its record once it is running
// (or has run); not-running: the record as it is. Nothing when it was removed unstarted.
std::optional<records::ContainerState> api_ctr_await_start(const records::StateDir& states,
                                                           const records::ContainerState& s,
                                                           const std::string& cond,
                                                           const std::function<bool()>& gone) {
    if (cond.empty() || cond == "not-running" || s.status != "created") return s;
    for (;;) {
        auto now = states.find(s.id);
        if (!now) return std::nullopt;
        if (now->status != "created" || now->pid != 0) return now;
        if (gone()) return std::nullopt; // the waiting client hung up
        ::usleep(50 * 1000);             // a created container's start is another client's to make
    }
}

// The exit status the events journal's last die event of container ID records, if any.
std::optional<int> api_ctr_died_with(const std::string& id) {
    std::optional<int> code;
    records::EventReader reader(records::runtime_dir());
    for (const auto& m : reader.next()) {
        if (m.value("id", "") != id || m.value("Action", "") != "die") continue;
        auto attrs = m.value("Actor", json::object()).value("Attributes", json::object());
        try {
            code = std::stoi(attrs.value("exitCode", ""));
        } catch (const std::exception&) {
        }
    }
    return code;
}

// A waiting client hung up (or the service stops): the wait's answer goes nowhere.
struct ApiCtrClientGone : std::runtime_error {
    ApiCtrClientGone() : std::runtime_error("the waiting client left") {}
};

// POST /containers/{id}/wait's body: docker's {"StatusCode", "Error"} once the condition holds
json api_ctr_wait_result(const records::ContainerState& s, const std::string& cond,
                         const std::function<bool()>& gone) {
    records::StateDir states;
    // attached before its start (docker run): its foreground start's status, the record kept
    // or not (--rm)
    if (auto sess = find_attached(s.id)) {
        if (auto status = await_session(*sess, gone))
            return {{"StatusCode", *status}, {"Error", nullptr}};
        if (gone()) throw ApiCtrClientGone();
    }
    auto now = api_ctr_await_start(states, s, cond, gone);
    if (!now) return {{"StatusCode", s.exit_code}, {"Error", nullptr}};
    // `docker run -d` asks for this and leaves without reading it: a wait whose client is gone
    // (or whose service stops) ends, or its thread would keep the service from stopping and
    // from its idle exit for as long as the container runs
    const std::pair<pid_t, unsigned long long> ends[] = {{now->pid, now->pid_start},
                                                         {now->monitor, now->monitor_start()}};
    for (const auto& [pid, start] : ends)
        while (!records::await_exit(pid, start, 0.5))
            if (gone()) throw ApiCtrClientGone();
    auto end = states.find(s.id);
    if (!end) // removed at its end (--rm): its die event in the journal has the status
        if (auto code = api_ctr_died_with(s.id)) return {{"StatusCode", *code}, {"Error", nullptr}};
    if (!end)
        return {{"StatusCode", -1},
                {"Error",
                 {{"Message", "container " + s.name +
                                  " was removed when it ended (a --rm container, or `gantry "
                                  "rm`): its exit status was not kept"}}}};
    return {{"StatusCode", end->exit_code}, {"Error", nullptr}};
}

class ApiCtrWait : public Stream {
  public:
    ApiCtrWait(records::ContainerState s, std::string cond)
        : s_(std::move(s)), cond_(std::move(cond)) {}
    std::size_t read(char* buf, std::size_t max, const std::function<bool()>& gone) override {
        if (!done_) {
            out_ = api_ctr_wait_result(s_, cond_, gone).dump() + "\n";
            done_ = true;
        }
        std::size_t n = std::min(max, out_.size() - at_);
        std::memcpy(buf, out_.data() + at_, n);
        at_ += n;
        return n;
    }

  private:
    records::ContainerState s_;
    std::string cond_, out_;
    std::size_t at_ = 0;
    bool done_ = false;
};

std::vector<std::string> api_ctr_words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

} // namespace

Response handle_containers(const ServiceContext& ctx, const Request& r) {
    records::StateDir states;
    if (r.route.id == RouteId::containers_prune) {
        docker_model::PruneFilter filter(filter_words(r.arg("filters")),
                                         static_cast<std::int64_t>(std::time(nullptr)));
        auto pruned = engine::prune_containers(
            states, [&](const records::ContainerState& s) { return filter.matches(s); });
        return json_response(
            200, json{{"ContainersDeleted", pruned.ids}, {"SpaceReclaimed", pruned.bytes}});
    }
    if (r.route.id == RouteId::containers_list) {
        // the state cache's snapshots, not copies (copying and freeing 100 states was a
        // quarter of the service's time for `docker ps`)
        auto all = states.snapshots();
        std::optional<docker_model::ContainerFilter> filter;
        auto words = filter_words(r.arg("filters"));
        if (!words.empty())
            filter.emplace(words, all, [&ctx](const std::string& ref) {
                try {
                    return std::optional<std::string>(
                        store::find_image(*ctx.store, ref).manifest_digest.str());
                } catch (const Error& e) {
                    if (e.code() == Errc::not_found || e.code() == Errc::invalid)
                        return std::optional<std::string>();
                    throw;
                }
            });
        bool show_stopped = query_bool(r.arg("all")) || (filter && filter->wants_stopped());
        std::sort(all.begin(), all.end(),
                  [](const auto& a, const auto& b) { return a->created > b->created; });
        // limit: the N most recently created, stopped ones too; 0 or less (docker-py sends -1):
        // no limit
        long long limit = 0;
        if (const auto& l = r.arg("limit"); !l.empty() && l.front() == '-')
            (void)query_int("limit", l.substr(1)); // a number all the same
        else if (!l.empty())
            limit = query_int("limit", l);
        json out = json::array();
        for (auto& s : all) {
            bool up = s->running();
            if (!up && !show_stopped && limit == 0) continue;
            if (filter && !filter->matches(*s, up)) continue;
            if (limit > 0 && static_cast<long long>(out.size()) >= limit) break;
            out.push_back(api_ctr_row(*s, up));
        }
        return json_response(200, out);
    }
    const std::string& name = r.route.params.at("id");
    auto found = states.find(name);
    if (!found) return error_response(404, "No such container: " + name);
    const auto& s = *found;
    switch (r.route.id) {
    case RouteId::container_inspect:
        return json_response(200, docker_model::inspect_container(s, s.running()));
    case RouteId::container_logs:
        return api_ctr_logs(r, s, states);
    case RouteId::container_stop: {
        std::optional<double> t;
        if (!r.arg("t").empty()) t = static_cast<double>(query_int("t", r.arg("t")));
        // a restarting one: its restart called off (docker's), else a stopped one is left
        if (!s.running() && s.status != "restarting")
            return Response{304, "text/plain", "", nullptr, {}};
        records::stop(s, t);
        records::EventJournal().append(records::container_event(s, "stop"));
        return Response{204, "text/plain", "", nullptr, {}};
    }
    case RouteId::container_kill: {
        int sig =
            r.arg("signal").empty() ? SIGKILL : engine::signal_number(r.arg("signal"), "signal");
        if (!s.running())
            return error_response(409, "Cannot kill container: " + name + ": Container " + s.id +
                                           " is not running");
        records::kill_container(s, sig);
        return Response{204, "text/plain", "", nullptr, {}};
    }
    case RouteId::container_pause:
        records::pause_container(s);
        return Response{204, "text/plain", "", nullptr, {}};
    case RouteId::container_unpause:
        records::unpause_container(s);
        return Response{204, "text/plain", "", nullptr, {}};
    case RouteId::container_wait: {
        const std::string& cond = r.arg("condition");
        if (!cond.empty() && cond != "not-running" && cond != "next-exit" && cond != "removed")
            throw ApiError(501, "wait condition \"" + cond +
                                    "\" is not served: gantry waits for not-running, "
                                    "next-exit or removed");
        // docker's headers go out at once (its CLI's ContainerWait returns on them, before
        // it starts the container it waits for); the status follows when there is one
        Response res;
        res.stream = std::make_unique<ApiCtrWait>(s, cond);
        return res;
    }
    case RouteId::container_delete: {
        if (query_bool(r.arg("link")))
            throw ApiError(501, "gantry's containers have no links: remove the container "
                                "without link=1");
        if (s.running() && !query_bool(r.arg("force")))
            return error_response(409, "You cannot remove a running container " + s.id +
                                           ". Stop the container before attempting removal or "
                                           "force remove");
        engine::remove_whole_container(states, s, query_bool(r.arg("v")));
        return Response{204, "text/plain", "", nullptr, {}};
    }
    case RouteId::container_top: {
        auto now = states.find_started(s.id); // one being started is waited for (state.hpp)
        return json_response(200, api_ctr_top_json(docker_model::container_top(
                                      now ? *now : s, api_ctr_words(r.arg("ps_args")))));
    }
    default:
        return error_response(500, "internal error: no handler for " + r.route.endpoint);
    }
}

} // namespace gantry::engine_api
