#include "cdi/spec.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/yaml.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>

namespace gantry::cdi {

namespace {

// ---------------------------------------------------------------------------------------------
// A format-neutral document tree. YAML plain scalars keep their text so that a string field reads
// `name: 0` as "0" (as sigs.k8s.io/yaml does for string targets), while numbers stay numbers.

struct Raw {
    enum class Kind { null, str, integer, floating, boolean, seq, map } kind = Kind::null;
    std::string text;   // scalars, as written
    bool plain = false; // YAML plain scalar: readable as a string too
    bool overflow = false;
    std::int64_t ival = 0;
    bool bval = false;
    std::vector<Raw> items;     // seq elements, or map values (with key set)
    std::string key;            // when a map value: its key
    int line = 0, key_line = 0; // 1-based, 0 unknown (JSON)
};

bool is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
    return is_letter(c) || is_digit(c);
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// Resolves a YAML plain scalar as go-yaml v2 does for the types the schema uses.
void resolve_plain(Raw& r) {
    const std::string& t = r.text;
    static const std::array<const char*, 6> bools = {"true",  "True",  "TRUE",
                                                     "false", "False", "FALSE"};
    for (auto* b : bools)
        if (t == b) {
            r.kind = Raw::Kind::boolean;
            r.bval = t[0] == 't' || t[0] == 'T';
            return;
        }
    size_t i = (!t.empty() && (t[0] == '+' || t[0] == '-')) ? 1 : 0;
    std::string body = t.substr(i);
    bool neg = i == 1 && t[0] == '-';
    int base = 10;
    std::string digits = body;
    if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X'))
        base = 16, digits = body.substr(2);
    else if (body.size() > 2 && body[0] == '0' && (body[1] == 'o' || body[1] == 'O'))
        base = 8, digits = body.substr(2);
    else if (body.size() > 2 && body[0] == '0' && (body[1] == 'b' || body[1] == 'B'))
        base = 2, digits = body.substr(2);
    else if (body.size() > 1 && body[0] == '0')
        base = 8, digits = body.substr(1); // YAML 1.1: 0666 is octal
    auto valid_digit = [base](char c) {
        if (base == 16) return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        return c >= '0' && c < static_cast<char>('0' + base);
    };
    if (!digits.empty() && std::all_of(digits.begin(), digits.end(), valid_digit)) {
        errno = 0;
        unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
        r.kind = Raw::Kind::integer;
        unsigned long long limit = neg ? 1ull + static_cast<unsigned long long>(LLONG_MAX)
                                       : static_cast<unsigned long long>(LLONG_MAX);
        if (errno == ERANGE || v > limit)
            r.overflow = true;
        else
            r.ival = neg ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
        return;
    }
    if (!body.empty() && (is_digit(body[0]) || body[0] == '.')) {
        char* end = nullptr;
        std::strtod(t.c_str(), &end);
        if (end && *end == '\0') {
            r.kind = Raw::Kind::floating;
            return;
        }
    }
    r.kind = Raw::Kind::str;
}

Raw from_yaml(const yaml::Node& n) {
    Raw r;
    r.line = n.line;
    switch (n.kind) {
    case yaml::Node::Kind::null:
        break;
    case yaml::Node::Kind::scalar:
        r.text = n.value;
        // quoted (or tagged !!str / !): a string whatever it looks like; else typed by its text
        if ((!n.plain && n.tag.empty()) || n.tag == "!" || n.tag == "tag:yaml.org,2002:str") {
            r.kind = Raw::Kind::str;
        } else {
            r.plain = true;
            resolve_plain(r);
        }
        break;
    case yaml::Node::Kind::seq:
        r.kind = Raw::Kind::seq;
        for (const auto& item : n.items) r.items.push_back(from_yaml(item));
        break;
    case yaml::Node::Kind::map:
        r.kind = Raw::Kind::map;
        for (const auto& [k, val] : n.entries) {
            Raw v = from_yaml(val);
            v.key = k.is_scalar() ? k.value : std::string("?");
            v.key_line = k.line;
            r.items.push_back(std::move(v));
        }
        break;
    }
    return r;
}

// Builds a Raw tree from JSON through nlohmann's SAX interface, which (unlike json::parse)
// keeps duplicate keys for the reader to reject.
class JsonBuilder : public nlohmann::json_sax<nlohmann::json> {
  public:
    Raw root;
    std::string error;

    bool null() override { return add(Raw{}); }
    bool boolean(bool v) override {
        Raw r;
        r.kind = Raw::Kind::boolean;
        r.bval = v;
        r.text = v ? "true" : "false";
        return add(std::move(r));
    }
    bool number_integer(number_integer_t v) override {
        Raw r;
        r.kind = Raw::Kind::integer;
        r.ival = v;
        r.text = std::to_string(v);
        return add(std::move(r));
    }
    bool number_unsigned(number_unsigned_t v) override {
        Raw r;
        r.kind = Raw::Kind::integer;
        r.overflow = v > static_cast<number_unsigned_t>(LLONG_MAX);
        r.ival = r.overflow ? 0 : static_cast<std::int64_t>(v);
        r.text = std::to_string(v);
        return add(std::move(r));
    }
    bool number_float(number_float_t, const string_t& s) override {
        Raw r;
        r.kind = Raw::Kind::floating;
        r.text = s;
        return add(std::move(r));
    }
    bool string(string_t& s) override {
        Raw r;
        r.kind = Raw::Kind::str;
        r.text = s;
        return add(std::move(r));
    }
    bool binary(binary_t&) override { return add(Raw{}); }
    bool start_object(std::size_t) override { return open(Raw::Kind::map); }
    bool key(string_t& k) override {
        pending_key_ = k;
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(Raw::Kind::seq); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t pos, const std::string&,
                     const nlohmann::detail::exception& ex) override {
        std::string what = ex.what();
        // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
        if (auto p = what.find("parse error"); p != std::string::npos) what = what.substr(p);
        error = what.empty() ? "invalid JSON at byte " + std::to_string(pos) : what;
        return false;
    }

  private:
    std::vector<Raw*> stack_;
    std::string pending_key_;
    bool started_ = false;

    Raw* place(Raw r) {
        if (stack_.empty()) {
            root = std::move(r);
            started_ = true;
            return &root;
        }
        Raw& parent = *stack_.back();
        if (parent.kind == Raw::Kind::map) r.key = pending_key_;
        parent.items.push_back(std::move(r));
        return &parent.items.back();
    }
    bool add(Raw r) {
        place(std::move(r));
        return true;
    }
    bool open(Raw::Kind k) {
        Raw r;
        r.kind = k;
        stack_.push_back(place(std::move(r)));
        return true;
    }
    bool close() {
        stack_.pop_back();
        return true;
    }
};

// ---------------------------------------------------------------------------------------------
// The strict reader: every field known, every type right, every message a field path.

std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}
std::string index(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

const char* describe(const Raw& r) {
    switch (r.kind) {
    case Raw::Kind::null:
        return "null";
    case Raw::Kind::str:
        return "a string";
    case Raw::Kind::integer:
    case Raw::Kind::floating:
        return "a number";
    case Raw::Kind::boolean:
        return "a boolean";
    case Raw::Kind::seq:
        return "a list";
    case Raw::Kind::map:
        return "an object";
    }
    return "?";
}

class Reader {
  public:
    explicit Reader(std::string origin) : origin_(std::move(origin)) {}

    [[noreturn]] void fail(const std::string& path, const std::string& what, int line) const {
        std::string msg = origin_.empty() ? "" : origin_ + ": ";
        msg += (path.empty() ? std::string("spec") : path) + ": " + what;
        if (line > 0) msg += " (line " + std::to_string(line) + ")";
        throw Error(
            Errc::invalid, msg,
            "see the CDI specification (github.com/cncf-tags/container-device-interface, SPEC.md)");
    }

    // Calls f(canonical key, value, path) for each field of an object. Keys match exactly, else
    // case-insensitively (Go's encoding/json); unknown and repeated fields fail.
    template <class F>
    void fields(const Raw& r, const std::string& path, std::initializer_list<const char*> known,
                F&& f, bool null_ok = true) const {
        if (r.kind == Raw::Kind::null && null_ok) return;
        if (r.kind != Raw::Kind::map)
            fail(path, std::string("expected an object, found ") + describe(r), r.line);
        std::vector<const char*> seen;
        for (const Raw& v : r.items) {
            std::string fp = join(path, v.key);
            const char* canon = nullptr;
            for (auto* k : known)
                if (v.key == k) canon = k;
            if (!canon)
                for (auto* k : known)
                    if (iequals(v.key, k)) canon = k;
            if (!canon) fail(fp, "unknown field", v.key_line);
            if (std::find(seen.begin(), seen.end(), canon) != seen.end())
                fail(fp, "duplicate field", v.key_line);
            seen.push_back(canon);
            f(std::string_view(canon), v, fp);
        }
    }

    template <class F>
    void list(const Raw& r, const std::string& path, F&& f) const {
        if (r.kind == Raw::Kind::null) return;
        if (r.kind != Raw::Kind::seq)
            fail(path, std::string("expected a list, found ") + describe(r), r.line);
        for (size_t i = 0; i < r.items.size(); ++i) f(r.items[i], index(path, i));
    }

    std::string str(const Raw& r, const std::string& path) const {
        if (r.kind == Raw::Kind::null) return {};
        if (r.kind == Raw::Kind::str || r.plain) return r.text;
        fail(path, std::string("expected a string, found ") + describe(r), r.line);
    }
    std::vector<std::string> strs(const Raw& r, const std::string& path) const {
        std::vector<std::string> out;
        list(r, path, [&](const Raw& e, const std::string& p) {
            if (e.kind == Raw::Kind::null) fail(p, "expected a string, found null", e.line);
            out.push_back(str(e, p));
        });
        return out;
    }
    std::map<std::string, std::string> str_map(const Raw& r, const std::string& path) const {
        std::map<std::string, std::string> out;
        if (r.kind == Raw::Kind::null) return out;
        if (r.kind != Raw::Kind::map)
            fail(path, std::string("expected an object, found ") + describe(r), r.line);
        for (const Raw& v : r.items) {
            std::string fp = join(path, v.key);
            if (out.count(v.key)) fail(fp, "duplicate key", v.key_line);
            out[v.key] = str(v, fp);
        }
        return out;
    }
    std::int64_t i64(const Raw& r, const std::string& path) const {
        if (r.kind == Raw::Kind::null) return 0;
        if (r.kind != Raw::Kind::integer)
            fail(path, std::string("expected an integer, found ") + describe(r), r.line);
        if (r.overflow) fail(path, r.text + " is out of range", r.line);
        return r.ival;
    }
    std::int64_t ranged(const Raw& r, const std::string& path, std::int64_t lo, std::int64_t hi,
                        const char* type) const {
        std::int64_t v = i64(r, path);
        if (v < lo || v > hi)
            fail(path, std::to_string(v) + " is out of range for " + type, r.line);
        return v;
    }
    std::uint32_t u32(const Raw& r, const std::string& path) const {
        return static_cast<std::uint32_t>(ranged(r, path, 0, UINT32_MAX, "uint32"));
    }
    bool boolean(const Raw& r, const std::string& path) const {
        if (r.kind == Raw::Kind::null) return false;
        if (r.kind != Raw::Kind::boolean)
            fail(path, std::string("expected true or false, found ") + describe(r), r.line);
        return r.bval;
    }

    DeviceNode device_node(const Raw& r, const std::string& path) const {
        DeviceNode d;
        fields(
            r, path,
            {"path", "hostPath", "type", "major", "minor", "fileMode", "permissions", "uid", "gid"},
            [&](std::string_view k, const Raw& v, const std::string& p) {
                if (k == "path") d.path = str(v, p);
                if (k == "hostPath") d.host_path = str(v, p);
                if (k == "type") d.type = str(v, p);
                if (k == "major") d.major = i64(v, p);
                if (k == "minor") d.minor = i64(v, p);
                if (k == "fileMode" && v.kind != Raw::Kind::null) d.file_mode = u32(v, p);
                if (k == "permissions") d.permissions = str(v, p);
                if (k == "uid" && v.kind != Raw::Kind::null) d.uid = u32(v, p);
                if (k == "gid" && v.kind != Raw::Kind::null) d.gid = u32(v, p);
            },
            false);
        return d;
    }
    Mount mount(const Raw& r, const std::string& path) const {
        Mount m;
        fields(
            r, path, {"hostPath", "containerPath", "options", "type"},
            [&](std::string_view k, const Raw& v, const std::string& p) {
                if (k == "hostPath") m.host_path = str(v, p);
                if (k == "containerPath") m.container_path = str(v, p);
                if (k == "options") m.options = strs(v, p);
                if (k == "type") m.type = str(v, p);
            },
            false);
        return m;
    }
    Hook hook(const Raw& r, const std::string& path) const {
        Hook h;
        fields(
            r, path, {"hookName", "path", "args", "env", "timeout"},
            [&](std::string_view k, const Raw& v, const std::string& p) {
                if (k == "hookName") h.hook_name = str(v, p);
                if (k == "path") h.path = str(v, p);
                if (k == "args") h.args = strs(v, p);
                if (k == "env") h.env = strs(v, p);
                if (k == "timeout" && v.kind != Raw::Kind::null)
                    h.timeout = static_cast<int>(ranged(v, p, INT_MIN, INT_MAX, "int"));
            },
            false);
        return h;
    }
    ContainerEdits edits(const Raw& r, const std::string& path) const {
        ContainerEdits e;
        fields(
            r, path,
            {"env", "deviceNodes", "netDevices", "hooks", "mounts", "intelRdt", "additionalGids"},
            [&](std::string_view k, const Raw& v, const std::string& p) {
                if (k == "env") e.env = strs(v, p);
                if (k == "deviceNodes")
                    list(v, p, [&](const Raw& x, const std::string& xp) {
                        e.device_nodes.push_back(device_node(x, xp));
                    });
                if (k == "netDevices")
                    list(v, p, [&](const Raw& x, const std::string& xp) {
                        NetDevice n;
                        fields(
                            x, xp, {"hostInterfaceName", "name"},
                            [&](std::string_view nk, const Raw& nv, const std::string& np) {
                                if (nk == "hostInterfaceName") n.host_interface_name = str(nv, np);
                                if (nk == "name") n.name = str(nv, np);
                            },
                            false);
                        e.net_devices.push_back(n);
                    });
                if (k == "hooks")
                    list(v, p, [&](const Raw& x, const std::string& xp) {
                        e.hooks.push_back(hook(x, xp));
                    });
                if (k == "mounts")
                    list(v, p, [&](const Raw& x, const std::string& xp) {
                        e.mounts.push_back(mount(x, xp));
                    });
                if (k == "intelRdt" && v.kind != Raw::Kind::null) {
                    IntelRdt rdt;
                    fields(
                        v, p,
                        {"closID", "l3CacheSchema", "memBwSchema", "schemata", "enableMonitoring"},
                        [&](std::string_view rk, const Raw& rv, const std::string& rp) {
                            if (rk == "closID") rdt.clos_id = str(rv, rp);
                            if (rk == "l3CacheSchema") rdt.l3_cache_schema = str(rv, rp);
                            if (rk == "memBwSchema") rdt.mem_bw_schema = str(rv, rp);
                            if (rk == "schemata") rdt.schemata = strs(rv, rp);
                            if (rk == "enableMonitoring") rdt.enable_monitoring = boolean(rv, rp);
                        });
                    e.intel_rdt = rdt;
                }
                if (k == "additionalGids")
                    list(v, p, [&](const Raw& x, const std::string& xp) {
                        e.additional_gids.push_back(u32(x, xp));
                    });
            });
        return e;
    }
    Spec spec(const Raw& r) const {
        if (r.kind != Raw::Kind::map)
            fail("",
                 std::string("expected an object at the top, found ") +
                     (r.kind == Raw::Kind::null ? "an empty document" : describe(r)),
                 r.line);
        Spec s;
        fields(r, "", {"cdiVersion", "kind", "annotations", "devices", "containerEdits"},
               [&](std::string_view k, const Raw& v, const std::string& p) {
                   if (k == "cdiVersion") s.cdi_version = str(v, p);
                   if (k == "kind") s.kind = str(v, p);
                   if (k == "annotations") s.annotations = str_map(v, p);
                   if (k == "containerEdits") s.edits = edits(v, p);
                   if (k == "devices")
                       list(v, p, [&](const Raw& x, const std::string& xp) {
                           Device d;
                           fields(
                               x, xp, {"name", "annotations", "containerEdits"},
                               [&](std::string_view dk, const Raw& dv, const std::string& dp) {
                                   if (dk == "name") d.name = str(dv, dp);
                                   if (dk == "annotations") d.annotations = str_map(dv, dp);
                                   if (dk == "containerEdits") d.edits = edits(dv, dp);
                               },
                               false);
                           s.devices.push_back(std::move(d));
                       });
               });
        return s;
    }

  private:
    std::string origin_;
};

// ---------------------------------------------------------------------------------------------
// Versions and their triggers.

struct Need {
    std::string version, field;
};

void for_each_edits(const Spec& s,
                    const std::function<void(const ContainerEdits&, const std::string&)>& f) {
    for (size_t i = 0; i < s.devices.size(); ++i)
        f(s.devices[i].edits, index("devices", i) + ".containerEdits");
    f(s.edits, "containerEdits");
}

// Every feature that needs a version above 0.3.0, with the field that uses it.
std::vector<Need> needs(const Spec& s) {
    std::vector<Need> out;
    if (!s.annotations.empty()) out.push_back({"0.6.0", "annotations"});
    auto slash = s.kind.find('/');
    if (slash != std::string::npos && s.kind.find('.', slash) != std::string::npos)
        out.push_back({"0.6.0", "kind (a '.' in the class)"});
    for (size_t i = 0; i < s.devices.size(); ++i) {
        const auto& d = s.devices[i];
        if (!d.name.empty() && !is_letter(d.name[0]))
            out.push_back({"0.5.0", index("devices", i) + ".name (starts with a non-letter)"});
        if (!d.annotations.empty()) out.push_back({"0.6.0", index("devices", i) + ".annotations"});
    }
    for_each_edits(s, [&](const ContainerEdits& e, const std::string& p) {
        for (size_t i = 0; i < e.mounts.size(); ++i)
            if (!e.mounts[i].type.empty())
                out.push_back({"0.4.0", index(p + ".mounts", i) + ".type"});
        for (size_t i = 0; i < e.device_nodes.size(); ++i)
            if (!e.device_nodes[i].host_path.empty())
                out.push_back({"0.5.0", index(p + ".deviceNodes", i) + ".hostPath"});
        if (e.intel_rdt) {
            out.push_back({"0.7.0", p + ".intelRdt"});
            if (!e.intel_rdt->schemata.empty()) out.push_back({"1.1.0", p + ".intelRdt.schemata"});
            if (e.intel_rdt->enable_monitoring)
                out.push_back({"1.1.0", p + ".intelRdt.enableMonitoring"});
        }
        if (!e.additional_gids.empty()) out.push_back({"0.7.0", p + ".additionalGids"});
        if (!e.net_devices.empty()) out.push_back({"1.1.0", p + ".netDevices"});
    });
    return out;
}

std::optional<std::array<int, 3>> parse_version(const std::string& v) {
    std::string s = (!v.empty() && v[0] == 'v') ? v.substr(1) : v;
    std::array<int, 3> out{};
    size_t pos = 0;
    for (int i = 0; i < 3; ++i) {
        size_t start = pos;
        while (pos < s.size() && is_digit(s[pos]) && pos - start < 6) ++pos;
        if (pos == start || (pos - start > 1 && s[start] == '0')) return std::nullopt;
        out[static_cast<size_t>(i)] = std::atoi(s.substr(start, pos - start).c_str());
        if (i < 2) {
            if (pos >= s.size() || s[pos] != '.') return std::nullopt;
            ++pos;
        }
    }
    if (pos != s.size()) return std::nullopt;
    return out;
}

bool env_ok(const std::string& e) {
    auto eq = e.find('=');
    return eq != std::string::npos && eq > 0;
}

bool bind_like(const Mount& m) {
    if (m.type.empty() || m.type == "bind" || m.type == "rbind") return true;
    return std::any_of(m.options.begin(), m.options.end(),
                       [](const std::string& o) { return o == "bind" || o == "rbind"; });
}

const std::array<const char*, 6> kHookNames = {"prestart",       "createRuntime", "createContainer",
                                               "startContainer", "poststart",     "poststop"};

void validate_edits(const ContainerEdits& e, const std::string& p, std::vector<std::string>& out) {
    auto bad = [&](const std::string& path, const std::string& what) {
        out.push_back(path + ": " + what);
    };
    auto quoted = [](const std::string& s) { return nlohmann::json(s).dump(); };
    for (size_t i = 0; i < e.env.size(); ++i)
        if (!env_ok(e.env[i])) bad(index(p + ".env", i), quoted(e.env[i]) + " is not KEY=VALUE");
    for (size_t i = 0; i < e.device_nodes.size(); ++i) {
        const auto& d = e.device_nodes[i];
        std::string dp = index(p + ".deviceNodes", i);
        if (d.path.empty())
            bad(dp + ".path", "missing");
        else if (d.path[0] != '/')
            bad(dp + ".path", quoted(d.path) + " is not an absolute path");
        if (!d.host_path.empty() && d.host_path[0] != '/')
            bad(dp + ".hostPath", quoted(d.host_path) + " is not an absolute path");
        if (!(d.type.empty() || d.type == "b" || d.type == "c" || d.type == "u" || d.type == "p"))
            bad(dp + ".type", "invalid device type " + quoted(d.type) + " (one of b, c, u, p)");
        if (d.major < 0) bad(dp + ".major", "negative");
        if (d.minor < 0) bad(dp + ".minor", "negative");
        if (d.permissions != "none" &&
            !std::all_of(d.permissions.begin(), d.permissions.end(),
                         [](char c) { return c == 'r' || c == 'w' || c == 'm'; }))
            bad(dp + ".permissions", "invalid permissions " + quoted(d.permissions) +
                                         " (a subset of \"rwm\", or \"none\")");
    }
    for (size_t i = 0; i < e.hooks.size(); ++i) {
        const auto& h = e.hooks[i];
        std::string hp = index(p + ".hooks", i);
        if (std::find(kHookNames.begin(), kHookNames.end(), h.hook_name) == kHookNames.end())
            bad(hp + ".hookName", "invalid hook name " + quoted(h.hook_name) +
                                      " (one of prestart, createRuntime, createContainer, "
                                      "startContainer, poststart, poststop)");
        if (h.path.empty())
            bad(hp + ".path", "missing");
        else if (h.path[0] != '/')
            bad(hp + ".path", quoted(h.path) + " is not an absolute path");
        for (size_t j = 0; j < h.env.size(); ++j)
            if (!env_ok(h.env[j]))
                bad(index(hp + ".env", j), quoted(h.env[j]) + " is not KEY=VALUE");
        if (h.timeout && *h.timeout <= 0)
            bad(hp + ".timeout",
                std::to_string(*h.timeout) + " is not a positive number of seconds");
    }
    for (size_t i = 0; i < e.mounts.size(); ++i) {
        const auto& m = e.mounts[i];
        std::string mp = index(p + ".mounts", i);
        if (m.host_path.empty())
            bad(mp + ".hostPath", "missing");
        else if (bind_like(m) && m.host_path[0] != '/')
            bad(mp + ".hostPath", quoted(m.host_path) + " is not an absolute path");
        if (m.container_path.empty())
            bad(mp + ".containerPath", "missing");
        else if (m.container_path[0] != '/')
            bad(mp + ".containerPath", quoted(m.container_path) + " is not an absolute path");
    }
    std::vector<std::string> hosts, names;
    for (size_t i = 0; i < e.net_devices.size(); ++i) {
        const auto& n = e.net_devices[i];
        std::string np = index(p + ".netDevices", i);
        if (n.host_interface_name.empty()) bad(np + ".hostInterfaceName", "missing");
        if (n.name.empty()) bad(np + ".name", "missing");
        if (!n.host_interface_name.empty() &&
            std::find(hosts.begin(), hosts.end(), n.host_interface_name) != hosts.end())
            bad(np + ".hostInterfaceName", "duplicate " + quoted(n.host_interface_name));
        if (!n.name.empty() && std::find(names.begin(), names.end(), n.name) != names.end())
            bad(np + ".name", "duplicate " + quoted(n.name));
        hosts.push_back(n.host_interface_name);
        names.push_back(n.name);
    }
    if (e.intel_rdt) {
        const auto& id = e.intel_rdt->clos_id;
        if (id == "." || id == ".." || id.find('/') != std::string::npos ||
            id.find('\n') != std::string::npos)
            bad(p + ".intelRdt.closID", "invalid " + quoted(id));
    }
}

std::string check_vendor_or_class(const std::string& n, const char* what) {
    if (n.empty()) return std::string("empty ") + what;
    auto q = nlohmann::json(n).dump();
    if (!is_letter(n[0])) return std::string(what) + " " + q + " should start with a letter";
    for (size_t i = 1; i + 1 < n.size(); ++i) {
        char c = n[i];
        if (!(is_alnum(c) || c == '_' || c == '-' || c == '.'))
            return std::string("invalid character '") + c + "' in " + what + " " + q;
    }
    if (!is_alnum(n.back()))
        return std::string(what) + " " + q + " should end with a letter or digit";
    return {};
}

// ---------------------------------------------------------------------------------------------
// Serialisation: an ordered JSON tree in Go field order, then JSON text or block YAML.

using ojson = nlohmann::ordered_json;

ojson edits_json(const ContainerEdits& e) {
    ojson j = ojson::object();
    if (!e.env.empty()) j["env"] = e.env;
    if (!e.device_nodes.empty()) {
        ojson a = ojson::array();
        for (const auto& d : e.device_nodes) {
            ojson n;
            n["path"] = d.path;
            if (!d.host_path.empty()) n["hostPath"] = d.host_path;
            if (!d.type.empty()) n["type"] = d.type;
            if (d.major) n["major"] = d.major;
            if (d.minor) n["minor"] = d.minor;
            if (d.file_mode) n["fileMode"] = *d.file_mode;
            if (!d.permissions.empty()) n["permissions"] = d.permissions;
            if (d.uid) n["uid"] = *d.uid;
            if (d.gid) n["gid"] = *d.gid;
            a.push_back(n);
        }
        j["deviceNodes"] = a;
    }
    if (!e.net_devices.empty()) {
        ojson a = ojson::array();
        for (const auto& n : e.net_devices)
            a.push_back(ojson{{"hostInterfaceName", n.host_interface_name}, {"name", n.name}});
        j["netDevices"] = a;
    }
    if (!e.hooks.empty()) {
        ojson a = ojson::array();
        for (const auto& h : e.hooks) {
            ojson o;
            o["hookName"] = h.hook_name;
            o["path"] = h.path;
            if (!h.args.empty()) o["args"] = h.args;
            if (!h.env.empty()) o["env"] = h.env;
            if (h.timeout) o["timeout"] = *h.timeout;
            a.push_back(o);
        }
        j["hooks"] = a;
    }
    if (!e.mounts.empty()) {
        ojson a = ojson::array();
        for (const auto& m : e.mounts) {
            ojson o;
            o["hostPath"] = m.host_path;
            o["containerPath"] = m.container_path;
            if (!m.options.empty()) o["options"] = m.options;
            if (!m.type.empty()) o["type"] = m.type;
            a.push_back(o);
        }
        j["mounts"] = a;
    }
    if (e.intel_rdt) {
        const auto& r = *e.intel_rdt;
        ojson o = ojson::object();
        if (!r.clos_id.empty()) o["closID"] = r.clos_id;
        if (!r.l3_cache_schema.empty()) o["l3CacheSchema"] = r.l3_cache_schema;
        if (!r.mem_bw_schema.empty()) o["memBwSchema"] = r.mem_bw_schema;
        if (!r.schemata.empty()) o["schemata"] = r.schemata;
        if (r.enable_monitoring) o["enableMonitoring"] = true;
        j["intelRdt"] = o;
    }
    if (!e.additional_gids.empty()) j["additionalGids"] = e.additional_gids;
    return j;
}

ojson spec_json(const Spec& s) {
    ojson j;
    j["cdiVersion"] = s.cdi_version;
    j["kind"] = s.kind;
    if (!s.annotations.empty()) j["annotations"] = s.annotations;
    j["devices"] = ojson::array();
    for (const auto& d : s.devices) {
        ojson o;
        o["name"] = d.name;
        if (!d.annotations.empty()) o["annotations"] = d.annotations;
        o["containerEdits"] = edits_json(d.edits);
        j["devices"].push_back(o);
    }
    if (!s.edits.empty()) j["containerEdits"] = edits_json(s.edits);
    return j;
}

std::string quote(const std::string& s) {
    return ojson(s).dump(-1, ' ', false, ojson::error_handler_t::replace);
}

// A string YAML reads back as the same string without quotes.
bool plain_safe(const std::string& s) {
    if (s.empty()) return false;
    static const std::array<const char*, 22> words = {
        "y",    "Y",    "yes",   "Yes",   "YES",   "n",  "N",  "no", "No",  "NO",  "true",
        "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"};
    for (auto* w : words)
        if (s == w) return false;
    if (s == "null" || s == "Null" || s == "NULL") return false;
    for (char c : s)
        if (!(is_alnum(c) || c == '_' || c == '.' || c == '/' || c == '=' || c == ':' || c == ',' ||
              c == '+' || c == '@' || c == '%' || c == '-'))
            return false;
    if (s.back() == ':') return false;
    char c0 = s[0];
    if (is_letter(c0) || c0 == '_' || c0 == '/') return true;
    if (c0 == '-') return s.size() > 1 && (is_letter(s[1]) || s[1] == '-');
    if (is_digit(c0)) { // only version-like text such as 0.5.0 or 580.95.05
        int dots = 0;
        for (char c : s) {
            if (c == '.')
                ++dots;
            else if (!is_digit(c))
                return false;
        }
        return dots >= 2 && s.find("..") == std::string::npos;
    }
    return false;
}

std::string yaml_scalar(const ojson& v) {
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        return plain_safe(s) ? s : quote(s);
    }
    return v.dump();
}

void emit(const ojson& v, size_t indent, std::string& out, const std::string& first_prefix);

void emit_value_after_key(const ojson& v, size_t indent, std::string& out) {
    if (v.is_array()) {
        if (v.empty()) {
            out += " []\n";
            return;
        }
        out += "\n";
        for (const auto& item : v) emit(item, indent + 2, out, std::string(indent, ' ') + "- ");
    } else if (v.is_object()) {
        if (v.empty()) {
            out += " {}\n";
            return;
        }
        out += "\n";
        emit(v, indent + 2, out, std::string(indent + 2, ' '));
    } else {
        out += " " + yaml_scalar(v) + "\n";
    }
}

// Emits v whose first line starts with first_prefix (spaces, or spaces and "- ") and whose
// further lines are indented by `indent`.
void emit(const ojson& v, size_t indent, std::string& out, const std::string& first_prefix) {
    if (v.is_object()) {
        bool first = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
            out += first ? first_prefix : std::string(indent, ' ');
            first = false;
            out += (plain_safe(it.key()) ? it.key() : quote(it.key())) + ":";
            emit_value_after_key(it.value(), indent, out);
        }
        if (first) out += first_prefix + "{}\n";
    } else if (v.is_array()) {
        if (v.empty()) {
            out += first_prefix + "[]\n";
            return;
        }
        bool first = true;
        for (const auto& item : v) {
            emit(item, indent + 2, out, (first ? first_prefix : std::string(indent, ' ')) + "- ");
            first = false;
        }
    } else {
        out += first_prefix + yaml_scalar(v) + "\n";
    }
}

} // namespace

// ---------------------------------------------------------------------------------------------

bool ContainerEdits::empty() const {
    return env.empty() && device_nodes.empty() && net_devices.empty() && hooks.empty() &&
           mounts.empty() && !intel_rdt && additional_gids.empty();
}

std::string Spec::vendor() const {
    auto p = kind.find('/');
    return p == std::string::npos ? std::string() : kind.substr(0, p);
}

std::string Spec::class_name() const {
    auto p = kind.find('/');
    return p == std::string::npos ? kind : kind.substr(p + 1);
}

const Device* Spec::find(const std::string& name) const {
    for (const auto& d : devices)
        if (d.name == name) return &d;
    return nullptr;
}

Format format_for(const std::filesystem::path& path) {
    return path.extension() == ".json" ? Format::json : Format::yaml;
}

Spec parse(std::string_view text, Format format, const std::string& origin, bool validate_too) {
    std::string where = origin.empty() ? "" : origin + ": ";
    Raw root;
    if (format == Format::json) {
        JsonBuilder b;
        bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &b);
        if (!ok)
            throw Error(Errc::invalid, where + "invalid JSON: " + b.error,
                        "check the file with `python3 -m json.tool`");
        root = std::move(b.root);
    } else {
        try {
            root = from_yaml(yaml::parse(text));
        } catch (const yaml::SyntaxError& e) {
            throw Error(Errc::invalid,
                        where + "invalid YAML at line " + std::to_string(e.line) + ", column " +
                            std::to_string(e.column) + ": " + e.message,
                        "fix the YAML syntax (indentation, quotes, brackets)");
        } catch (const Error& e) {
            throw Error(e.code(), where + e.message(), e.hint());
        }
    }
    Spec s = Reader(origin).spec(root);
    if (validate_too) {
        auto problems = validate(s);
        if (!problems.empty()) {
            std::string msg = where + problems.front();
            if (problems.size() > 1)
                msg += " (and " + std::to_string(problems.size() - 1) + " more problem" +
                       (problems.size() > 2 ? "s" : "") + ")";
            throw Error(Errc::invalid, msg, "`gantry cdi validate FILE` lists every problem");
        }
    }
    return s;
}

Spec load(const std::filesystem::path& path, bool validate_too) {
    return parse(fs::read_file(path, 16u << 20), format_for(path), path.string(), validate_too);
}

const std::vector<std::string>& known_versions() {
    static const std::vector<std::string> v = {"0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0",
                                               "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0"};
    return v;
}

std::optional<int> compare_versions(const std::string& a, const std::string& b) {
    auto x = parse_version(a), y = parse_version(b);
    if (!x || !y) return std::nullopt;
    return *x < *y ? -1 : (*x > *y ? 1 : 0);
}

std::string minimum_version(const Spec& spec) {
    std::string v = "0.3.0";
    for (const auto& n : needs(spec))
        if (compare_versions(n.version, v).value_or(0) > 0) v = n.version;
    return v;
}

std::string check_vendor(const std::string& vendor) {
    return check_vendor_or_class(vendor, "vendor");
}

std::string check_class(const std::string& cls) {
    return check_vendor_or_class(cls, "class");
}

std::string check_kind(const std::string& kind) {
    auto p = kind.find('/');
    if (p == std::string::npos)
        return nlohmann::json(kind).dump() + " is not vendor/class (e.g. nvidia.com/gpu)";
    if (auto e = check_vendor(kind.substr(0, p)); !e.empty()) return e;
    return check_class(kind.substr(p + 1));
}

std::string check_device_name(const std::string& n) {
    if (n.empty()) return "empty device name";
    auto q = nlohmann::json(n).dump();
    if (!is_alnum(n[0])) return "device name " + q + " should start with a letter or digit";
    for (size_t i = 1; i + 1 < n.size(); ++i) {
        char c = n[i];
        if (!(is_alnum(c) || c == '_' || c == '-' || c == '.' || c == ':'))
            return std::string("invalid character '") + c + "' in device name " + q;
    }
    if (!is_alnum(n.back())) return "device name " + q + " should end with a letter or digit";
    return {};
}

std::optional<QualifiedName> parse_qualified_name(const std::string& s) {
    if (s.empty() || s[0] == '/') return std::nullopt;
    auto eq = s.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string kind = s.substr(0, eq), name = s.substr(eq + 1);
    auto slash = kind.find('/');
    if (slash == std::string::npos) return std::nullopt;
    QualifiedName q{kind.substr(0, slash), kind.substr(slash + 1), name};
    if (!check_vendor(q.vendor).empty() || !check_class(q.cls).empty() ||
        !check_device_name(q.name).empty())
        return std::nullopt;
    return q;
}

std::vector<std::string> validate(const Spec& s) {
    std::vector<std::string> out;
    auto quoted = [](const std::string& x) { return nlohmann::json(x).dump(); };
    bool version_ok = false;
    if (s.cdi_version.empty()) {
        out.push_back("cdiVersion: missing");
    } else {
        for (const auto& k : known_versions())
            if (compare_versions(s.cdi_version, k) == 0) version_ok = true;
        if (!version_ok)
            out.push_back("cdiVersion: unknown version " + quoted(s.cdi_version) + " (known: " +
                          known_versions().front() + " to " + known_versions().back() + ")");
    }
    if (version_ok) {
        std::string need = "0.3.0", field = "the CDI format itself";
        for (const auto& n : needs(s))
            if (compare_versions(n.version, need).value_or(0) > 0)
                need = n.version, field = n.field;
        if (compare_versions(s.cdi_version, need).value_or(0) < 0)
            out.push_back("cdiVersion: " + s.cdi_version + " is too low: " + field +
                          " needs at least " + need);
    }
    if (s.kind.empty())
        out.push_back("kind: missing");
    else if (auto e = check_kind(s.kind); !e.empty())
        out.push_back("kind: " + e);
    for (const auto& [k, v] : s.annotations)
        if (k.empty()) out.push_back("annotations: empty key");
    if (s.devices.empty()) out.push_back("devices: no devices (a spec needs at least one)");
    for (size_t i = 0; i < s.devices.size(); ++i) {
        const auto& d = s.devices[i];
        std::string dp = index("devices", i);
        if (auto e = check_device_name(d.name); !e.empty()) out.push_back(dp + ".name: " + e);
        for (size_t j = 0; j < i; ++j)
            if (!d.name.empty() && s.devices[j].name == d.name) {
                out.push_back(dp + ".name: duplicate device name " + quoted(d.name) + " (also " +
                              index("devices", j) + ")");
                break;
            }
        for (const auto& [k, v] : d.annotations)
            if (k.empty()) out.push_back(dp + ".annotations: empty key");
        if (d.edits.empty())
            out.push_back(dp + ".containerEdits: empty (a device needs at least one edit)");
        validate_edits(d.edits, dp + ".containerEdits", out);
    }
    validate_edits(s.edits, "containerEdits", out);
    return out;
}

std::string to_json(const Spec& spec) {
    return spec_json(spec).dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

std::string to_yaml(const Spec& spec) {
    std::string out = "---\n";
    emit(spec_json(spec), 0, out, "");
    return out;
}

std::string serialize(const Spec& spec, Format format) {
    return format == Format::json ? to_json(spec) : to_yaml(spec);
}

void write_atomic(const Spec& spec, const std::filesystem::path& path) {
    fs::write_atomic(path, serialize(spec, format_for(path)), 0644);
}

} // namespace gantry::cdi
