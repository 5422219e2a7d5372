#include "image_build/import.hpp"

#include "dockerfile/dockerfile.hpp"
#include "image_build/add_url.hpp"
#include "image_build/stage_state.hpp"
#include "layer/stream.hpp"
#include "layer/tar_reader.hpp"
#include "oci/image.hpp"
#include "oci/reference.hpp"
#include "store/layer_writer.hpp"
#include "store/single_layer_image.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::image_build {

namespace {

// docker's list (docker import --help)
constexpr std::string_view kImportAllowed[] = {"CMD",    "ENTRYPOINT", "ENV",        "EXPOSE",
                                               "LABEL",  "ONBUILD",    "STOPSIGNAL", "USER",
                                               "VOLUME", "WORKDIR"};
// docker commit's (docker commit --help; STOPSIGNAL is import's only)
constexpr std::string_view kCommitAllowed[] = {"CMD",     "ENTRYPOINT", "ENV",    "EXPOSE", "LABEL",
                                               "ONBUILD", "USER",       "VOLUME", "WORKDIR"};

// A file descriptor as a layer::Reader (the tarball, compressed or not: libarchive's filters
// decompress it in layer::TarReader).
class FdReader final : public layer::Reader {
  public:
    FdReader(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}
    std::size_t read(void* buf, std::size_t n) override {
        for (;;) {
            ssize_t got = ::read(fd_, buf, n);
            if (got >= 0) return static_cast<std::size_t>(got);
            if (errno != EINTR) throw_errno("cannot read " + what_);
        }
    }

  private:
    int fd_;
    std::string what_;
};

std::int64_t now_seconds() {
    if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch)
        return std::strtoll(epoch, nullptr, 10);
    return static_cast<std::int64_t>(std::time(nullptr));
}

} // namespace

namespace {

template <std::size_t N>
std::string allowed_words(const std::string_view (&allowed)[N]) {
    std::string out;
    for (std::size_t i = 0; i < N; ++i)
        out += (i == 0 ? "" : i + 1 == N ? " and " : ", ") + std::string(allowed[i]);
    return out;
}

template <std::size_t N>
nlohmann::json apply_allowed(const std::vector<std::string>& changes, nlohmann::json base,
                             const std::string_view (&allowed)[N], const std::string& verb,
                             const std::string& instead) {
    StageState state;
    state.config = base.is_object() ? std::move(base) : nlohmann::json::object();
    for (auto& change : changes) {
        if (text::first_non_utf8(change))
            throw Error(Errc::usage,
                        "--change '" + safe_json::lossy_utf8(change) +
                            "' holds bytes that are not UTF-8; an image's config is JSON, which "
                            "holds UTF-8 only",
                        "give it as UTF-8");
        dockerfile::Dockerfile parsed;
        try {
            // the parser wants a FROM first, as a Dockerfile has
            parsed = dockerfile::parse_dockerfile("FROM scratch\n" + change);
        } catch (const Error& e) {
            std::string why = e.message(); // "line 2: ...": the change's own first line
            if (why.starts_with("line 2: ")) why.erase(0, 8);
            throw Error(Errc::usage, "--change '" + change + "': " + why,
                        "give one Dockerfile instruction, e.g. --change 'CMD [\"/bin/sh\"]'");
        }
        if (parsed.instructions.size() != 2)
            throw Error(Errc::usage, "--change '" + change + "' is not one instruction",
                        "give each instruction its own --change");
        const auto& ins = parsed.instructions[1];
        if (std::find(std::begin(allowed), std::end(allowed), ins.keyword) == std::end(allowed))
            throw Error(Errc::usage,
                        "--change " + ins.keyword + ": " + verb + " applies only " +
                            allowed_words(allowed),
                        instead);
        if (ins.keyword == "ONBUILD") {
            state.config["OnBuild"].push_back(ins.args);
            continue;
        }
        try {
            state.apply(ins, {}, {});
        } catch (const Error& e) {
            throw Error(Errc::usage, "--change '" + change + "': " + e.message(), e.hint());
        }
    }
    return state.config;
}

} // namespace

nlohmann::json apply_changes(const std::vector<std::string>& changes) {
    return apply_allowed(changes, nlohmann::json::object(), kImportAllowed, "import",
                         "to run commands or copy files, write a Dockerfile FROM the imported "
                         "image and `gantry build` it");
}

nlohmann::json apply_commit_changes(const std::vector<std::string>& changes,
                                    nlohmann::json config) {
    return apply_allowed(changes, std::move(config), kCommitAllowed, "commit",
                         "to run commands or copy files, change the container (gantry exec, "
                         "gantry cp) before the commit, or write a Dockerfile FROM the "
                         "committed image");
}

Imported import_rootfs(store::Store& store, const ImportRequest& req) {
    // everything the line says is checked before a byte is read
    nlohmann::json config = apply_changes(req.changes);
    if (text::first_non_utf8(req.message))
        throw Error(Errc::usage,
                    "--message holds bytes that are not UTF-8; an image's history is JSON, which "
                    "holds UTF-8 only",
                    "give it as UTF-8");
    auto platform =
        req.platform.empty() ? oci::Platform::host() : oci::Platform::parse(req.platform);
    Imported res;
    if (req.ref.empty())
        throw Error(Errc::usage, "import needs a name for the image",
                    "gantry import " + (req.source.empty() ? std::string("FILE") : req.source) +
                        " NAME[:TAG] (gantry import makes no untagged image; gantry commit "
                        "and build do)");
    res.ref = oci::Reference::parse(req.ref).str();

    // a URL's download, in the store's tmp/ and removed however this ends
    struct Download {
        fs::stdfs::path dir;
        ~Download() {
            if (dir.empty()) return;
            try {
                fs::remove_tree(dir);
            } catch (const Error&) {
            }
        }
    } download;
    std::string what = req.source == "-" ? std::string("standard input") : req.source;
    Fd fd;
    if (req.source == "-") {
        fd = Fd(::dup(STDIN_FILENO));
    } else if (is_url(req.source)) {
        download.dir = store.tmp_dir() / ("import-" + fs::unique_name());
        auto got = fetch_url(req.source, download.dir, "");
        fd = Fd(::open((got.dir / got.name).c_str(), O_RDONLY | O_CLOEXEC));
    } else {
        fd = Fd(::open(req.source.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd)
            throw sys_error(errno, "cannot open " + req.source,
                            "give a root filesystem tar (plain or compressed), - for standard "
                            "input, or an http(s) URL");
    }
    if (!fd) throw_errno("cannot open " + what);
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode))
        throw Error(Errc::usage, what + " is a directory, not a tar",
                    "tar it on the way: tar -C " + what + " -c . | gantry import - NAME[:TAG]");

    store::LayerWriter out(store);
    FdReader in(fd.get(), what);
    layer::TarReader tar(in, what, layer::TarReader::Input::tar_or_compressed);
    res.entries = out.copy_entries(tar);
    if (res.entries == 0)
        throw Error(Errc::invalid, what + " holds no files",
                    "give a tar of a root filesystem, e.g. `tar -C ROOT -c . | gantry import - "
                    "NAME`");
    auto digests = out.finish();
    const std::string created = text::rfc3339(now_seconds());
    nlohmann::json cfg{{"architecture", platform.architecture},
                       {"os", platform.os.empty() ? "linux" : platform.os},
                       {"created", created},
                       {"config", config}};
    if (!platform.variant.empty()) cfg["variant"] = platform.variant;
    cfg["history"] = nlohmann::json::array(
        {{{"created", created},
          {"comment", req.message.empty() ? "Imported from " + req.source : req.message}}});
    auto image = store::commit_single_layer_image(store, out, digests, std::move(cfg),
                                                  "the layer of " + what, res.ref, req.privileged);
    res.config = image.config;
    res.manifest = image.manifest;
    return res;
}

} // namespace gantry::image_build
