#include "cli/context.hpp"
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
#include <sys/stat.h>

namespace gantry::cli {

void register_images(CLI::App& app, Context& ctx) {
    struct Opts {
        bool json = false, digests = false, quiet = false, all = false;
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
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            auto& store = ctx.store();
            oci::json out = oci::json::array();
            std::vector<std::vector<std::string>> rows;
            rows.push_back({"REPOSITORY", "TAG"});
            if (o->digests) rows[0].push_back("DIGEST");
            for (auto h : {"IMAGE ID", "CREATED", "PLATFORM", "SIZE"}) rows[0].push_back(h);
            for (auto& [ref, md] : store.refs()) {
                store::Image img;
                try {
                    img = store::read_image(store, md);
                } catch (const Error& e) {
                    log::warn(ref + ": " + e.message() + " (run `gantry system fsck`)");
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
                                   {"size", img.compressed_size()},
                                   {"policy", registry::recorded_verdict(store, ref, md)}});
                    continue;
                }
                std::vector<std::string> row{r.repository(), r.tag.empty() ? "<none>" : r.tag};
                if (o->digests) row.push_back(md.str());
                row.push_back(img.id().short_id());
                row.push_back(created.empty() ? "-" : created);
                row.push_back(img.config.platform.str());
                row.push_back(human_size(static_cast<std::uint64_t>(img.compressed_size())));
                rows.push_back(row);
            }
            // lazily pulled images: how much of each is local (lazy/store_layers.hpp)
            for (auto& rec : lazy::records(store)) {
                std::pair<std::uint64_t, std::uint64_t> bytes;
                std::string lazy = lazy::local_text(store, rec.ref, &bytes);
                if (lazy.empty()) continue;
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
            if (!shared.empty() && !o->json && !o->quiet)
                for (auto& row : rows) row.push_back(&row == &rows[0] ? "STORE" : "local");
            for (auto& s : shared) {
                auto r = oci::Reference::parse(s.ref);
                if (o->quiet) {
                    std::printf("%s\n", s.manifest.short_id().c_str());
                    continue;
                }
                if (o->json) {
                    out.push_back({{"reference", s.ref},
                                   {"repository", r.repository()},
                                   {"tag", r.tag},
                                   {"digest", s.manifest.str()},
                                   {"image_store", s.store},
                                   {"file", s.file}});
                    continue;
                }
                std::vector<std::string> row{r.repository(), r.tag.empty() ? "<none>" : r.tag};
                if (o->digests) row.push_back(s.manifest.str());
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
            return print_listing(o->json, o->quiet, out, rows);
        };
    });
}

} // namespace gantry::cli
