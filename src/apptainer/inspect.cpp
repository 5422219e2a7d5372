#include "apptainer/inspect.hpp"

#include "apptainer/sandbox.hpp"
#include "engine/squashfs.hpp"
#include "rootfs/dir_files.hpp"
#include "sif/container.hpp"
#include "sif/metadata.hpp"
#include "sqsh/image_ref.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <unistd.h>

namespace gantry::apptainer {

namespace {

constexpr std::size_t kMaxDeffile = 1u << 20; // bytes of a Deffile object read

// Apptainer's setAttribute: a section's text without its trailing newlines
std::string inspect_trimmed(std::string text) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
}

// The definition file Apptainer's build stores as the SIF's Deffile object, "" when none
std::string inspect_deffile_object(const sqsh::Image& image, const std::string& file) {
    const sif::Container* c = image.sif();
    if (!c) return {};
    for (const auto& o : c->objects) {
        if (o.type != static_cast<std::int32_t>(sif::DataType::deffile)) continue;
        if (o.size > kMaxDeffile)
            throw Error(Errc::invalid,
                        file + ": its definition file object is over " +
                            std::to_string(kMaxDeffile >> 20) + " MiB",
                        "a definition file is text of a few KiB: the file is damaged or hostile");
        std::string text(o.size, '\0');
        if (o.size && ::pread(image.fd(), text.data(), text.size(), static_cast<off_t>(o.offset)) !=
                          static_cast<ssize_t>(text.size()))
            throw Error(Errc::invalid, file + ": its definition file object cannot be read",
                        "the file is truncated");
        return text;
    }
    return {};
}

// Go's json.Marshal escapes these three in strings (HTML safety); so does Apptainer's --json
std::string inspect_go_escaped(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '<')
            out += "\\u003c";
        else if (c == '>')
            out += "\\u003e";
        else if (c == '&')
            out += "\\u0026";
        else
            out += c;
    }
    return out;
}

} // namespace

std::string inspect(const std::string& file, InspectWhat what) {
    if (what.all) what = {true, true, true, true, true, true, true, true, true};
    const bool labels = what.labels || !(what.deffile || what.runscript || what.startscript ||
                                         what.test || what.environment || what.helpfile);
    // a sandbox directory's files, read inside it (rootfs/dir_files.hpp); a SIF's partition's,
    // by a confined reader
    std::optional<rootfs::DirFiles> dir;
    std::optional<engine::SquashfsFile> sq;
    std::optional<sqsh::SquashFiles> squash;
    nlohmann::json image_labels = nlohmann::json::object();
    if (is_sandbox(file)) {
        dir.emplace(file);
        if (auto text = dir->read(sif::kLabelsFile); !text.empty())
            sif::add_labels(image_labels, text, file + "/" + sif::kLabelsFile);
    } else {
        sq = engine::open_squashfs(file, false);
        if (!sq->facts.sif)
            throw Error(Errc::unsupported,
                        file + " is not a SIF gantry reads Apptainer's metadata from (an OCI-SIF "
                               "or a squashfs file holds none)",
                        "gantry inspect " + file + " shows its OCI config");
        squash.emplace(*sq->image, engine::squashfs_confinement());
        image_labels = sq->facts.sif->labels;
    }
    const rootfs::ImageFiles& files = dir ? static_cast<const rootfs::ImageFiles&>(*dir)
                                          : static_cast<const rootfs::ImageFiles&>(*squash);
    if (what.list_apps) { // Apptainer's --list-apps: the directories of /scif/apps
        auto names = files.list("scif/apps");
        std::sort(names.begin(), names.end());
        std::string out;
        for (const auto& n : names) out += n + "\n";
        return out;
    }
    // --app: the app's metadata directory stands for /.singularity.d
    const std::string meta =
        what.app.empty() ? ".singularity.d" : "scif/apps/" + what.app + "/scif";
    if (!what.app.empty()) {
        if (what.app.find('/') != std::string::npos || what.app == "." || what.app == ".." ||
            !files.has("scif/apps/" + what.app))
            throw Error(Errc::not_found, file + " has no app " + what.app,
                        "gantry apptainer inspect --list-apps " + file + " lists its apps");
        image_labels = nlohmann::json::object();
        if (auto text = files.read(meta + "/labels.json"); !text.empty())
            sif::add_labels(image_labels, text, file + "'s /" + meta + "/labels.json");
    }
    auto read = [&](const std::string& path) {
        return inspect_trimmed(files.has(path) ? files.read(path) : std::string());
    };
    // Apptainer's Attributes, in its field order
    nlohmann::ordered_json attrs = nlohmann::ordered_json::object();
    nlohmann::ordered_json env = nlohmann::ordered_json::object();
    if (what.environment) {
        auto names = files.list(meta + "/env");
        std::sort(names.begin(), names.end());
        for (const auto& n : names) {
            bool docker = n.starts_with("10-docker") && n.ends_with(".sh");
            bool environment = n.size() >= 17 && n[0] == '9' && n.ends_with("-environment.sh");
            if (docker || environment) env["/" + meta + "/env/" + n] = read(meta + "/env/" + n);
        }
        if (!env.empty()) attrs["environment"] = env;
    }
    nlohmann::ordered_json label_map = nlohmann::ordered_json::object();
    if (labels) {
        std::vector<std::string> keys;
        for (auto& [k, v] : image_labels.items()) keys.push_back(k);
        std::sort(keys.begin(), keys.end());
        for (const auto& k : keys) {
            const auto& v = image_labels[k];
            label_map[k] = v.is_string() ? v.get<std::string>() : v.dump();
        }
        if (!label_map.empty()) attrs["labels"] = label_map;
    }
    std::string runscript = what.runscript ? read(meta + "/runscript") : "";
    std::string test = what.test ? read(meta + "/test") : "";
    std::string help = what.helpfile ? read(meta + "/runscript.help") : "";
    std::string deffile;
    if (what.deffile) {
        if (sq) deffile = inspect_deffile_object(*sq->image, file);
        if (deffile.empty()) deffile = read(".singularity.d/Singularity");
    }
    std::string startscript = what.startscript ? read(meta + "/startscript") : "";
    for (auto [key, value] : {std::pair{"runscript", &runscript}, std::pair{"test", &test},
                              std::pair{"helpfile", &help}, std::pair{"deffile", &deffile},
                              std::pair{"startscript", &startscript}})
        if (!value->empty()) attrs[key] = *value;
    if (what.json) {
        nlohmann::ordered_json doc = {{"data", {{"attributes", attrs}}}, {"type", "container"}};
        return inspect_go_escaped(doc.dump(1, '\t')) + "\n";
    }
    std::string out;
    for (const auto* value : {&deffile, &runscript, &startscript, &test, &help})
        if (!value->empty()) out += *value + "\n";
    for (auto& [k, v] : env.items()) out += "=== " + k + " ===\n" + v.get<std::string>() + "\n\n";
    for (auto& [k, v] : label_map.items()) out += k + ": " + v.get<std::string>() + "\n";
    return out;
}

std::string run_help(const std::string& file, const std::string& app) {
    InspectWhat what;
    what.helpfile = true;
    what.app = app;
    std::string text = inspect(file, what);
    return text.empty() ? "No help sections were defined for this image\n" : text;
}

} // namespace gantry::apptainer
