// GET /containers/{id}/stats: docker's StatsJSON of a container (docker_model/stats.hpp reads
// its usage). One sample (stream=false: precpu_stats is a read 100 ms before, with its time in
// preread; one-shot=true: none) or one a second (stream=true) until the container ends or the
// client hangs up.
#include "docker_model/stats.hpp"
#include "engine_api/api.hpp"
#include "records/state.hpp"

#include <chrono>
#include <cstring>
#include <thread>

namespace gantry::engine_api {

namespace {

// stream=true: a sample a second, each a JSON line, until the container ends or the client
// hangs up
class ApiStStream : public Stream {
  public:
    explicit ApiStStream(records::ContainerState s) : s_(std::move(s)) {}
    std::size_t read(char* buf, std::size_t max, const std::function<bool()>& gone) override {
        while (pos_ >= line_.size()) {
            if (!first_) {
                for (int i = 0; i < 10; ++i) {
                    if (gone()) return 0;
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                }
            }
            if (!first_ && !s_.running()) return 0;
            first_ = false;
            docker_model::StatsSample now = docker_model::sample_stats(s_);
            line_ = docker_model::stats_json(s_, now, pre_).dump() + "\n";
            pos_ = 0;
            pre_ = now;
        }
        std::size_t n = std::min(max, line_.size() - pos_);
        std::memcpy(buf, line_.data() + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    records::ContainerState s_;
    docker_model::StatsSample pre_;
    std::string line_;
    std::size_t pos_ = 0;
    bool first_ = true;
};

} // namespace

Response handle_stats(const ServiceContext&, const Request& r) {
    records::StateDir states;
    const std::string& name = r.route.params.at("id");
    auto found = states.find(name);
    if (!found) return error_response(404, "No such container: " + name);
    const auto& s = *found;
    bool stream = r.arg("stream").empty() || query_bool(r.arg("stream"));
    if (stream) {
        Response res;
        res.stream = std::make_unique<ApiStStream>(s);
        return res;
    }
    docker_model::StatsSample pre;
    if (!query_bool(r.arg("one-shot")) && s.running()) {
        pre = docker_model::sample_stats(s);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return json_response(200, docker_model::stats_json(s, docker_model::sample_stats(s), pre));
}

} // namespace gantry::engine_api
