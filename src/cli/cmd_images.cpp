#include "cli/context.hpp"
#include "docker_model/images.hpp"
#include "lazy/store_layers.hpp"
#include "oci/reference.hpp"
#include "registry/verify.hpp"
#include "sqsh/cache.hpp"
#include "sqsh/shared.hpp"
#include "store/images.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/units.hpp"

#include <cstdio>
#include <set>
#include <sys/stat.h>

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
            // every listed image's facts first: the filters' before/since name any of them
            struct Local {
                std::string ref;
                store::Image img;
            };
            std::vector<Local> locals;
            std::vector<docker_model::ImageFacts> facts;
            for (auto& [ref, md] : store.refs()) {
                try {
                    locals.push_back({ref, store::read_image(store, md)});
                } catch (const Error& e) {
                    log::warn(ref + ": " + e.message() + " (run `gantry system fsck`)");
                    continue;
                }
                facts.push_back(docker_model::image_facts(locals.back().img, ref));
            }
            std::optional<docker_model::ImageFilter> filter;
            if (!o->filters.empty()) filter.emplace(o->filters, facts);
            auto keep = [&](const docker_model::ImageFacts& f) {
                return !filter || filter->matches(f);
            };
            std::vector<oci::json> formatted;
            // docker's SIZE: unpacked, recorded in refs.json (computed once for older images)
            std::set<oci::Digest> manifests;
            for (auto& l : locals) manifests.insert(l.img.manifest_digest);
            auto sizes = store::image_sizes(store, manifests);
            auto size_of = [&](const store::Image& img) {
                auto c = static_cast<std::uint64_t>(img.compressed_size());
                auto it = sizes.find(img.manifest_digest);
                return it != sizes.end() ? store::ImageSize{it->second.unpacked, c}
                                         : store::ImageSize{c, c}; // no unpacked tree
            };
            auto add_formatted = [&](const docker_model::ImageFacts& f, std::uint64_t size,
                                     std::uint64_t compressed) {
                formatted.push_back(docker_model::images_row({f, size, compressed}, o->no_trunc));
            };
            const bool fmt = !o->format.empty() && !o->quiet;
            oci::json out = oci::json::array();
            std::vector<std::vector<std::string>> rows;
            rows.push_back({"REPOSITORY", "TAG"});
            if (o->digests) rows[0].push_back("DIGEST");
            for (auto h : {"IMAGE ID", "CREATED", "PLATFORM", "SIZE"}) rows[0].push_back(h);
            for (std::size_t i = 0; i < locals.size(); ++i) {
                const auto& ref = locals[i].ref;
                const auto& img = locals[i].img;
                const auto md = img.manifest_digest;
                if (!keep(facts[i])) continue;
                const auto sz = size_of(img);
                if (fmt) {
                    add_formatted(facts[i], sz.unpacked, sz.compressed);
                    continue;
                }
                auto r = oci::Reference::parse(ref);
                std::string created = // docker's words
                    units::human_ago(img.config.created, img.config.created.substr(0, 19));
                if (o->quiet) {
                    std::printf("%s\n", img.id().short_id().c_str());
                    continue;
                }
                if (o->json) {
                    out.push_back({{"reference", ref},
                                   {"repository", r.repository()},
                                   {"tag", r.tag},
                                   {"id", img.id().str()},
                                   {"digest", md.str()},
                                   {"created", img.config.created},
                                   {"platform", img.config.platform.str()},
                                   {"size", sz.unpacked},
                                   {"compressed_size", sz.compressed},
                                   {"policy", registry::recorded_verdict(store, ref, md)}});
                    continue;
                }
                std::vector<std::string> row{r.repository(), r.tag.empty() ? "<none>" : r.tag};
                if (o->digests) row.push_back(md.str());
                row.push_back(img.id().short_id());
                row.push_back(created.empty() ? "-" : created);
                row.push_back(img.config.platform.str());
                row.push_back(human_size(sz.unpacked));
                rows.push_back(row);
            }
            // lazily pulled images: how much of each is local (lazy/store_layers.hpp)
            for (auto& rec : lazy::records(store)) {
                std::pair<std::uint64_t, std::uint64_t> bytes;
                std::string lazy = lazy::local_text(store, rec.ref, &bytes);
                if (lazy.empty()) continue;
                docker_model::ImageFacts lf{rec.ref, rec.config.str(), rec.manifest.str(), "", {}};
                if (!keep(lf)) continue;
                if (fmt) {
                    add_formatted(lf, bytes.second, bytes.second);
                    continue;
                }
                auto r = oci::Reference::parse(rec.ref);
                if (o->quiet) {
                    std::printf("%s\n", rec.config.short_id().c_str());
                    continue;
                }
                if (o->json) {
                    out.push_back({{"reference", rec.ref},
                                   {"repository", r.repository()},
                                   {"tag", r.tag},
                                   {"id", rec.config.str()},
                                   {"digest", rec.manifest.str()},
                                   {"size", bytes.second},
                                   {"lazy", {{"local", bytes.first}, {"total", bytes.second}}}});
                    continue;
                }
                std::vector<std::string> row{r.repository(), r.tag.empty() ? "<none>" : r.tag};
                if (o->digests) row.push_back(rec.manifest.str());
                row.push_back(rec.config.short_id());
                row.push_back("-");
                row.push_back("-");
                row.push_back(human_size(bytes.second) + " (" + lazy + ")");
                rows.push_back(row);
            }
            // the shared stores' images, after the local ones (a STORE column says where)
            auto dirs = sqsh::search_dirs(store, ctx.image_stores);
            auto shared = sqsh::list_shared(dirs);
            if (!shared.empty() && !o->json && !o->quiet && !fmt)
                for (auto& row : rows) row.push_back(&row == &rows[0] ? "STORE" : "local");
            for (auto& s : shared) {
                docker_model::ImageFacts sf{s.ref, s.manifest.str(), s.manifest.str(), "", {}};
                if (!keep(sf)) continue;
                if (fmt) {
                    struct stat fst {};
                    auto n = ::stat(s.file.c_str(), &fst) == 0
                                 ? static_cast<std::uint64_t>(fst.st_size)
                                 : 0;
                    add_formatted(sf, n, n);
                    continue;
                }
                if (o->quiet) {
                    std::printf("%s\n", s.manifest.short_id().c_str());
                    continue;
                }
                // a SIF file of the store: its name is what `run NAME` takes; it has no tag
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
                std::vector<std::string> row{repo, tag};
                if (o->digests) row.push_back(s.sif ? "<none>" : s.manifest.str());
                struct stat st {};
                bool present = ::stat(s.file.c_str(), &st) == 0;
                row.push_back(s.manifest.short_id());
                row.push_back("-");
                row.push_back("-");
                row.push_back(present ? human_size(static_cast<std::uint64_t>(st.st_size))
                                      : "missing");
                row.push_back(s.store == dirs[0] ? "sqsh-cache" : s.store);
                rows.push_back(row);
            }
            if (fmt) return print_formatted(o->format, docker_model::images_listing(), formatted);
            return print_listing(o->json, o->quiet, out, rows);
        };
    });
}

} // namespace gantry::cli
