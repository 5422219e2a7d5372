#include "runspec/mount_flag.hpp"

#include "util/error.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

#include <cstdint>
#include <set>
#include <string_view>
#include <vector>

namespace gantry::runspec {

namespace {

// Go's strconv.ParseBool, which docker's --mount reads readonly= with; a bare key is true.
bool mount_bool(const std::string& key, const std::string& value, bool bare,
                const std::string& what) {
    if (bare) return true;
    static const std::set<std::string, std::less<>> yes{"1", "t", "T", "TRUE", "true", "True"};
    static const std::set<std::string, std::less<>> no{"0", "f", "F", "FALSE", "false", "False"};
    if (yes.contains(value)) return true;
    if (no.contains(value)) return false;
    throw Error(Errc::usage, what + ": " + key + "=" + value + " is not true or false",
                "give " + key + ", " + key + "=true or " + key + "=false");
}

// TEXT as one record of Go's encoding/csv, which docker reads --mount with: fields split on
// commas; a field in double quotes may hold commas, and "" in it is one quote; a quote in an
// unquoted field, or a quoted field not closed or followed by more than a comma, is refused.
std::vector<std::string> mount_csv_fields(const std::string& text) {
    std::vector<std::string> out;
    std::size_t i = 0;
    for (;;) {
        std::string field;
        if (i < text.size() && text[i] == '"') {
            ++i;
            for (;;) {
                if (i >= text.size())
                    throw Error(Errc::usage, "--mount " + text + ": a quote is not closed",
                                "close the quoted field: \"source=/a,b\",target=/x");
                if (text[i] == '"') {
                    if (i + 1 < text.size() && text[i + 1] == '"') {
                        field += '"';
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                field += text[i++];
            }
            if (i < text.size() && text[i] != ',')
                throw Error(Errc::usage, "--mount " + text + ": text after a quoted field",
                            "quote the whole field: \"source=/a,b\"");
        } else {
            auto end = text.find(',', i);
            field = text.substr(i, end == std::string::npos ? std::string::npos : end - i);
            if (field.find('"') != std::string::npos)
                throw Error(Errc::usage, "--mount " + text + ": a quote inside a field",
                            "quote the whole field and double the quote inside: \"src=/a\"\"b\"");
            i = end == std::string::npos ? text.size() : end;
        }
        out.push_back(std::move(field));
        if (i >= text.size()) break;
        ++i; // the comma
    }
    return out;
}

// docker's rule for a local volume's name (store::valid_volume_name's): [a-zA-Z0-9][a-zA-Z0-9_.-]+
bool mount_volume_name_ok(const std::string& n) {
    auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (n.size() < 2 || !alnum(n[0])) return false;
    for (char c : n)
        if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
    return true;
}

} // namespace

MountFlag parse_mount_flag(const std::string& text) {
    const std::string what = "--mount " + text;
    std::string type = "volume"; // docker's default
    std::string source, target, propagation, size, mode;
    std::map<std::string, std::string> labels; // volume-label
    bool readonly = false, have_source = false;
    std::set<std::string> bind_keys, tmpfs_keys, volume_keys; // the keys of one type, as given
    for (const auto& field : mount_csv_fields(text)) {
        if (field.empty()) continue;
        auto eq = field.find('=');
        std::string key = text::lower(field.substr(0, eq));
        bool bare = eq == std::string::npos;
        std::string value = bare ? "" : std::string(field.substr(eq + 1));
        auto need_value = [&] {
            if (bare || value.empty())
                throw Error(Errc::usage, what + ": " + key + " needs a value",
                            "write " + key + "=VALUE");
        };
        if (key == "type") {
            need_value();
            type = value;
        } else if (key == "source" || key == "src") {
            need_value();
            source = value;
            have_source = true;
        } else if (key == "target" || key == "destination" || key == "dst") {
            need_value();
            target = value;
        } else if (key == "readonly" || key == "ro") {
            readonly = mount_bool(key, value, bare, what);
        } else if (key == "consistency") {
            need_value();
            if (value != "consistent" && value != "cached" && value != "delegated" &&
                value != "default")
                throw Error(Errc::usage, what + ": unknown consistency \"" + value + "\"",
                            "give consistent, cached, delegated or default (all the same on "
                            "Linux)");
        } else if (key == "bind-propagation") {
            need_value();
            static const std::set<std::string, std::less<>> kinds{"shared",  "slave",  "private",
                                                                  "rshared", "rslave", "rprivate"};
            if (!kinds.contains(value))
                throw Error(Errc::usage, what + ": unknown bind-propagation \"" + value + "\"",
                            "give shared, slave, private, rshared, rslave or rprivate");
            propagation = value;
            bind_keys.insert(key);
        } else if (key == "bind-nonrecursive") {
            if (mount_bool(key, value, bare, what))
                throw Error(Errc::unsupported,
                            what + ": gantry binds recursively (bind-nonrecursive is not done)",
                            "bind the directory without the mounts below it from elsewhere, or "
                            "drop bind-nonrecursive");
            bind_keys.insert(key);
        } else if (key == "tmpfs-size") {
            need_value();
            size = std::to_string(units::parse_size(value, "--mount tmpfs-size"));
            tmpfs_keys.insert(key);
        } else if (key == "tmpfs-mode") {
            need_value();
            if (value.size() > 4 || value.find_first_not_of("01234567") != std::string::npos)
                throw Error(Errc::usage, what + ": tmpfs-mode \"" + value + "\" is not octal",
                            "give the mode in octal, e.g. tmpfs-mode=1777");
            mode = value;
            tmpfs_keys.insert(key);
        } else if (key == "volume-nocopy") {
            // gantry's new volume starts empty: nocopy is what it does
            if (!mount_bool(key, value, bare, what))
                throw Error(Errc::unsupported,
                            what + ": gantry does not copy the image's files into a new volume "
                                   "(volume-nocopy=false)",
                            "drop volume-nocopy; copy them in with `gantry cp` if needed");
            volume_keys.insert(key);
        } else if (key == "volume-driver") {
            need_value();
            if (value != "local")
                throw Error(Errc::unsupported, what + ": gantry's volumes are local directories",
                            "drop volume-driver, or give volume-driver=local");
            volume_keys.insert(key);
        } else if (key == "volume-label") {
            need_value();
            auto eq2 = value.find('=');
            labels[value.substr(0, eq2)] = eq2 == std::string::npos ? "" : value.substr(eq2 + 1);
            volume_keys.insert(key);
        } else if (key.starts_with("volume-")) {
            throw Error(Errc::unsupported,
                        what + ": " + key +
                            " is not done: gantry's volumes are plain "
                            "directories (docker's local driver, no options)",
                        "drop " + key);
        } else {
            throw Error(Errc::usage, what + ": unknown key \"" + key + "\"",
                        "docker's keys: type, source, target, readonly, bind-propagation, "
                        "consistency, tmpfs-size, tmpfs-mode");
        }
    }
    auto mixed = [&](const std::set<std::string>& keys, const char* their_type) {
        if (!keys.empty())
            throw Error(Errc::usage,
                        what + ": " + *keys.begin() + " is for type=" + their_type +
                            ", not type=" + type,
                        "drop it, or use type=" + std::string(their_type));
    };
    if (type != "bind" && type != "tmpfs" && type != "volume")
        throw Error(Errc::usage, what + ": unknown mount type \"" + type + "\"",
                    "use type=bind, type=volume or type=tmpfs");
    if (target.empty())
        throw Error(Errc::usage, what + ": no target", "add target=/path/in/container");
    check_destination(target, what);
    MountFlag out;
    if (type == "volume") {
        mixed(bind_keys, "bind");
        mixed(tmpfs_keys, "tmpfs");
        if (have_source && !mount_volume_name_ok(source))
            throw Error(Errc::usage,
                        what + ": \"" + source +
                            "\" is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)",
                        "give a volume's name, or type=bind for a host path");
        out.volume = VolumeMount{source, target, readonly, std::move(labels)};
        return out;
    }
    mixed(volume_keys, "volume");
    if (type == "bind") {
        mixed(tmpfs_keys, "tmpfs");
        if (!have_source) throw Error(Errc::usage, what + ": no source", "add source=/host/path");
        BindMount b;
        b.source = absolute_source(source, what);
        b.destination = target;
        b.readonly = readonly;
        b.propagation = propagation;
        out.bind = std::move(b);
        return out;
    }
    mixed(bind_keys, "bind");
    if (have_source)
        throw Error(Errc::usage, what + ": a tmpfs mount has no source",
                    "drop source=; the tmpfs starts empty");
    out.tmpfs = target + ":nosuid,nodev";
    if (!size.empty()) out.tmpfs += ",size=" + size;
    if (!mode.empty()) out.tmpfs += ",mode=" + mode;
    if (readonly) out.tmpfs += ",ro";
    return out;
}

} // namespace gantry::runspec
