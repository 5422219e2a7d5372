// GPU rules over every vendor's toolkit: GL008 framework build (torch, jaxlib) vs the base's CUDA
// or ROCm, GL014 weights downloaded by RUN, GL016 a variable that chooses GPUs fixed in the image
// (each vendor's RuleSet::visible_devices). The rules that name one vendor's tools are the
// vendor's (gpu_vendors/<vendor>/lint_rules.cpp).
#include "lint/installed_stack.hpp"
#include "lint/rules.hpp"
#include "lint/rx.hpp"
#include "lint/torch_pypi.hpp"
#include "util/text.hpp"

namespace gantry::lint {

namespace {

std::string expanded(const std::string& w, const Env& env) {
    return shown_word(w, env);
}

// A framework wheel's GPU stack, from its local version: "cu121" -> CUDA 12.1, "cpu",
// "rocm6.1" / "rocm6.2.4" (torch) -> ROCm 6.1 / 6.2, "rocm611" / "rocm550" (jaxlib, ROCm/jax's
// release wheels: one digit per component) -> ROCm 6.1 / 5.5. nullopt for anything else, also
// for numbers too long to be a version.
struct WheelStack {
    enum Kind { cpu, cuda, rocm } kind = cpu;
    std::pair<int, int> v{0, 0};
    std::string local; // as written: "cu121", "rocm6.1"
};

std::optional<WheelStack> wheel_stack(const std::string& local) {
    static const Rx cu(R"(^cu(\d{2,4})$)", RxCase::insensitive);
    static const Rx rocm_dotted(R"(^rocm(\d+)\.(\d+)(?:\.\d+)?$)", RxCase::insensitive);
    static const Rx rocm_compact(R"(^rocm(\d)(\d)\d?$)", RxCase::insensitive);
    WheelStack w;
    w.local = local;
    RxMatch m;
    if (text::lower(local) == "cpu") return w;
    if (rx_match(local, m, cu)) {
        auto n = version_number(m[1].str());
        if (!n) return std::nullopt;
        w.kind = WheelStack::cuda;
        w.v = {*n / 10, *n % 10};
        return w;
    }
    if (rx_match(local, m, rocm_dotted) || rx_match(local, m, rocm_compact)) {
        auto v = version_pair(m[1].str(), m[2].str());
        if (!v) return std::nullopt;
        w.kind = WheelStack::rocm;
        w.v = *v;
        return w;
    }
    return std::nullopt;
}

std::string ver(std::pair<int, int> v) {
    return std::to_string(v.first) + "." + std::to_string(v.second);
}

std::string base_text(const Build& b, int stage) {
    for (int s = stage; s >= 0; s = b.stages[s].base.stage_ref)
        if (b.stages[s].base.stage_ref < 0) return b.stages[s].base.resolved;
    return "?";
}

// What a framework build is compared with: the GPU stack this Dockerfile installs before the
// step (installed_stack.hpp), else its base image's.
struct Against {
    bool rocm = false;
    std::pair<int, int> v{0, 0};
    std::string image;                       // the base image, as resolved
    std::optional<InstalledStack> installed; // set when the Dockerfile installs it
    // "the base image X has CUDA 12.1" / "the Dockerfile installs CUDA 12.1 (line 5:
    // cuda-toolkit-12-1)"
    std::string has() const {
        std::string stack = std::string(rocm ? "ROCm " : "CUDA ") + ver(v);
        if (!installed) return "the base image " + image + " has " + stack;
        return "the Dockerfile installs " + stack + " (line " + std::to_string(installed->line) +
               ": " + installed->evidence + ")";
    }
    // the other way out of a mismatch: another base image, or another release installed
    std::string other(const char* kind, std::pair<int, int> want) const {
        std::string stack = std::string(kind) + " " + ver(want);
        if (!installed) return "use a " + stack + " base image";
        return "install " + stack + " at line " + std::to_string(installed->line);
    }
};

std::optional<Against> against(const RuleContext& cx, const Stage& st, const Step& step) {
    Against a;
    a.image = base_text(cx.build, st.index);
    if (auto in = installed_stack(cx.build, st.index, step.index)) {
        a.rocm = in->kind == InstalledStack::rocm;
        a.v = in->version;
        a.installed = in;
        return a;
    }
    if (auto rocm = cx.build.rocm_version(st.index)) {
        a.rocm = true;
        a.v = *rocm;
        return a;
    }
    if (auto cuda = cx.build.cuda_version(st.index)) {
        a.v = *cuda;
        return a;
    }
    return std::nullopt;
}

// conda: pytorch-cuda=11.8 / cudatoolkit=11.8 / cuda-version=12.1 against the base image.
void conda_cuda_rule(const RuleContext& cx, const Stage& st, const Step& step, const Command& c) {
    std::vector<std::string> args;
    auto sub = parse_conda(c, &args);
    if (!sub || (*sub != "install" && *sub != "create")) return;
    static const Rx pin(R"(^(pytorch-cuda|cudatoolkit|cuda-version)=+(\d+)\.(\d+)(\..*)?$)");
    for (auto& raw : args) {
        auto a = expanded(raw, step.env);
        RxMatch m;
        if (!rx_match(a, m, pin)) continue;
        auto base = against(cx, st, step);
        auto parsed = version_pair(m[2].str(), m[3].str());
        if (!parsed) return; // not a version anyone publishes (and no number to compare)
        std::pair<int, int> want = *parsed;
        if (!base || base->rocm || want == base->v) return;
        cx.add("GL008", st, &step,
               c.name() + " " + *sub + " " + a + " brings CUDA " + ver(want) + " but " +
                   base->has() + ": the image carries two CUDA runtimes",
               "pin " + std::string(m[1]) + "=" + ver(base->v) + " or " +
                   base->other("CUDA", want));
        return;
    }
}

// A framework wheel where the GPU stack is ROCm.
void rocm_wheel(const RuleContext& cx, const Stage& st, const Step& step, const WheelStack& w,
                const std::string& what, const Against& a) {
    std::string want = "rocm" + ver(a.v);
    std::string how = "install the " + want + " build (torch: --index-url " +
                      "https://download.pytorch.org/whl/" + want + ", torch==<version>+" + want +
                      "; jaxlib: the +rocm" + std::to_string(a.v.first) +
                      std::to_string(a.v.second) + "x wheel of ROCm/jax)";
    switch (w.kind) {
    case WheelStack::cpu:
        cx.add("GL008", st, &step,
               what + " is a CPU-only build but " + a.has() +
                   ": the GPU is never used and the ROCm libraries are dead weight",
               how + (a.installed ? " or do not install ROCm" : " or use a non-ROCm base image"));
        return;
    case WheelStack::cuda:
        cx.add("GL008", st, &step,
               what + " is a CUDA (NVIDIA) build but " + a.has() +
                   ": it cannot use AMD GPUs and brings its own CUDA libraries",
               how + " or " +
                   (a.installed ? "install CUDA " + ver(w.v) + " instead of ROCm"
                                : "use a CUDA " + ver(w.v) + " base image"));
        return;
    case WheelStack::rocm:
        if (w.v == a.v) return;
        cx.add("GL008", st, &step,
               what + " is built for ROCm " + ver(w.v) + " but " + a.has() +
                   ": the image carries two ROCm user spaces (or the wheel loads libraries of "
                   "another ROCm release than it was built for)",
               how + " or " + a.other("ROCm", w.v));
        return;
    }
}

// `torch==X` with no index: the default (PyPI) wheel, built for the CUDA of torch_pypi.hpp's
// table. Nothing is said for a release line the table lacks, a range, or another index (-i,
// --extra-index-url, -f, PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / UV_INDEX_URL...).
void pypi_torch(const RuleContext& cx, const Stage& st, const Step& step, const PipCall& pip) {
    static const Rx exact(R"(^torch\s*===?\s*([0-9][0-9.]*(?:\.\*)?)$)", RxCase::insensitive);
    if (!pip.index_urls.empty()) return;
    for (const char* var : {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS",
                            "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_DEFAULT_INDEX"})
        if (step.env.count(var)) return;
    for (auto& raw : pip.packages) {
        auto p = expanded(raw, step.env);
        RxMatch m;
        if (!rx_match(p, m, exact)) continue;
        auto cuda = torch_pypi_cuda(m[1].str());
        if (!cuda) return;
        WheelStack w;
        w.kind = WheelStack::cuda;
        w.v = *cuda;
        w.local = "cu" + std::to_string(cuda->first) + std::to_string(cuda->second);
        std::string what = p + " from PyPI (its default wheel is a CUDA " + ver(*cuda) + " build)";
        auto base = against(cx, st, step);
        if (!base) return;
        if (base->rocm) {
            rocm_wheel(cx, st, step, w, p + " from PyPI (the default index)", *base);
            return;
        }
        if (base->v == *cuda) return;
        std::string want = "cu" + std::to_string(base->v.first) + std::to_string(base->v.second);
        cx.add("GL008", st, &step,
               what + " but " + base->has() +
                   ": the image carries two CUDA runtimes and needs a driver for CUDA " +
                   ver(std::max(*cuda, base->v)),
               "install the " + want + " build (" + p + "+" + want +
                   " --extra-index-url https://download.pytorch.org/whl/" + want + ") or " +
                   base->other("CUDA", *cuda));
        return;
    }
}

// The build a wheel index or a wheel's directory names: download.pytorch.org/whl/cu121 -> "cu121",
// .../whl/nightly/rocm6.2 -> "rocm6.2", AMD's repo.radeon.com/rocm/manylinux/rocm-rel-6.3 ->
// "rocm6.3"; "" for any other URL.
std::string url_build(const std::string& url) {
    static const Rx pytorch(
        R"(download\.pytorch\.org/whl/(?:nightly/|test/)?(cu\d{2,4}|cpu|rocm\d+\.\d+(?:\.\d+)?)(?:/|$))");
    static const Rx radeon(
        R"(repo\.radeon\.com/rocm/manylinux/rocm-rel-(\d+\.\d+(?:\.\d+)?)(?:/|$))");
    RxMatch m;
    if (rx_search(url, m, pytorch)) return m[1];
    if (rx_search(url, m, radeon)) return "rocm" + m[1].str();
    return "";
}

// torch/torchvision/torchaudio/jaxlib pins, wheel URLs (their name's +cu121 tag, else the
// directory they are in) and wheel indexes, against the GPU stack the Dockerfile installs before
// the step, else the base image's.
void torch_rule(const RuleContext& cx, const Stage& st, const Step& step, const Command& c) {
    conda_cuda_rule(cx, st, step, c);
    auto pip = parse_pip(c);
    if (!pip) return;
    static const Rx spec(
        R"(^(torch|torchvision|torchaudio|jaxlib)(\[[^\]]*\])?\s*(===?|~=|>=)?\s*[0-9][0-9a-z.]*\+(cu\d{2,4}|cpu|rocm[0-9.]{2,12})$)",
        RxCase::insensitive);
    // a wheel named by URL or path: .../jaxlib-0.4.30+rocm611-cp310-cp310-manylinux2014_x86_64.whl
    static const Rx wheel(
        R"((?:^|/)(torch|torchvision|torchaudio|jaxlib)-[0-9][0-9a-z.]*\+(cu\d{2,4}|cpu|rocm[0-9.]{2,12})-[^/]*\.whl$)",
        RxCase::insensitive);
    static const Rx untagged(
        R"((?:^|/)(torch|torchvision|torchaudio|jaxlib)-[0-9][0-9a-z.]*-[^/+]*\.whl$)",
        RxCase::insensitive);
    bool torch = !pip->requirements.empty();
    std::string found, what;
    for (auto& raw : pip->packages) {
        auto p = expanded(raw, step.env);
        for (auto at = p.find("%2B"); at != std::string::npos; at = p.find("%2B"))
            p.replace(at, 3, "+");
        RxMatch m;
        if (p.starts_with("torch") || p.starts_with("jaxlib")) torch = true;
        if (rx_match(p, m, spec)) {
            found = m[4];
            what = p;
        } else if (rx_search(p, m, wheel)) {
            found = m[2];
            what = p;
        } else if (rx_search(p, m, untagged) && !url_build(p).empty()) {
            found = url_build(p);
            what = p;
        }
    }
    if (found.empty())
        for (auto& raw : pip->index_urls) {
            auto u = expanded(raw, step.env);
            if (auto build = url_build(u); !build.empty() && torch) {
                found = build;
                what = "--index-url " + u;
            }
        }
    if (found.empty()) {
        pypi_torch(cx, st, step, *pip);
        return;
    }
    auto stack = wheel_stack(found);
    if (!stack) return;
    auto base = against(cx, st, step);
    if (!base) return;
    if (base->rocm) {
        rocm_wheel(cx, st, step, *stack, what, *base);
        return;
    }
    std::string want = "cu" + std::to_string(base->v.first) + std::to_string(base->v.second);
    if (stack->kind == WheelStack::cpu) {
        cx.add("GL008", st, &step,
               what + " is a CPU-only torch build but " + base->has() +
                   ": the GPU is never used and the CUDA libraries are dead weight",
               "install the " + want + " build (--index-url https://download.pytorch.org/whl/" +
                   want + ")" +
                   (base->installed ? " or do not install CUDA" : " or use a non-CUDA base image"));
        return;
    }
    if (stack->kind == WheelStack::rocm) {
        cx.add("GL008", st, &step,
               what + " is a ROCm (AMD) build but " + base->has() +
                   ": it cannot use NVIDIA GPUs and brings its own ROCm libraries",
               "install the " + want + " build (--index-url https://download.pytorch.org/whl/" +
                   want + ") or " +
                   (base->installed ? "install ROCm " + ver(stack->v) + " instead of CUDA"
                                    : "use a ROCm " + ver(stack->v) + " base image"));
        return;
    }
    auto wheel_v = stack->v;
    if (wheel_v == base->v) return;
    cx.add("GL008", st, &step,
           what + " is built for CUDA " + ver(wheel_v) + " but " + base->has() +
               ": the image carries two CUDA runtimes and needs a driver for CUDA " +
               ver(std::max(wheel_v, base->v)),
           "install the " + want + " build (--index-url https://download.pytorch.org/whl/" + want +
               ", torch==<version>+" + want + ") or " + base->other("CUDA", wheel_v));
}

bool downloads_weights(const Command& c) {
    static const Rx weights_url(
        R"(^(https?|s3|gs)://.*(\.(safetensors|pt|pth|ckpt|gguf|onnx|h5)|/resolve/[^ ]*\.bin)(\?.*)?$)",
        RxCase::insensitive);
    static const Rx hub_call(R"(snapshot_download\(|hf_hub_download\(|from_pretrained\()");
    auto n = c.name();
    if ((n == "huggingface-cli" || n == "hf") && c.argv.size() > 1 && c.argv[1] == "download")
        return true;
    if (n == "git" && c.argv.size() > 2 && c.argv[1] == "lfs" && c.argv[2] == "pull") return true;
    if (n == "git" && c.argv.size() > 2 && c.argv[1] == "clone")
        for (auto& a : c.argv)
            if (a.find("huggingface.co/") != std::string::npos) return true;
    if (n == "wget" || n == "curl" || n == "aria2c" || n == "gsutil" || n == "aws")
        for (auto& a : c.argv)
            if (rx_match(a, weights_url)) return true;
    if (n.starts_with("python"))
        for (auto& a : c.argv)
            if (rx_search(a, hub_call)) return true;
    return false;
}

} // namespace

void rules_gpu(const RuleContext& cx) {
    const char esc = cx.build.file->escape;
    for (const auto& st : cx.build.stages) {
        for (const auto& step : st.steps) {
            const auto& kw = step.in->keyword;
            if (kw == "RUN") {
                for (const auto& c : step.commands) {
                    torch_rule(cx, st, step, c);
                    if (st.ships && downloads_weights(c) &&
                        !has_cache_mount(step, ".cache/huggingface"))
                        cx.add("GL014", st, &step,
                               "RUN " + c.name() +
                                   " downloads model weights into the image: GBs in one layer, "
                                   "re-pushed and re-pulled with every rebuild",
                               "mount the weights at run time (gantry run -v /models:/models:ro) "
                               "or fetch them into a volume when the container starts");
                }
            }
            if (kw != "ENV" || !st.ships) continue;
            for (auto& [k, v] : env_pairs(*step.in, esc, step.env)) {
                // the variables every vendor's runtime reads to choose GPUs (ROCm reads
                // CUDA_VISIBLE_DEVICES too, as HIP_VISIBLE_DEVICES)
                bool chooses = false;
                for (const RuleSet* rs : cx.opt.rule_sets)
                    for (const char* var : rs->visible_devices) chooses |= k == var;
                if (chooses)
                    cx.add("GL016", st, &step,
                           k + "=" + v.substr(0, 80) +
                               " is fixed in the image: it hides GPUs whatever the container "
                               "is given",
                           "remove it and choose GPUs at run time (gantry run --gpus "
                           "device=0)");
            }
        }
    }
}

} // namespace gantry::lint
