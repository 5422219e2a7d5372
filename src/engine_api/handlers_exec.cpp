// The Engine API's exec endpoints: create (kept in the service's memory, as docker's daemon keeps
// its exec instances), start (gantry's own `exec` in a helper process, the client's streams on
// the hijacked connection: engine_api/sessions.hpp), inspect and resize.
#include "engine_api/api.hpp"
#include "engine_api/create_body.hpp"
#include "engine_api/sessions.hpp"
#include "engine_api/spawn.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/random.hpp"

#include <thread>

namespace gantry::engine_api {

namespace {

struct ApiExec {
    std::string id, container; // the container's ID
    std::vector<std::string> command, env;
    std::string user, workdir;
    std::string detach_keys; // as given ("": docker's default, ctrl-p,ctrl-q)
    bool tty = false, in = false, out = false, err = false;
    unsigned rows = 0, cols = 0;
    std::shared_ptr<Session> session; // set by its start
};

struct ApiExecTable {
    std::mutex m;
    std::map<std::string, std::shared_ptr<ApiExec>> by_id;
};

ApiExecTable& api_exec_table() {
    static ApiExecTable t; // function-local: no start-up constructor
    return t;
}

std::shared_ptr<ApiExec> api_exec_find(const std::string& id) {
    auto& t = api_exec_table();
    std::lock_guard<std::mutex> lock(t.m);
    auto it = t.by_id.find(id);
    if (it == t.by_id.end()) throw ApiError(404, "No such exec instance: " + id);
    return it->second;
}

bool api_exec_bool(const json& body, const char* key) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return false;
    if (!it->is_boolean()) throw ApiError(400, std::string("invalid JSON for ") + key);
    return it->get<bool>();
}

std::vector<std::string> api_exec_strings(const json& body, const char* key) {
    std::vector<std::string> out;
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return out;
    if (it->is_string()) return {it->get<std::string>()};
    if (!it->is_array()) throw ApiError(400, std::string("invalid JSON for ") + key);
    for (const auto& e : *it) {
        if (!e.is_string()) throw ApiError(400, std::string("invalid JSON for ") + key);
        out.push_back(e.get<std::string>());
    }
    return out;
}

std::string api_exec_string(const json& body, const char* key) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return "";
    if (!it->is_string()) throw ApiError(400, std::string("invalid JSON for ") + key);
    return it->get<std::string>();
}

Response api_exec_create(const Request& r) {
    records::StateDir states;
    const std::string& name = r.route.params.at("id");
    auto s = states.find_started(name);
    if (!s) return error_response(404, "No such container: " + name);
    if (!s->running()) return error_response(409, "Container " + s->id + " is not running");
    if (s->paused()) // docker's words
        return error_response(409, "Container " + s->id +
                                       " is paused, unpause the container before exec");
    json body = parse_body(r.body);
    if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
    auto e = std::make_shared<ApiExec>();
    e->id = random::hex_id(64);
    e->container = s->id;
    for (const auto& [key, v] : body.items()) {
        if (key == "Cmd")
            e->command = api_exec_strings(body, "Cmd");
        else if (key == "Env")
            e->env = api_exec_strings(body, "Env");
        else if (key == "User")
            e->user = api_exec_string(body, "User");
        else if (key == "WorkingDir")
            e->workdir = api_exec_string(body, "WorkingDir");
        else if (key == "Tty")
            e->tty = api_exec_bool(body, "Tty");
        else if (key == "AttachStdin")
            e->in = api_exec_bool(body, "AttachStdin");
        else if (key == "AttachStdout")
            e->out = api_exec_bool(body, "AttachStdout");
        else if (key == "AttachStderr")
            e->err = api_exec_bool(body, "AttachStderr");
        else if (key == "ConsoleSize" && !v.is_null()) {
            // a winsize's fields: unsigned shorts, never cut down to fit
            if (!v.is_array() || v.size() != 2 || !v[0].is_number_unsigned() ||
                !v[1].is_number_unsigned() || v[0].get<std::uint64_t>() > 65535 ||
                v[1].get<std::uint64_t>() > 65535)
                throw ApiError(400, "invalid JSON for ConsoleSize: expected [rows, columns], "
                                    "each an integer from 0 to 65535");
            e->rows = v[0].get<unsigned>();
            e->cols = v[1].get<unsigned>();
        } else if (key == "Container") {
            // docker-py repeats the container the path names
        } else if (key == "Privileged" && v.is_boolean() && v.get<bool>())
            throw ApiError(400, "gantry does not honour Privileged (true) for an exec: its "
                                "processes run with the container's own capabilities");
        else if (key == "DetachKeys" || key == "detachKeys") { // Go's decoder: either case
            e->detach_keys = api_exec_string(body, key.c_str());
            try {
                (void)DetachKeys::parse(e->detach_keys);
            } catch (const Error& err) {
                throw ApiError(400, err.message());
            }
        } else if (!is_zero_value(v))
            throw ApiError(400, "gantry does not honour " + key + " (" + v.dump() +
                                    ") for an exec (docs/engine-api.md)");
    }
    if (e->command.empty()) throw ApiError(400, "No exec command specified");
    for (auto& v : e->env)
        if (v.find('=') == std::string::npos || v.front() == '=')
            throw ApiError(400, "invalid environment variable \"" + v +
                                    "\" in Env: give "
                                    "KEY=VALUE");
    auto& t = api_exec_table();
    {
        std::lock_guard<std::mutex> lock(t.m);
        // bounded: past 256, the instances that ended are forgotten (docker forgets them with
        // their container; a client inspects one right after its end)
        if (t.by_id.size() >= 256)
            std::erase_if(t.by_id, [](const auto& kv) {
                if (!kv.second->session) return false;
                std::lock_guard<std::mutex> held(kv.second->session->m);
                return kv.second->session->done;
            });
        t.by_id[e->id] = e;
    }
    return json_response(201, {{"Id", e->id}});
}

std::vector<std::string> api_exec_args(const ApiExec& e) {
    std::vector<std::string> a = {"exec"};
    if (e.tty) a.push_back("-t");
    if (e.in) a.push_back("-i");
    // the keys the service matches first (a broken sequence it passes on breaks there too)
    if (e.tty)
        a.push_back("--detach-keys=" + (e.detach_keys.empty()
                                            ? std::string(runtime::kDefaultDetachKeys)
                                            : e.detach_keys));
    for (auto& v : e.env) a.insert(a.end(), {"-e", v});
    if (!e.user.empty()) a.insert(a.end(), {"-u", e.user});
    if (!e.workdir.empty()) a.insert(a.end(), {"-w", e.workdir});
    a.push_back(e.container);
    a.insert(a.end(), e.command.begin(), e.command.end());
    return a;
}

class ApiExecHijack : public Hijack {
  public:
    ApiExecHijack(std::shared_ptr<ApiExec> e, std::string root)
        : e_(std::move(e)), root_(std::move(root)) {}
    ~ApiExecHijack() override {
        if (ran_) return;
        std::lock_guard<std::mutex> lock(e_->session->m); // refused before the upgrade
        e_->session->abandoned = true;
    }
    void run(int sock, std::string early) override {
        ran_ = true;
        start_session(*e_->session, root_, api_exec_args(*e_));
        pump_session(*e_->session, sock, std::move(early));
    }

  private:
    std::shared_ptr<ApiExec> e_;
    std::string root_;
    bool ran_ = false;
};

Response api_exec_start(const ServiceContext& ctx, const Request& r) {
    auto e = api_exec_find(r.route.params.at("id"));
    json body = parse_body(r.body);
    if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
    bool detach = api_exec_bool(body, "Detach");
    auto sess = std::make_shared<Session>();
    sess->tty = e->tty;
    // docker's daemon frames the output unless the start says Tty (docker-py's exec_start
    // without tty=True reads frames of an exec created with a terminal)
    sess->framed = e->tty && !api_exec_bool(body, "Tty");
    sess->want_in = e->in && !detach;
    if (sess->want_in && e->tty) sess->detach = DetachKeys::parse(e->detach_keys);
    sess->want_out = e->out && !detach;
    sess->want_err = e->err && !detach;
    sess->rows = e->rows;
    sess->cols = e->cols;
    {
        auto& t = api_exec_table();
        std::lock_guard<std::mutex> lock(t.m);
        if (e->session) throw ApiError(409, "exec instance " + e->id + " was already started");
        e->session = sess;
    }
    if (detach) {
        sess->tty = false; // nobody reads it
        start_session(*sess, ctx.store_root, api_exec_args(*e));
        std::thread([sess] { pump_session(*sess, -1, ""); }).detach(); // reaps it
        return json_response(200, json::object());
    }
    Response res;
    res.status = 101;
    res.content_type = e->tty && !sess->framed ? "application/vnd.docker.raw-stream"
                                               : "application/vnd.docker.multiplexed-stream";
    res.hijack = std::make_unique<ApiExecHijack>(e, ctx.store_root);
    return res;
}

json api_exec_inspect(const ApiExec& e) {
    bool running = false;
    json code = nullptr;
    pid_t pid = 0;
    if (e.session) {
        std::lock_guard<std::mutex> lock(e.session->m);
        running = e.session->started && !e.session->done;
        if (e.session->done) code = e.session->status;
        if (running) pid = e.session->pid;
    }
    json args = json::array();
    for (std::size_t i = 1; i < e.command.size(); ++i) args.push_back(e.command[i]);
    return {{"ID", e.id},
            {"Running", running},
            {"ExitCode", code},
            {"ProcessConfig",
             {{"tty", e.tty},
              {"entrypoint", e.command.at(0)},
              {"arguments", args},
              {"privileged", false},
              {"user", e.user}}},
            {"OpenStdin", e.in},
            {"OpenStderr", e.err},
            {"OpenStdout", e.out},
            {"CanRemove", false},
            {"ContainerID", e.container},
            {"DetachKeys", e.detach_keys},
            {"Pid", pid}};
}

} // namespace

Response handle_exec(const ServiceContext& ctx, const Request& r) {
    switch (r.route.id) {
    case RouteId::exec_create:
        return api_exec_create(r);
    case RouteId::exec_start:
        return api_exec_start(ctx, r);
    case RouteId::exec_inspect: {
        auto e = api_exec_find(r.route.params.at("id"));
        std::lock_guard<std::mutex> lock(api_exec_table().m); // e->session is set under it
        return json_response(200, api_exec_inspect(*e));
    }
    case RouteId::exec_resize: {
        auto e = api_exec_find(r.route.params.at("id"));
        unsigned h = query_winsize("h", r.arg("h"));
        unsigned w = query_winsize("w", r.arg("w"));
        std::shared_ptr<Session> sess;
        {
            std::lock_guard<std::mutex> lock(api_exec_table().m);
            sess = e->session;
            if (!sess) {
                e->rows = h;
                e->cols = w;
            }
        }
        if (sess && !resize_session(*sess, h, w))
            return error_response(409, "exec instance " + e->id + " is not running");
        return Response{200, "text/plain", "", nullptr, {}, nullptr};
    }
    default:
        return error_response(500, "internal error: no handler for " + r.route.endpoint);
    }
}

} // namespace gantry::engine_api
