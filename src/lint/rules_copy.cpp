// COPY/ADD rules: GL010 datasets and weights baked in, GL011 whole context before dependencies.
#include "lint/rules.hpp"
#include "lint/rx.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <filesystem>
#include <set>
#include <sys/stat.h>

namespace gantry::lint {

namespace {

namespace stdfs = std::filesystem;

// Sources of COPY/ADD (the destination and heredoc sources dropped), variables expanded.
std::vector<std::string> sources(const Step& step, char esc) {
    const auto& in = *step.in;
    std::vector<std::string> words = in.json ? in.json_args : split_words(in.args, esc);
    if (!words.empty()) words.pop_back();
    std::vector<std::string> out;
    for (auto& w : words) {
        if (w.starts_with("<<")) continue;
        out.push_back(in.json ? w : expand_word(w, step.env, esc).value);
    }
    return out;
}

// Why a source looks like data or weights ("" when it does not).
std::string data_kind(const std::string& src) {
    static const Rx ext(
        R"(\.(pt|pth|ckpt|safetensors|h5|hdf5|onnx|gguf|ggml|npz|npy|tfrecords?|parquet|arrow)$)");
    static const Rx bin(
        R"((model|weight|ckpt|checkpoint|pytorch|adapter|lora|diffusion)[^/]*\.bin$)");
    static const std::set<std::string> dirs = {
        "data",  "dataset", "datasets",   "checkpoints", "checkpoint", "ckpt",
        "ckpts", "weights", "pretrained", "hf_cache",    "huggingface"};
    std::string s = text::lower(src);
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    RxMatch m;
    if (rx_search(s, m, ext)) return "model weights or data (" + m.str(0) + ")";
    if (rx_search(s, bin)) return "model weights (.bin)";
    std::string comp;
    std::vector<std::string> comps;
    for (char c : s + "/") {
        if (c == '/') {
            if (!comp.empty() && comp != ".") comps.push_back(comp);
            comp.clear();
        } else {
            comp += c;
        }
    }
    for (auto& c : comps)
        if (dirs.count(c)) return "a data/checkpoint directory (" + c + "/)";
    if (comps.size() == 1 && (comps[0] == "models" || comps[0] == "model"))
        return "a model directory (" + comps[0] + "/)";
    return {};
}

// Bytes under path (symlinks not followed), stopping once over limit.
std::uint64_t size_upto(const stdfs::path& p, std::uint64_t limit) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode))
        return S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
    std::uint64_t total = 0;
    std::error_code ec;
    for (stdfs::recursive_directory_iterator
             it(p, stdfs::directory_options::skip_permission_denied, ec),
         end;
         !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) total += it->file_size(ec);
        if (total > limit) break;
    }
    return total;
}

std::string human(std::uint64_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(b) / 1e6);
    return buf;
}

bool whole_context(const std::string& s) {
    return s == "." || s == "./" || s == "*" || s == "./*" || s == "/";
}

// A command that installs dependencies (not the project itself).
std::string dependency_install(const Command& c, const Env& env) {
    if (auto a = parse_apt(c); a && a->sub == "install") return c.name() + " install";
    if (parse_other_install(c)) return c.name() + " install";
    if (auto p = parse_pip(c)) {
        if (p->verb == "uv sync" || p->verb == "uv pip sync") return p->verb;
        if (!p->requirements.empty()) return "pip install -r " + p->requirements[0];
        for (auto& pkg : p->packages)
            if (!pkg.empty() && pkg[0] != '.' && pkg[0] != '/' &&
                pkg.find('/') == std::string::npos)
                return "pip install " + shown_word(pkg, env);
        return {};
    }
    if (auto sub = parse_conda(c); sub && (*sub == "install" || *sub == "env create" ||
                                           *sub == "env update" || *sub == "create"))
        return c.name() + " " + *sub;
    auto n = c.name();
    auto sub = c.argv.size() > 1 ? c.argv[1] : "";
    if ((n == "poetry" || n == "pipenv" || n == "yarn") && sub == "install") return n + " install";
    if (n == "uv" && sub == "sync") return "uv sync";
    if (n == "npm" && (sub == "ci" || sub == "install" || sub == "i")) return "npm " + sub;
    return {};
}

} // namespace

void rules_copy(const RuleContext& cx) {
    const char esc = cx.build.file->escape;
    for (const auto& st : cx.build.stages) {
        const Step* whole = nullptr;
        for (const auto& step : st.steps) {
            const auto& kw = step.in->keyword;
            if ((kw == "COPY" || kw == "ADD") && !step.onbuild) {
                bool from_stage = step.in->flag("from") != nullptr;
                for (auto& src : sources(step, esc)) {
                    if (!from_stage && !whole && whole_context(src)) whole = &step;
                    if (!st.ships) continue;
                    std::string kind = data_kind(src);
                    std::uint64_t bytes = 0;
                    if (kind.empty() && !from_stage && cx.opt.context &&
                        src.find_first_of("*?[") == std::string::npos &&
                        src.find("..") == std::string::npos &&
                        src.find("://") == std::string::npos && !whole_context(src)) {
                        bytes = size_upto(*cx.opt.context / stdfs::path(src).relative_path(),
                                          cx.opt.large_bytes);
                        if (bytes > cx.opt.large_bytes)
                            kind = "more than " + human(cx.opt.large_bytes) + " of files";
                    }
                    if (kind.empty()) continue;
                    cx.add("GL010", st, &step,
                           kw + " " + src + " bakes " + kind +
                               " into the image: every rebuild re-ships it and it cannot be "
                               "swapped without a new image",
                           "mount it at run time (gantry run -v HOST_DIR:/models:ro), or for "
                           "build-time use only RUN --mount=type=bind,source=" +
                               src + ",target=/mnt; exclude it in .dockerignore");
                }
            }
            if (kw == "RUN" && whole && !step.onbuild) {
                for (const auto& c : step.commands) {
                    auto what = dependency_install(c, step.env);
                    if (what.empty()) continue;
                    const auto& copy = cx.build.file->instructions[whole->index];
                    cx.add("GL011", st, whole,
                           copy.keyword + " " + copy.args +
                               " copies the whole build context before "
                               "the dependency install on line " +
                               std::to_string(cx.build.file->instructions[step.index].line) + " (" +
                               what +
                               "): any source change re-runs the install and rebuilds its layers",
                           "copy only the dependency manifests first (COPY requirements.txt ./), "
                           "install, then COPY the rest");
                    whole = nullptr;
                    break;
                }
            }
        }
    }
}

} // namespace gantry::lint
