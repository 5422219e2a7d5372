#include "cli/context.hpp"
#include "docker_model/images.hpp"
#include "image_list/image_list.hpp"
#include "oci/reference.hpp"
#include "registry/verify.hpp"
#include "util/units.hpp"

#include <cstdio>

namespace gantry::cli {

void register_images(CLI::App& app, Context& ctx) {
    struct Opts {
        bool json = false, digests = false, quiet = false, all = false, no_trunc = false;
        std::string format;
        std::vector<std::string> filters;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("images", "List images in the store");
    cmd->alias("ls");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->add_flag("--digests", o->digests, "Show manifest digests");
    cmd->add_flag("-q,--quiet", o->quiet, "Print image IDs only");
    cmd->add_flag("-a,--all", o->all,
                  "docker's: also intermediate images; gantry keeps none (a build's steps are "
                  "its cache, not images), so the list is the same");
    cmd->add_flag("--no-trunc", o->no_trunc, "Show whole image IDs (--format's .ID)");
    cmd->add_option("-f,--filter", o->filters,
                    "docker's filters: label=KEY[=VALUE], reference=PATTERN, dangling=true|false, "
                    "before=, since=IMAGE (label= repeated: all; another key repeated: any; "
                    "different keys: all)")
        ->allow_extra_args(false);
    cmd->add_option("--format", o->format,
                    "A Go template over docker's fields ({{.Repository}} {{.Tag}} {{.ID}} "
                    "...), 'table ...' or 'json'");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            refuse_json_with_format(o->json, o->format);
            auto& store = ctx.store();
            auto listing = image_list::list(store, ctx.image_stores, o->filters);
            const bool fmt = !o->format.empty() && !o->quiet;
            std::vector<oci::json> formatted;
            oci::json out = oci::json::array();
            std::vector<std::vector<std::string>> rows;
            rows.push_back({"REPOSITORY", "TAG"});
            if (o->digests) rows[0].push_back("DIGEST");
            for (auto h : {"IMAGE ID", "CREATED", "PLATFORM", "SIZE"}) rows[0].push_back(h);
            bool any_shared = false;
            for (auto& e : listing.entries) {
                if (fmt) {
                    formatted.push_back(
                        docker_model::images_row({e.facts, e.size, e.compressed}, o->no_trunc));
                    continue;
                }
                if (e.where == image_list::Where::shared) {
                    const auto& s = *e.shared;
                    if (o->quiet) {
                        std::printf("%s\n", s.manifest.short_id().c_str());
                        continue;
                    }
                    // a SIF file of the store: its name is what `run NAME` takes; no tag
                    std::string repo = s.ref, tag = "-";
                    if (!s.sif) {
                        auto r = oci::Reference::parse(s.ref);
                        repo = r.repository();
                        tag = r.tag.empty() ? "<none>" : r.tag;
                    }
                    if (o->json) {
                        out.push_back({{"reference", s.ref},
                                       {"repository", repo},
                                       {"tag", s.sif ? std::string() : tag},
                                       {"digest", s.sif ? std::string() : s.manifest.str()},
                                       {"image_store", s.store},
                                       {"file", s.file},
                                       {"format", s.sif ? "sif" : "squashfs"}});
                        continue;
                    }
                    if (!any_shared) // a STORE column says where each image is
                        for (auto& row : rows) row.push_back(&row == &rows[0] ? "STORE" : "local");
                    any_shared = true;
                    std::vector<std::string> row{repo, tag};
                    if (o->digests) row.push_back(s.sif ? "<none>" : s.manifest.str());
                    row.push_back(s.manifest.short_id());
                    row.push_back("-");
                    row.push_back("-");
                    row.push_back(e.present ? human_size(e.size) : "missing");
                    row.push_back(s.store == listing.shared_dirs[0] ? "sqsh-cache" : s.store);
                    rows.push_back(row);
                    continue;
                }
                // an untagged image (store::Store::untagged) has no reference: <none>:<none>
                oci::Reference r;
                if (e.facts.reference.empty())
                    r.path = "<none>";
                else
                    r = oci::Reference::parse(e.facts.reference);
                const bool lazy = e.where == image_list::Where::lazy;
                auto id = oci::Digest::parse(e.facts.id);
                if (o->quiet) {
                    std::printf("%s\n", id.short_id().c_str());
                    continue;
                }
                if (o->json && lazy) {
                    out.push_back({{"reference", e.facts.reference},
                                   {"repository", r.repository()},
                                   {"tag", r.tag},
                                   {"id", e.facts.id},
                                   {"digest", e.facts.digest},
                                   {"size", e.size},
                                   {"lazy", {{"local", e.local_bytes}, {"total", e.size}}}});
                    continue;
                }
                if (o->json) {
                    const auto& img = *e.image;
                    out.push_back({{"reference", e.facts.reference},
                                   {"repository", r.repository()},
                                   {"tag", r.tag},
                                   {"id", img.id().str()},
                                   {"digest", img.manifest_digest.str()},
                                   {"created", img.config.created},
                                   {"platform", img.config.platform.str()},
                                   {"size", e.size},
                                   {"compressed_size", e.compressed},
                                   {"policy", registry::recorded_verdict(store, e.facts.reference,
                                                                         img.manifest_digest)}});
                    continue;
                }
                std::vector<std::string> row{r.repository(), r.tag.empty() ? "<none>" : r.tag};
                if (o->digests) row.push_back(e.facts.digest);
                row.push_back(id.short_id());
                if (lazy) {
                    row.push_back("-");
                    row.push_back("-");
                    row.push_back(human_size(e.size) + " (" + e.lazy_text + ")");
                } else {
                    const auto& img = *e.image;
                    std::string created = // docker's words
                        units::human_ago(img.config.created, img.config.created.substr(0, 19));
                    row.push_back(created.empty() ? "-" : created);
                    row.push_back(img.config.platform.str());
                    row.push_back(human_size(e.size));
                }
                rows.push_back(row);
            }
            if (fmt) return print_formatted(o->format, docker_model::images_listing(), formatted);
            return print_listing(o->json, o->quiet, out, rows);
        };
    });
}

} // namespace gantry::cli
