// The Engine API's container lifecycle: create, start, restart, rename, resize and attach. What
// forks (create's scratch, a start's monitor and workload) runs in a helper process, gantry's own
// command calling engine/lifecycle.hpp (engine_api/spawn.hpp); a container attached before its
// start (docker run) is started in the foreground by such a helper with the client's streams
// (engine_api/sessions.hpp).
#include "container_log/output.hpp"
#include "engine/lifecycle.hpp"
#include "engine/request_json.hpp"
#include "engine_api/api.hpp"
#include "engine_api/create_body.hpp"
#include "engine_api/sessions.hpp"
#include "engine_api/spawn.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <map>
#include <mutex>
#include <optional>

namespace gantry::engine_api {

namespace {

Response api_lc_empty(int status) {
    return Response{status, "text/plain", "", nullptr, {}, nullptr};
}

// an attach before the start: with logs=1 (LOGS, of RECORD), what the container recorded in an
// earlier run first
class ApiLcAttach : public Hijack {
  public:
    explicit ApiLcAttach(std::shared_ptr<Session> s, std::optional<records::ContainerState> logs,
                         unsigned streams)
        : s_(std::move(s)), logs_(std::move(logs)), streams_(streams) {}
    ~ApiLcAttach() override {
        if (ran_) return;
        std::lock_guard<std::mutex> lock(s_->m); // refused before the upgrade: never started
        s_->abandoned = true;
        s_->cv.notify_all();
    }
    void run(int sock, std::string early) override {
        ran_ = true;
        // a container that never ran has recorded nothing: on to its start
        if (logs_ && container_log::OutputReader::open(logs_->container_dir) &&
            !attach_running(*logs_, streams_, sock, true, false, false)) {
            std::lock_guard<std::mutex> lock(s_->m); // the client hung up meanwhile
            s_->abandoned = true;
            s_->cv.notify_all();
            return;
        }
        pump_session(*s_, sock, std::move(early));
    }

  private:
    std::shared_ptr<Session> s_;
    std::optional<records::ContainerState> logs_;
    unsigned streams_;
    bool ran_ = false;
};

// an attach to a detached container's output file (attach_running): with LOGS what it
// recorded, else from now on; with FOLLOW what it writes while it runs
class ApiLcAttachRunning : public Hijack {
  public:
    ApiLcAttachRunning(records::ContainerState s, unsigned streams, bool logs, bool follow,
                       std::optional<AttachedStdin> in = std::nullopt)
        : s_(std::move(s)), streams_(streams), logs_(logs), follow_(follow), in_(std::move(in)) {}
    void run(int sock, std::string early) override {
        attach_running(s_, streams_, sock, logs_, follow_, true, in_ ? &*in_ : nullptr, early);
    }

  private:
    records::ContainerState s_;
    unsigned streams_;
    bool logs_, follow_;
    std::optional<AttachedStdin> in_;
};

// The detach keys a request names (?detachKeys=, docker's default when none): 400 naming them
// when they are not keys
DetachKeys api_lc_detach_keys(const Request& r) {
    try {
        return DetachKeys::parse(r.arg("detachKeys"));
    } catch (const Error& e) {
        throw ApiError(400, e.message());
    }
}

// the terminal sizes create bodies gave (HostConfig.ConsoleSize), by container ID, for the
// attached start
struct ApiLcConsoles {
    std::mutex m;
    std::map<std::string, ConsoleSize> by_id;
};

ApiLcConsoles& api_lc_consoles() {
    static ApiLcConsoles c; // function-local: no start-up constructor
    return c;
}

Response api_lc_create(const ServiceContext& ctx, const Request& r) {
    ConsoleSize console;
    auto req = create_request(parse_body(r.body), r.arg("name"), r.arg("platform"), &console);
    if (req.image_stores.empty()) req.image_stores = ctx.image_stores;
    req.gpu_roots = ctx.gpu_roots; // the body names no host: the service's flags do
    req.cdi_dirs.insert(req.cdi_dirs.end(), ctx.cdi_dirs.begin(), ctx.cdi_dirs.end());
    auto res = run_helper(ctx.store_root, {"system", "service-create"},
                          engine::request_to_json(req).dump());
    if (res.status != 0) throw_helper_failure(res, "create");
    std::string id = res.out;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    if (console.rows && console.cols && req.tty) {
        auto& c = api_lc_consoles();
        std::lock_guard<std::mutex> lock(c.m);
        if (c.by_id.size() >= 256) c.by_id.clear(); // a hint: bounded, never needed for long
        c.by_id[id] = console;
    }
    return json_response(201, {{"Id", id}, {"Warnings", json::array()}});
}

Response api_lc_attach(const Request& r, const records::ContainerState& s) {
    const bool logs = query_bool(r.arg("logs")), stream = query_bool(r.arg("stream"));
    auto keys = api_lc_detach_keys(r);
    if (logs && s.log_driver == "none") // docker's daemon's words, and its 501
        throw ApiError(501, "configured logging driver does not support reading");
    const unsigned streams = (query_bool(r.arg("stdout")) ? container_log::kStdout : 0) |
                             (query_bool(r.arg("stderr")) ? container_log::kStderr : 0);
    auto hijack = [&s](std::unique_ptr<Hijack> h) {
        Response res;
        res.status = 101;
        res.content_type = s.spec.terminal ? "application/vnd.docker.raw-stream"
                                           : "application/vnd.docker.multiplexed-stream";
        res.hijack = std::move(h);
        return res;
    };
    if (!stream) { // what it recorded (logs=1), or nothing, and the end
        return hijack(std::make_unique<ApiLcAttachRunning>(s, streams, logs, false));
    }
    if (s.running()) {
        auto held = find_attached(s.id);
        bool held_running = false;
        if (held) {
            std::lock_guard<std::mutex> lock(held->m);
            held_running = held->started && !held->done;
        }
        if (held_running)
            throw ApiError(409, "container " + s.name +
                                    " runs with an attached client: gantry attaches one client "
                                    "at a time");
        if (!s.detached)
            throw ApiError(501, "container " + s.name +
                                    " runs in the foreground of the terminal that started it: "
                                    "gantry keeps no copy of its output to attach to");
        // stdin=1: written to the stdin its monitor holds (-i); a container without one takes
        // none (docker's daemon attaches stdin only where OpenStdin is set)
        std::optional<AttachedStdin> in;
        if (query_bool(r.arg("stdin")) && s.stdin_fd > 0) {
            Fd fd;
            try {
                fd = s.stdin_writer();
            } catch (const Error& e) {
                throw ApiError(500, e.message());
            }
            if (fd)
                in = AttachedStdin{std::move(fd),
                                   s.spec.terminal ? std::optional(keys) : std::nullopt};
        }
        return hijack(std::make_unique<ApiLcAttachRunning>(s, streams, logs, true, std::move(in)));
    }
    if (!s.startable)
        throw ApiError(409, "container " + s.name +
                                " cannot be started again (its run request was not kept), so "
                                "there is nothing to attach to");
    auto sess = std::make_shared<Session>();
    sess->tty = s.spec.terminal;
    sess->want_in = query_bool(r.arg("stdin"));
    if (sess->want_in && sess->tty) sess->detach = keys;
    sess->want_out = query_bool(r.arg("stdout"));
    sess->want_err = query_bool(r.arg("stderr"));
    {
        auto& c = api_lc_consoles();
        std::lock_guard<std::mutex> lock(c.m);
        if (auto it = c.by_id.find(s.id); it != c.by_id.end()) {
            sess->rows = it->second.rows;
            sess->cols = it->second.cols;
        }
    }
    if (!register_attached(s.id, sess))
        throw ApiError(409, "container " + s.name +
                                " already has an attached client waiting for its start or "
                                "running: gantry attaches one client at a time");
    std::optional<records::ContainerState> recorded;
    if (logs && s.detached) recorded = s;
    return hijack(std::make_unique<ApiLcAttach>(sess, std::move(recorded), streams));
}

Response api_lc_start(const ServiceContext& ctx, const Request& r,
                      const records::ContainerState& s) {
    auto keys = api_lc_detach_keys(r);
    if (s.running()) return api_lc_empty(304);
    if (auto sess = find_attached(s.id)) {
        bool waiting = false;
        {
            std::lock_guard<std::mutex> lock(sess->m);
            waiting = !sess->started && !sess->abandoned;
        }
        if (waiting && !s.restart_policy.empty() && s.restart_policy != "no")
            throw ApiError(400, "container " + s.name + " has the restart policy " +
                                    s.restart_policy +
                                    ": gantry restarts a detached container (its monitor "
                                    "does, there is no daemon), not one attached to a client: "
                                    "run it detached (docker run -d) and follow it with "
                                    "docker logs -f");
        if (waiting) {
            // in the foreground of a helper: its streams are the attached client's
            std::vector<std::string> args = {"start", "-a"};
            if (sess->want_in) args.push_back("-i");
            if (sess->want_in && sess->tty && !r.arg("detachKeys").empty()) {
                std::lock_guard<std::mutex> lock(sess->m); // the start's keys over the attach's
                sess->detach = keys;
            }
            args.push_back(s.id);
            start_session(*sess, ctx.store_root, args);
            return api_lc_empty(204);
        }
    }
    auto res = run_helper(ctx.store_root, {"start", s.id});
    if (res.status != 0) throw_helper_failure(res, "start");
    return api_lc_empty(204);
}

} // namespace

// POST /commit (docker's query: container, repo, tag, comment, author, changes, pause; the body
// Config fields over the container's): `gantry __commit` in a helper, the request on its stdin
Response api_lc_commit(const ServiceContext& ctx, const Request& r) {
    const std::string& name = r.arg("container");
    if (name.empty()) throw ApiError(400, "commit needs the container: ?container=NAME");
    auto found = records::StateDir().find(name);
    if (!found) return error_response(404, "No such container: " + name);
    std::string ref = r.arg("repo");
    if (ref.empty() && !r.arg("tag").empty())
        throw ApiError(400, "commit was given a tag without a repository (repo)");
    if (!r.arg("tag").empty()) ref += ":" + r.arg("tag");
    json changes = json::array();
    auto [first, last] = r.query_all.equal_range("changes");
    for (auto it = first; it != last; ++it) // docker's daemon splits each value at new lines
        for (auto& line : text::split(it->second, '\n'))
            if (!line.empty()) changes.push_back(std::string(line));
    json body = parse_body(r.body);
    json request = {{"container", found->id},
                    {"ref", ref},
                    {"changes", changes},
                    {"config", body.is_null() ? json::object() : body},
                    {"message", r.arg("comment")},
                    {"author", r.arg("author")},
                    {"pause", r.arg("pause").empty() || query_bool(r.arg("pause"))}};
    auto res = run_helper(ctx.store_root, {"__commit"}, request.dump());
    if (res.status != 0) throw_helper_failure(res, "commit");
    std::string id = res.out;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return json_response(201, {{"Id", id}});
}

Response handle_lifecycle(const ServiceContext& ctx, const Request& r) {
    if (r.route.id == RouteId::container_create) return api_lc_create(ctx, r);
    if (r.route.id == RouteId::commit) return api_lc_commit(ctx, r);
    records::StateDir states;
    const std::string& name = r.route.params.at("id");
    auto found = states.find(name);
    if (!found) return error_response(404, "No such container: " + name);
    const auto& s = *found;
    switch (r.route.id) {
    case RouteId::container_start:
        return api_lc_start(ctx, r, s);
    case RouteId::container_changes: { // gantry diff, in a helper (it reads the image)
        auto res = run_helper(ctx.store_root, {"diff", "--json", s.id});
        if (res.status != 0) throw_helper_failure(res, "changes");
        return json_response(200, nlohmann::json::parse(res.out));
    }
    case RouteId::container_restart: {
        std::vector<std::string> args = {"restart"};
        if (!r.arg("t").empty())
            args.insert(args.end(), {"-t", std::to_string(query_int("t", r.arg("t")))});
        args.push_back(s.id);
        auto res = run_helper(ctx.store_root, args);
        if (res.status != 0) throw_helper_failure(res, "restart");
        return api_lc_empty(204);
    }
    case RouteId::container_rename: {
        const std::string& to = r.arg("name");
        if (to.empty()) throw ApiError(400, "rename needs the new name: ?name=NEW");
        engine::rename(s.id, to);
        return api_lc_empty(204);
    }
    case RouteId::container_resize: {
        unsigned h = query_winsize("h", r.arg("h"));
        unsigned w = query_winsize("w", r.arg("w"));
        if (auto sess = find_attached(s.id); sess && resize_session(*sess, h, w))
            return api_lc_empty(200);
        if (!s.running()) return error_response(409, "Container " + s.id + " is not running");
        if (s.spec.terminal)
            throw ApiError(501, "container " + s.name +
                                    " was not started by this service with an attached "
                                    "terminal: gantry cannot resize its terminal");
        return api_lc_empty(200); // no terminal: nothing to resize (docker's)
    }
    case RouteId::container_attach:
        return api_lc_attach(r, s);
    default:
        return error_response(500, "internal error: no handler for " + r.route.endpoint);
    }
}

} // namespace gantry::engine_api
