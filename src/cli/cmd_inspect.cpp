#include "cli/context.hpp"
#include "docker_model/containers.hpp"
#include "docker_model/images.hpp"
#include "engine/squashfs.hpp"
#include "records/state.hpp"
#include "sif/container.hpp"
#include "sif/metadata.hpp"
#include "site/file_signature.hpp"
#include "sqsh/cache.hpp"
#include "sqsh/image_ref.hpp"
#include "sqsh/shared.hpp"
#include "store/images.hpp"
#include "store/platforms.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/printable.hpp"

#include <cstdio>

namespace gantry::cli {

namespace {

// A SIF's container: its header's id and times, its objects, the partition a run mounts.
oci::json describe_sif(const sif::Container& c, const sqsh::Image& image) {
    oci::json objects = oci::json::array();
    for (auto& o : c.objects) {
        oci::json e{{"id", o.id},
                    {"type", sif::type_name(o.type)},
                    {"name", o.name},
                    {"offset", o.offset},
                    {"size", o.size}};
        if (o.group) e["group"] = o.group;
        if (!o.digest.empty()) e["digest"] = o.digest;
        if (o.type == static_cast<std::int32_t>(sif::DataType::partition))
            e["partition"] = {
                {"fs", sif::fs_name(o.fs)}, {"type", sif::part_name(o.part)}, {"arch", o.arch}};
        objects.push_back(e);
    }
    return {{"id", c.id},
            {"arch", c.arch},
            {"created", c.created},
            {"modified", c.modified},
            {"mounted", {{"offset", image.window_offset()}, {"size", image.window_size()}}},
            {"objects", objects}};
}

// The description of a squashfs image with header H (or none), superblock SB, config RAW.
oci::json describe_squashfs(const std::string& path, const std::optional<sqsh::Header>& h,
                            const sqsh::Superblock& sb, const oci::json& raw,
                            const oci::json& diffs, const std::string& format) {
    return {{"file", path},
            {"format", format},
            {"digest", h ? oci::json(h->manifest.str()) : oci::json(nullptr)},
            {"id", h ? oci::json(h->config_digest.str()) : oci::json(nullptr)},
            {"references", oci::json::array()},
            {"created", raw.value("created", "")},
            {"platform", oci::Platform::from_json(raw).str()},
            {"size", sb.bytes_used},
            {"squashfs",
             {{"compression", sqsh::compression_name(sb.compression)},
              {"block_size", sb.block_size},
              {"inodes", sb.inodes}}},
            {"config", raw.contains("config") ? raw["config"] : oci::json::object()},
            {"diff_ids", diffs}};
}

// A squashfs file: its header's config (empty for a squashfs gantry did not write; Apptainer's
// metadata for a SIF), read by a confined process (engine/squashfs.hpp).
oci::json describe_file(const std::string& path) {
    auto file = engine::open_squashfs(path, false);
    const auto& h = file.facts.header;
    const auto& sb = file.facts.super;
    const auto& md = file.facts.sif;
    oci::json raw = h ? oci::parse_json(h->config, path + "'s config") : oci::json::object();
    if (md && !h) raw = sif::image_config(*md, file.facts.sif_arch);
    oci::json diffs = oci::json::array();
    if (h)
        for (auto& d : h->diff_ids) diffs.push_back(d.str());
    std::string format = file.facts.oci_sif
                             ? "OCI-SIF (SingularityCE 4: its squashfs layer, the image's config)"
                         : h && md ? "Apptainer SIF written by gantry (its squashfs partition's "
                                     "gantry header holds the image's config)"
                         : h       ? "gantry squashfs"
                         : md      ? "Apptainer SIF (squashfs partition; Apptainer's metadata)"
                                   : "squashfs (no gantry header: empty config)";
    oci::json out = describe_squashfs(path, h, sb, raw, diffs, format);
    if (file.image->sif()) out["sif"] = describe_sif(*file.image->sif(), *file.image);
    return out;
}

// Whether REF is a name or an ID of the store (not a squashfs file or a shared store's image).
bool in_store(const store::Store& store, const std::string& ref) {
    if (sqsh::file_of(ref)) return false;
    try {
        (void)store::resolve(store, ref);
        return true;
    } catch (const Error& e) {
        if (e.code() != Errc::not_found) throw;
        return false;
    }
}

// The image of REF to inspect: PLATFORM's (store/platforms.hpp) or the name's default.
store::Image image_of(store::Store& store, const std::string& ref,
                      const std::optional<oci::Platform>& platform) {
    if (!platform) return store::find_image(store, ref);
    return store::read_image(store, store::resolve_platform(store, ref, *platform));
}

oci::json describe(store::Store& store, const std::vector<std::string>& stores,
                   const std::string& ref, const std::optional<oci::Platform>& platform) {
    if (platform && !in_store(store, ref)) {
        // a squashfs file or a shared store's image is of one platform: the one asked, or none
        auto j = describe(store, stores, ref, std::nullopt);
        std::string have = j["platform"].is_string() ? j["platform"].get<std::string>() : "";
        bool accepted = false;
        try {
            accepted = !have.empty() && platform->accepts(oci::Platform::parse(have));
        } catch (const Error&) { // a platform string gantry does not read: not the one asked
        }
        if (!accepted)
            throw Error(Errc::not_found,
                        "image " + ref + " is built for " + (have.empty() ? "no platform" : have) +
                            ", not for " + platform->str(),
                        "inspect it without --platform");
        return j;
    }
    if (auto file = sqsh::file_of(ref)) {
        site::verify_file(*file); // policy.json's "sif" scopes, as for a run
        return describe_file(*file);
    }
    store::Image img;
    try {
        img = image_of(store, ref, platform);
    } catch (const Error& e) {
        if (e.code() != Errc::not_found) throw;
        auto shared = sqsh::find_shared(sqsh::search_dirs(store, stores), ref);
        if (!shared) throw;
        auto j = describe_file(shared->file);
        j["image_store"] = shared->store;
        if (!shared->ref.empty()) j["references"].push_back(shared->ref);
        return j;
    }
    const auto& md = img.manifest_digest;
    oci::json layers = oci::json::array();
    std::int64_t unpacked_total = 0;
    for (size_t i = 0; i < img.manifest.layers.size(); ++i) {
        const auto& l = img.manifest.layers[i];
        const auto& diff = img.config.diff_ids.at(i);
        oci::json e{{"digest", l.digest.str()},
                    {"diff_id", diff.str()},
                    {"media_type", l.media_type},
                    {"size", l.size}};
        try {
            auto meta = oci::parse_json(fs::read_file(store.layer_dir(diff) / "meta.json"),
                                        "layer metadata");
            e["unpacked_size"] = meta.value("size", std::int64_t{0});
            e["files"] = meta.value("files", std::int64_t{0});
            unpacked_total += meta.value("size", std::int64_t{0});
        } catch (const Error&) {
            e["unpacked_size"] = nullptr; // not unpacked: fsck reports it
        }
        layers.push_back(e);
    }
    oci::json history = oci::json::array();
    for (auto& h : img.config.history)
        history.push_back({{"created", h.created},
                           {"created_by", h.created_by},
                           {"empty_layer", h.empty_layer},
                           {"comment", h.comment}});
    const auto& raw = img.config.raw;
    return {{"id", img.id().str()},
            {"digest", md.str()},
            {"references", img.refs},
            {"media_type", img.manifest.media_type},
            {"created", img.config.created},
            {"platform", img.config.platform.str()},
            {"size", img.compressed_size()},
            {"unpacked_size", unpacked_total},
            {"config", raw.contains("config") ? raw["config"] : oci::json::object()},
            {"layers", layers},
            {"history", history},
            {"manifest", img.manifest.to_json()}};
}

// A config field (Entrypoint, Env, ...) as its JSON, printable (an image's values are chosen by
// whoever built it: U+2028 or an invalid byte in them ends no line here).
std::string config_text(const oci::json& v) {
    return text::printable(v.dump(-1, ' ', false, oci::json::error_handler_t::replace));
}

// V, a string of an image's, printable (util/printable.hpp); null: <none>.
std::string field_text(const oci::json& v) {
    return text::printable(v.is_null() ? std::string("<none>") : v.get<std::string>());
}

void print_file(const oci::json& d) {
    auto str = [&](const char* k) { return field_text(d[k]); };
    const auto& s = d["squashfs"];
    std::printf("File:       %s\nFormat:     %s\nDigest:     %s\nID:         %s\n"
                "Platform:   %s\nCreated:    %s\nSize:       %s (%s, %s blocks, %llu inodes)\n",
                str("file").c_str(), str("format").c_str(), str("digest").c_str(),
                str("id").c_str(), str("platform").c_str(), str("created").c_str(),
                human_size(d["size"].get<std::uint64_t>()).c_str(),
                s["compression"].get<std::string>().c_str(),
                human_size(s["block_size"].get<std::uint64_t>()).c_str(),
                static_cast<unsigned long long>(s["inodes"].get<std::uint64_t>()));
    if (d.contains("sif")) {
        const auto& m = d["sif"]["mounted"];
        std::printf("SIF:        %s, %zu objects; the squashfs partition at byte %llu (%s)\n",
                    field_text(d["sif"]["id"]).c_str(), d["sif"]["objects"].size(),
                    static_cast<unsigned long long>(m["offset"].get<std::uint64_t>()),
                    human_size(m["size"].get<std::uint64_t>()).c_str());
    }
    const auto& c = d["config"];
    for (auto key : {"Entrypoint", "Cmd", "WorkingDir", "User", "Env", "Labels"})
        if (c.contains(key) && !c[key].is_null())
            std::printf("%-11s %s\n", (std::string(key) + ":").c_str(),
                        config_text(c[key]).c_str());
}

// docker's inspect of each NAME as TYPE ("" : a container first, then an image, as docker
// looks them up), printed as docker prints it: a JSON array, or FORMAT once per object.
int inspect_docker(Context& ctx, const std::vector<std::string>& names, const std::string& type,
                   const std::string& format, const std::optional<oci::Platform>& platform) {
    records::StateDir states;
    std::vector<oci::json> objects;
    for (auto& n : names) {
        if (type != "image" && !platform) { // --platform: docker's image inspect
            if (auto s = states.find(n)) {
                objects.push_back(docker_model::inspect_container(*s, s->running()));
                continue;
            }
            if (type == "container")
                throw Error(Errc::not_found, "no such container: " + n,
                            "`gantry ps -a` lists the containers");
        }
        try {
            auto img = image_of(ctx.store(), n, platform);
            objects.push_back(docker_model::inspect_image(ctx.store(), img));
        } catch (const Error& e) {
            if (e.code() != Errc::not_found || !type.empty()) throw;
            throw Error(Errc::not_found, "no such object: " + n,
                        "`gantry ps -a` lists containers, `gantry images` images");
        }
    }
    if (!format.empty())
        return print_formatted(format,
                               docker_model::inspect_listing(type == "image"       ? "an image"
                                                             : type == "container" ? "a container"
                                                                                   : "the object"),
                               objects);
    std::printf(
        "%s\n",
        oci::json(objects).dump(4, ' ', false, oci::json::error_handler_t::replace).c_str());
    return 0;
}

// Without --type and --format: gantry's own view when every name is an image (or a squashfs
// file, or in a shared store); false when one is only a container's name.
bool gantry_view_applies(Context& ctx, const std::vector<std::string>& names, bool json) {
    if (json) return true;
    records::StateDir states;
    for (auto& n : names) {
        if (sqsh::file_of(n)) continue;
        try {
            (void)store::resolve(ctx.store(), n);
        } catch (const Error& e) {
            if (e.code() == Errc::not_found && states.find(n)) return false;
        }
    }
    return true;
}

} // namespace

void register_inspect(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> refs;
        bool json = false;
        std::string format, type, platform;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "inspect", "Show an image's manifest, config, layers and history; or, with --type or "
                   "--format, docker's JSON of a container or an image");
    cmd->add_option("name", o->refs, "Images (names or IDs), or containers")->required();
    cmd->add_flag("--json", o->json, "Print gantry's JSON of the images");
    cmd->add_option("--type", o->type,
                    "container or image: docker's JSON of that kind of object (by default an "
                    "image, then a container of that name)");
    cmd->add_option("-f,--format", o->format,
                    "A Go template over docker's JSON ({{.State.Status}}, {{.Config.Labels}}, "
                    "{{json .}})");
    cmd->add_option("--platform", o->platform,
                    "OS/ARCH[/VARIANT]: the image of that platform of a name holding several "
                    "(docker 28's; by default the host's, else the one added last)");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            refuse_json_with_format(o->json, o->format);
            std::optional<oci::Platform> platform;
            if (!o->platform.empty()) platform = oci::Platform::parse(o->platform);
            if (platform && o->type == "container")
                throw Error(Errc::usage, "--platform picks an image of a name; a container has one",
                            "drop --platform, or use --type image");
            if (!o->type.empty() && o->type != "container" && o->type != "image")
                throw Error(Errc::usage, "--type " + o->type + ": not a kind gantry inspects",
                            "use --type container or --type image");
            if (o->json && o->type == "container")
                throw Error(Errc::usage, "--json prints gantry's JSON of images",
                            "`gantry ps -a --json` for gantry's, or drop --json for docker's");
            if (!o->type.empty() || !o->format.empty() ||
                !gantry_view_applies(ctx, o->refs, o->json))
                return inspect_docker(ctx, o->refs, o->type, o->format, platform);
            oci::json all = oci::json::array();
            for (auto& r : o->refs)
                all.push_back(describe(ctx.store(), ctx.image_stores, r, platform));
            if (o->json) {
                std::printf("%s\n", all.dump(2).c_str());
                return 0;
            }
            for (auto& d : all) {
                if (d.contains("file")) {
                    print_file(d);
                    continue;
                }
                const auto& refs = d["references"];
                std::printf("Image:      %s\n",
                            refs.empty() ? "<none>" : field_text(refs[0]).c_str());
                for (size_t i = 1; i < refs.size(); ++i)
                    std::printf("            %s\n", field_text(refs[i]).c_str());
                std::printf("ID:         %s\nDigest:     %s\nMedia type: %s\nPlatform:   %s\n"
                            "Created:    %s\nSize:       %s compressed, %s unpacked\n",
                            field_text(d["id"]).c_str(), field_text(d["digest"]).c_str(),
                            field_text(d["media_type"]).c_str(), field_text(d["platform"]).c_str(),
                            field_text(d["created"]).c_str(),
                            human_size(d["size"].get<std::uint64_t>()).c_str(),
                            human_size(d["unpacked_size"].get<std::uint64_t>()).c_str());
                const auto& c = d["config"];
                for (auto key : {"Entrypoint", "Cmd", "WorkingDir", "User", "Env"})
                    if (c.contains(key) && !c[key].is_null())
                        std::printf("%-11s %s\n", (std::string(key) + ":").c_str(),
                                    config_text(c[key]).c_str());
                std::vector<std::vector<std::string>> rows{
                    {"LAYER", "DIGEST", "SIZE", "UNPACKED", "FILES"}};
                int i = 0;
                for (auto& l : d["layers"])
                    rows.push_back(
                        {std::to_string(++i), l["digest"].get<std::string>().substr(0, 19),
                         human_size(l["size"].get<std::uint64_t>()),
                         l["unpacked_size"].is_null()
                             ? "missing"
                             : human_size(l["unpacked_size"].get<std::uint64_t>()),
                         l.contains("files") ? std::to_string(l["files"].get<long>()) : "-"});
                std::printf("\n");
                print_table(rows);
                if (!d["history"].empty()) {
                    std::printf("\nHistory:\n");
                    for (auto& h : d["history"])
                        std::printf("  %s%s\n", field_text(h["created_by"]).c_str(),
                                    h["empty_layer"].get<bool>() ? "  (no layer)" : "");
                }
            }
            return 0;
        };
    });
}

} // namespace gantry::cli
