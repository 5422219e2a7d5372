// The Engine API's system endpoints: _ping, version, info, events (streamed); volumes are
// handlers_volumes.cpp's, networks handlers_networks.cpp's.
#include "docker_model/events.hpp"
#include "docker_model/system.hpp"
#include "engine_api/api.hpp"
#include "image_list/image_list.hpp"
#include "records/events.hpp"
#include "records/state.hpp"
#include "util/hash.hpp"

#include <algorithm>
#include <deque>

namespace gantry::engine_api {

namespace {

// docker's events stream from the journal (records/events.hpp), one JSON message a line, as
// docker_model::stream_events reads it but pulled by the client: a wait is at most 250 ms, so
// a client that hung up is noticed.
class ApiSysEvents : public Stream {
  public:
    ApiSysEvents(std::vector<std::string> words, std::int64_t since,
                 std::optional<std::int64_t> until)
        : filter_(words), reader_(records::runtime_dir()), since_(since), until_(until) {}

    std::size_t read(char* buf, std::size_t max, const std::function<bool()>& gone) override {
        while (pending_.empty()) {
            for (const auto& m : reader_.next()) {
                std::int64_t t = m.value("timeNano", std::int64_t(0));
                if (t >= since_ && (!until_ || t <= *until_) && filter_.matches(m))
                    pending_ += m.dump() + "\n";
            }
            if (!pending_.empty()) break;
            if (until_ && records::realtime_nanos() > *until_) return 0;
            if (gone()) return 0;
            reader_.wait(250);
        }
        std::size_t n = std::min(max, pending_.size());
        std::copy_n(pending_.data(), n, buf);
        pending_.erase(0, n);
        return n;
    }

  private:
    docker_model::EventFilter filter_;
    records::EventReader reader_;
    std::int64_t since_;
    std::optional<std::int64_t> until_;
    std::string pending_;
};

// Where a stream without since begins. docker's is now; gantry's is when the client's process
// started, where that was at most kFreshClient ago: the Dev Containers CLI starts `docker events`
// and `docker run` at once and waits for the run's start event, which a `docker events` whose
// request came in after it (a busy machine) would never see. A client that has run longer (a
// script holding a connection) is followed from now, as docker does.
std::int64_t api_sys_follow_from(pid_t client) {
    constexpr std::int64_t kFreshClient = 10'000'000'000; // 10 s
    std::int64_t now = records::realtime_nanos();
    if (client <= 0) return now;
    std::int64_t started = records::process_started_nanos(client);
    return now - started <= kFreshClient ? started : now;
}

} // namespace

Response handle_system(const ServiceContext& ctx, const Request& r) {
    switch (r.route.id) {
    case RouteId::ping: {
        Response res;
        res.content_type = "text/plain; charset=utf-8";
        res.body = r.method == "HEAD" ? "" : "OK";
        res.headers["Cache-Control"] = "no-cache, no-store, must-revalidate";
        res.headers["Pragma"] = "no-cache";
        return res;
    }
    case RouteId::version: {
        json v = docker_model::version_json(ctx.version)["Server"];
        v["ApiVersion"] = kApiVersion;
        v["MinAPIVersion"] = kMinApiVersion;
        for (auto& c : v["Components"]) c["Details"]["ApiVersion"] = kApiVersion;
        return json_response(200, v);
    }
    case RouteId::info: {
        docker_model::EngineFacts f;
        f.version = ctx.version;
        f.store_root = ctx.store_root;
        for (auto& s : records::StateDir().snapshots()) {
            ++f.containers;
            ++(s->running() ? f.running : f.stopped);
        }
        f.images = image_list::count_images(*ctx.store, ctx.image_stores);
        return json_response(200, docker_model::info_json(f));
    }
    case RouteId::events: {
        std::int64_t since = r.arg("since").empty() ? api_sys_follow_from(r.client_pid)
                                                    : query_time_nanos("since", r.arg("since"));
        std::optional<std::int64_t> until;
        if (!r.arg("until").empty()) until = query_time_nanos("until", r.arg("until"));
        Response res;
        res.stream = std::make_unique<ApiSysEvents>(filter_words(r.arg("filters")), since, until);
        return res;
    }
    default:
        return error_response(500, "internal error: no handler for " + r.route.endpoint);
    }
}

} // namespace gantry::engine_api
