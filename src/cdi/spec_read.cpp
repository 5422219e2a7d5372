// The strict reader: every field known, every type right, every message a field path. It walks
// the document tree of spec_document.hpp, so YAML and JSON specs fail with the same messages.
#include "cdi/spec_read.hpp"

#include "cdi/spec_detail.hpp"
#include "cdi/spec_document.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <climits>
#include <initializer_list>

namespace gantry::cdi {

using detail::index;
using detail::join;

namespace {

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
                    if (text::iequals(v.key, k)) canon = k;
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

} // namespace

Spec parse(std::string_view text, Format format, const std::string& origin, bool validate_too) {
    Spec s = Reader(origin).spec(read_document(text, format, origin));
    if (validate_too) {
        auto problems = validate(s);
        if (!problems.empty()) {
            std::string where = origin.empty() ? "" : origin + ": ";
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

} // namespace gantry::cdi
