#include "slim/slim.hpp"

#include "layer/single_layer_manifest.hpp"
#include "layer/stream.hpp"
#include "layer/tar_reader.hpp"
#include "slim/strip.hpp"
#include "slim/tailor_record.hpp"
#include "store/importer.hpp"
#include "store/layer_tar.hpp"
#include "store/layer_writer.hpp"
#include "tailor/file.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <unordered_map>

namespace gantry::slim {

using analyze::Kind;

const std::vector<std::string>& all_classes() {
    static const std::vector<std::string> v = {"toolchain", "headers",    "static",  "apt",
                                               "pip",       "conda",      "pycache", "site-extras",
                                               "docs",      "model-cache"};
    return v;
}

const std::vector<std::string>& default_classes() {
    static const std::vector<std::string> v = {"toolchain", "headers", "static",      "apt", "pip",
                                               "conda",     "pycache", "site-extras", "docs"};
    return v;
}

void check_classes(const std::set<std::string>& classes) {
    for (auto& c : classes)
        if (std::find(all_classes().begin(), all_classes().end(), c) == all_classes().end()) {
            throw Error(Errc::usage, "unknown class \"" + c + "\" for --remove",
                        "known classes: " + text::join(all_classes(), ", ") +
                            " (or \"default\", \"none\")");
        }
}

std::set<std::string> removal_classes(const std::vector<std::string>& words, bool tailor) {
    std::vector<std::string> list = words;
    if (list.empty()) list = {tailor ? "none" : "default"};
    std::set<std::string> out;
    for (const auto& c : list) {
        if (c == "default")
            out.insert(default_classes().begin(), default_classes().end());
        else if (c == "all")
            out.insert(all_classes().begin(), all_classes().end());
        else if (c != "none")
            out.insert(c);
    }
    check_classes(out);
    return out;
}

bool matches(const std::string& pattern, const std::string& path) {
    std::string p = pattern;
    while (p.starts_with("/")) p.erase(0, 1);
    while (p.size() > 1 && p.ends_with("/")) p.pop_back();
    if (p.empty()) return true; // "/" keeps everything
    if (path == p || (path.size() > p.size() && path.starts_with(p) && path[p.size()] == '/'))
        return true;
    if (::fnmatch(p.c_str(), path.c_str(), FNM_PATHNAME) == 0) return true;
    // a glob naming a directory covers what is under it
    for (std::size_t s = path.find('/'); s != std::string::npos; s = path.find('/', s + 1))
        if (::fnmatch(p.c_str(), path.substr(0, s).c_str(), FNM_PATHNAME) == 0) return true;
    return false;
}

std::string removal_class(const SlimOptions& opt, const std::string& path, Kind kind,
                          bool* kept_by_rule) {
    if (kind == Kind::dir) return {};
    std::string cls;
    std::string c = analyze::path_class(path, kind);
    if (!c.empty() && opt.remove.count(c)) cls = c;
    if (cls.empty())
        for (auto& r : opt.remove_paths)
            if (matches(r, path)) {
                cls = "path";
                break;
            }
    if (cls.empty()) return {};
    for (auto& k : opt.keep)
        if (matches(k, path)) {
            if (kept_by_rule) *kept_by_rule = true;
            return {};
        }
    return cls;
}

namespace {

// The tailoring's record in the new layer: /.gantry/ and the report (root-owned, world-readable,
// mtime 0 so the same tailoring gives the same layer).
void write_tailor_record(store::LayerWriter& out, const tailor::KeepSet& keep, SlimResult& res) {
    res.keep_arch = keep.str();
    std::string text = tailor_json(res.keep_arch, res.tailored).dump(2) + "\n";
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_set_pathname(e.get(), ".gantry");
    archive_entry_set_filetype(e.get(), AE_IFDIR);
    archive_entry_set_perm(e.get(), 0755);
    archive_entry_set_mtime(e.get(), 0, 0);
    out.header(e.get());
    archive_entry_clear(e.get());
    archive_entry_set_pathname(e.get(), kTailorReportPath);
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(text.size()));
    archive_entry_set_mtime(e.get(), 0, 0);
    out.header(e.get());
    out.data(text.data(), text.size());
}

// The scan records every tar member except the root ("." / "") and aufs ".wh..wh.*" metadata;
// the same rule maps a member of the second pass to its scanned index.
bool recorded(const std::string& name) {
    if (name.empty()) return false;
    auto s = name.rfind('/');
    std::string_view base =
        s == std::string::npos ? std::string_view(name) : std::string_view(name).substr(s + 1);
    return !(base.starts_with(".wh..wh.") && base != ".wh..wh..opq");
}

struct Plan {
    std::vector<std::vector<std::uint8_t>> emit; // [layer][index]: 1 = copy as is
    // hard links whose target is not emitted from the same layer: the target's content is
    // written under the first such link's path; later links point there
    std::vector<std::unordered_map<std::uint32_t, std::string>> promote; // [layer]: idx -> path
    std::vector<std::unordered_map<std::uint32_t, std::string>> relink;  // [layer]: idx -> target
};

} // namespace

SlimResult slim_image(store::Store& store, const store::Image& img, const analyze::Analysis& an,
                      const SlimOptions& opt) {
    SlimResult res;
    const auto& scans = an.scans;
    res.before_layers = scans.size();
    res.before_compressed = an.report.compressed_bytes;
    res.before_bytes = an.report.final_bytes;
    for (auto& l : an.view.deleted) res.dropped_layer_bytes += l.bytes;
    for (auto& l : an.view.overwritten) res.dropped_layer_bytes += l.bytes;

    Plan plan;
    plan.emit.resize(scans.size());
    plan.promote.resize(scans.size());
    plan.relink.resize(scans.size());
    for (std::size_t i = 0; i < scans.size(); ++i) plan.emit[i].assign(scans[i].entries.size(), 0);
    std::set<std::string> removed_paths;
    for (auto& [path, ref] : an.view.final) {
        const auto& e = scans[ref.layer].entries[ref.index];
        bool kept = false;
        std::string cls = removal_class(opt, path, e.kind, &kept);
        if (kept) ++res.kept_by_rule;
        if (!cls.empty()) {
            auto& st = res.removed[cls];
            ++st.files;
            if (e.kind == Kind::file) st.bytes += e.size;
            removed_paths.insert(path);
            continue;
        }
        plan.emit[ref.layer][ref.index] = 1;
    }
    // Hard links: the target must be emitted from the same layer at the entry the link names.
    for (std::uint32_t i = 0; i < scans.size(); ++i) {
        const auto& es = scans[i].entries;
        std::unordered_map<std::string, std::uint32_t> last; // path -> latest index so far
        std::unordered_map<std::uint32_t, std::string> promoted_to;
        for (std::uint32_t k = 0; k < es.size(); ++k) {
            const auto& e = es[k];
            if (e.kind == Kind::hardlink && plan.emit[i][k]) {
                auto it = last.find(e.link);
                if (it == last.end() || es[it->second].kind != Kind::file) {
                    plan.emit[i][k] = 0; // nothing to link to: the importer refuses those too
                    res.warnings.push_back("dropped hard link /" + e.path + ": its target /" +
                                           e.link + " is not a file of the same layer");
                    continue;
                }
                std::uint32_t t = it->second;
                if (plan.emit[i][t]) continue; // target copied as is: keep the link
                if (auto p = promoted_to.find(t); p != promoted_to.end()) {
                    plan.relink[i][k] = p->second;
                } else {
                    promoted_to[t] = e.path;
                    plan.promote[i][t] = e.path;
                    plan.emit[i][k] = 0; // the promoted file takes this path
                }
            }
            if (!e.path.empty()) last[e.path] = k;
        }
    }

    std::unique_ptr<Stripper> stripper;
    if (opt.strip) stripper = std::make_unique<Stripper>(opt.strip_tool, store.tmp_dir());

    store::LayerWriter out(store);
    for (std::uint32_t i = 0; i < scans.size(); ++i) {
        const auto& d = img.manifest.layers[i].digest;
        std::string what = "layer " + std::to_string(i + 1) + " (" + d.str().substr(0, 19) + "…)";
        auto content = store::open_layer(store, d, img.config.diff_ids[i], what);
        layer::SniffedStream plain(*content.reader, what);
        layer::TarReader in(plain.plain(), what);
        std::uint32_t k = 0;
        std::string name;
        const auto& es = scans[i].entries;
        while (archive_entry* ae = in.next()) {
            if (!layer::normalize_name(archive_entry_pathname(ae), name))
                throw Error(Errc::invalid, what + ": entry with \"..\"");
            if (!recorded(name)) {
                in.skip();
                continue;
            }
            bool wh = name.find(".wh.") != std::string::npos;
            bool same =
                k < es.size() &&
                ((es[k].kind == Kind::whiteout || es[k].kind == Kind::opaque) ? wh
                                                                              : es[k].path == name);
            if (!same)
                throw Error(Errc::invalid,
                            what + " changed between two reads (entry " + std::to_string(k) + ")",
                            "run `gantry system fsck`");
            std::uint32_t idx = k++;
            const auto& e = es[idx];
            std::string as_path;
            if (plan.emit[i][idx])
                as_path = e.path;
            else if (auto p = plan.promote[i].find(idx); p != plan.promote[i].end())
                as_path = p->second;
            if (as_path.empty() ||
                (opt.keep_arch && (as_path == ".gantry" || as_path == kTailorReportPath))) {
                in.skip(); // a tailoring writes its own record (below)
                continue;
            }
            archive_entry_set_pathname(ae, as_path.c_str());
            if (e.kind == Kind::hardlink) {
                auto r = plan.relink[i].find(idx);
                archive_entry_set_hardlink(ae, r != plan.relink[i].end() ? r->second.c_str()
                                                                         : e.link.c_str());
                archive_entry_set_size(ae, 0);
                out.header(ae);
                in.skip();
                continue;
            }
            if (e.kind != Kind::file) {
                archive_entry_set_hardlink(ae, nullptr);
                out.header(ae);
                in.skip();
                continue;
            }
            archive_entry_set_hardlink(ae, nullptr);
            layer::refuse_vast_sparse(ae, what, "the slimmed layer");
            archive_entry_sparse_clear(ae);
            bool tailor = opt.keep_arch && e.elf && !e.device_code.empty();
            bool strip = stripper && e.elf && e.debug > 0;
            if (tailor || strip) {
                std::string data(e.size, '\0');
                const void* p;
                std::size_t n;
                std::int64_t off;
                while (in.block(p, n, off))
                    if (off >= 0 && static_cast<std::uint64_t>(off) <= e.size &&
                        n <= e.size - static_cast<std::uint64_t>(off))
                        std::memcpy(data.data() + off, p, n);
                if (tailor)
                    for (auto& r : tailor::tailor_file(data, *opt.keep_arch, "/" + as_path))
                        res.tailored.push_back(std::move(r));
                std::string why;
                if (!strip) {
                    out.header(ae);
                    out.data(data.data(), data.size());
                    continue;
                }
                if (auto s = stripper->strip(data, why)) {
                    res.stripped_bytes += data.size() - s->size();
                    ++res.stripped_files;
                    data = std::move(*s);
                } else {
                    ++res.strip_failures;
                    res.warnings.push_back("kept /" + e.path + " unstripped: " + why);
                }
                archive_entry_set_size(ae, static_cast<la_int64_t>(data.size()));
                out.header(ae);
                out.data(data.data(), data.size());
                continue;
            }
            out.header(ae);
            const void* p;
            std::size_t n;
            std::int64_t off, pos = 0;
            static const std::vector<char> zeros(1 << 16, 0);
            while (in.block(p, n, off)) {
                while (pos < off) { // sparse hole: written out as zeros
                    std::size_t z = static_cast<std::size_t>(
                        std::min<std::int64_t>(off - pos, static_cast<std::int64_t>(zeros.size())));
                    out.data(zeros.data(), z);
                    pos += static_cast<std::int64_t>(z);
                }
                out.data(p, n);
                pos += static_cast<std::int64_t>(n);
            }
            while (static_cast<std::uint64_t>(pos) < e.size) {
                std::size_t z = static_cast<std::size_t>(std::min<std::uint64_t>(
                    e.size - static_cast<std::uint64_t>(pos), zeros.size()));
                out.data(zeros.data(), z);
                pos += static_cast<std::int64_t>(z);
            }
        }
    }
    if (opt.keep_arch) write_tailor_record(out, *opt.keep_arch, res);
    auto [blob, diff] = out.finish();
    res.layer_blob = blob;
    res.diff_id = diff;
    res.after_compressed = out.blob_size();

    // Unpack it like any loaded layer (verified again on the way in).
    store::Importer importer(store, store::ImportOptions{opt.privileged, 1});
    store::LayerJob job{blob, diff, "slimmed layer (" + blob.str().substr(0, 19) + "…)",
                        []() -> std::unique_ptr<layer::Reader> {
                            throw Error(Errc::internal, "the new layer blob vanished");
                        }};
    importer.layers({job});

    // Config: same settings, one layer; the old history stays (as empty layers) for the record.
    nlohmann::json cfg = img.config.raw;
    cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", {diff.str()}}};
    nlohmann::json hist = oci::history_as_empty_layers(cfg);
    std::string comment =
        "gantry slim: squashed " + std::to_string(scans.size()) + " layer(s) into one";
    if (opt.keep_arch) {
        auto t = totals(res.tailored);
        comment += "; tailored to " + res.keep_arch + " (" + std::to_string(t.changed) +
                   " rewrite(s), " + std::to_string(t.zeroed) + " bytes of device code zeroed)";
    }
    nlohmann::json mine{{"created_by", opt.note.empty() ? "gantry slim" : opt.note},
                        {"comment", comment}};
    if (cfg.contains("created")) mine["created"] = cfg["created"];
    hist.push_back(mine);
    cfg["history"] = hist;
    if (opt.keep_arch) {
        auto& c = cfg["config"];
        if (!c.is_object()) c = nlohmann::json::object();
        if (!c.contains("Labels") || !c["Labels"].is_object())
            c["Labels"] = nlohmann::json::object();
        c["Labels"][kLabelKeepArch] = res.keep_arch;
        c["Labels"][kLabelRemoved] = removed_label(res.tailored);
        c["Labels"][kLabelReport] = std::string("/") + kTailorReportPath;
    }
    std::string cfg_text = cfg.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
    bool docker = img.manifest.media_type == oci::media::docker_manifest;
    oci::Manifest m = layer::single_layer_manifest(cfg_text, blob, out.blob_size(), docker);
    store.put_blob(cfg_text, m.config.digest);
    res.config = m.config.digest;
    res.manifest = store.put_blob(m.to_json().dump());
    for (auto& [path, ref] : an.view.final) {
        const auto& e = scans[ref.layer].entries[ref.index];
        if (e.kind == Kind::file && !removed_paths.count(path)) res.after_bytes += e.size;
    }
    res.after_bytes -= std::min(res.after_bytes, res.stripped_bytes);
    return res;
}

nlohmann::json plan(const SlimOptions& opt, const analyze::Analysis& an) {
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> by_class;
    nlohmann::json paths = nlohmann::json::array();
    for (auto& [path, ref] : an.view.final) {
        const auto& e = an.scans[ref.layer].entries[ref.index];
        auto cls = removal_class(opt, path, e.kind);
        if (cls.empty()) continue;
        auto& p = by_class[cls];
        ++p.first;
        if (e.kind == Kind::file) p.second += e.size;
        if (paths.size() < 1000) paths.push_back({{"path", "/" + path}, {"class", cls}});
    }
    nlohmann::json j{{"remove", nlohmann::json::object()}, {"paths", paths}};
    for (auto& [c, p] : by_class) j["remove"][c] = {{"files", p.first}, {"bytes", p.second}};
    if (an.report.tailor) j["tailor"] = analyze::to_json(*an.report.tailor);
    return j;
}

nlohmann::json to_json(const SlimResult& r) {
    nlohmann::json removed = nlohmann::json::object();
    for (auto& [c, s] : r.removed) removed[c] = {{"files", s.files}, {"bytes", s.bytes}};
    auto ratio = [](std::uint64_t a, std::uint64_t b) {
        return b ? static_cast<double>(a) / static_cast<double>(b) : 1.0;
    };
    nlohmann::json out{{"manifest_digest", r.manifest.str()},
                       {"id", r.config.str()},
                       {"layer", {{"digest", r.layer_blob.str()}, {"diff_id", r.diff_id.str()}}},
                       {"layers", {{"before", r.before_layers}, {"after", 1}}},
                       {"compressed",
                        {{"before", r.before_compressed},
                         {"after", r.after_compressed},
                         {"ratio", ratio(r.after_compressed, r.before_compressed)}}},
                       {"files_bytes",
                        {{"before", r.before_bytes},
                         {"after", r.after_bytes},
                         {"ratio", ratio(r.after_bytes, r.before_bytes)}}},
                       {"squashed_away_bytes", r.dropped_layer_bytes},
                       {"removed", removed},
                       {"kept_by_rule", r.kept_by_rule},
                       {"stripped",
                        {{"files", r.stripped_files},
                         {"bytes", r.stripped_bytes},
                         {"failures", r.strip_failures}}},
                       {"warnings", r.warnings}};
    if (!r.keep_arch.empty()) out["tailor"] = tailor_json(r.keep_arch, r.tailored);
    return out;
}

} // namespace gantry::slim
