// GPU rules over every vendor's toolkit: GL008 a framework build (torch, jaxlib) against the GPU
// stack (lint/stacks.hpp: each vendor's) the base image has or the Dockerfile installs, GL014
// weights downloaded by RUN, GL016 a variable that chooses GPUs fixed in the image (each
// vendor's RuleSet::visible_devices). The rules that name one vendor's tools are the
// vendor's (gpu_vendors/<vendor>/lint_rules.cpp).
#include "lint/installed_stack.hpp"
#include "lint/rules.hpp"
#include "lint/rx.hpp"
#include "util/text.hpp"

namespace gantry::lint {

namespace {

std::string expanded(const std::string& w, const Env& env) {
    return shown_word(w, env);
}

// A framework wheel's GPU stack, from its local version: "cpu", or a tag one of the declared
// stacks reads a release from ("cu121" -> CUDA 12.1). nullopt for anything else, also for numbers
// too long to be a version.
struct WheelStack {
    const Stack* stack = nullptr; // null: CPU-only
    Version v{0, 0};
    std::string local; // as written: "cu121"
};

std::optional<WheelStack> wheel_stack(const std::string& local,
                                      const std::vector<const Stack*>& stacks) {
    WheelStack w;
    w.local = local;
    if (text::lower(local) == "cpu") return w;
    for (const Stack* s : stacks)
        if (s->wheel_version)
            if (auto v = s->wheel_version(local)) {
                w.stack = s;
                w.v = *v;
                return w;
            }
    return std::nullopt;
}

std::string base_text(const Build& b, int stage) {
    for (int s = stage; s >= 0; s = b.stages[s].base.stage_ref)
        if (b.stages[s].base.stage_ref < 0) return b.stages[s].base.resolved;
    return "?";
}

// What a framework build is compared with: the GPU stack this Dockerfile installs before the
// step (installed_stack.hpp), else its base image's.
struct Against {
    const Stack* stack = nullptr;
    Version v{0, 0};
    std::string image;                       // the base image, as resolved
    std::optional<InstalledStack> installed; // set when the Dockerfile installs it
    // "the base image X has CUDA 12.1" / "the Dockerfile installs CUDA 12.1 (line 5:
    // cuda-toolkit-12-1)"
    std::string has() const {
        std::string st = std::string(stack->name) + " " + version_text(v);
        if (!installed) return "the base image " + image + " has " + st;
        return "the Dockerfile installs " + st + " (line " + std::to_string(installed->line) +
               ": " + installed->evidence + ")";
    }
    // the other way out of a mismatch: another base image, or another release installed
    std::string other(const char* kind, Version want) const {
        std::string st = std::string(kind) + " " + version_text(want);
        if (!installed) return "use a " + st + " base image";
        return "install " + st + " at line " + std::to_string(installed->line);
    }
};

std::optional<Against> against(const RuleContext& cx, const Stage& st, const Step& step,
                               const std::vector<const Stack*>& stacks) {
    Against a;
    a.image = base_text(cx.build, st.index);
    if (auto in = installed_stack(cx.build, st.index, step.index, stacks)) {
        a.stack = in->stack;
        a.v = in->version;
        a.installed = in;
        return a;
    }
    // the stack the base is by name first, then the first whose release the base states
    std::vector<const Stack*> order;
    if (const Stack* named = stage_stack(cx.build, st.index, stacks)) order.push_back(named);
    for (const Stack* s : stacks)
        if (order.empty() || s != order.front()) order.push_back(s);
    for (const Stack* s : order)
        if (auto v = stack_version(cx.build, st.index, *s)) {
            a.stack = s;
            a.v = *v;
            return a;
        }
    return std::nullopt;
}

// conda: a stack's pinned packages (pytorch-cuda=11.8, cudatoolkit=11.8) against the base image.
void conda_rule(const RuleContext& cx, const Stage& st, const Step& step, const Command& c,
                const std::vector<const Stack*>& stacks) {
    std::vector<std::string> args;
    auto sub = parse_conda(c, &args);
    if (!sub || (*sub != "install" && *sub != "create")) return;
    for (const Stack* s : stacks) {
        if (!*s->conda_pins) continue;
        const Rx pin("^(" + std::string(s->conda_pins) + R"()=+(\d+)\.(\d+)(\..*)?$)");
        for (auto& raw : args) {
            auto a = expanded(raw, step.env);
            RxMatch m;
            if (!rx_match(a, m, pin)) continue;
            auto base = against(cx, st, step, stacks);
            auto parsed = version_pair(m[2].str(), m[3].str());
            if (!parsed) return; // not a version anyone publishes (and no number to compare)
            Version want = *parsed;
            if (!base || base->stack != s || want == base->v) return;
            cx.add("GL008", st, &step,
                   c.name() + " " + *sub + " " + a + " brings " + s->name + " " +
                       version_text(want) + " but " + base->has() + ": the image carries two " +
                       s->name + " runtimes",
                   "pin " + std::string(m[1]) + "=" + version_text(base->v) + " or " +
                       base->other(s->name, want));
            return;
        }
    }
}

// A framework wheel (W) against the stack the image has (A).
void wheel_against(const RuleContext& cx, const Stage& st, const Step& step, const WheelStack& w,
                   const std::string& what, const Against& a) {
    const Stack& has = *a.stack;
    if (!w.stack) {
        cx.add("GL008", st, &step,
               what + " is a " + has.cpu_only + " but " + a.has() +
                   ": the GPU is never used and the " + has.name + " libraries are dead weight",
               has.install_build(a.v, false) +
                   (a.installed ? std::string(" or do not install ") + has.name
                                : std::string(" or use a non-") + has.name + " base image"));
        return;
    }
    const Stack& built = *w.stack;
    if (&built != &has) {
        cx.add("GL008", st, &step,
               what + " is a " + built.name + " (" + built.vendor + ") build but " + a.has() +
                   ": it cannot use " + has.vendor + " GPUs and brings its own " + built.name +
                   " libraries",
               has.install_build(a.v, false) + " or " +
                   (a.installed ? "install " + std::string(built.name) + " " + version_text(w.v) +
                                      " instead of " + has.name
                                : "use a " + std::string(built.name) + " " + version_text(w.v) +
                                      " base image"));
        return;
    }
    if (w.v == a.v) return;
    cx.add("GL008", st, &step,
           what + " is built for " + built.name + " " + version_text(w.v) + " but " + a.has() +
               ": " + built.two_releases(w.v, a.v),
           has.install_build(a.v, true) + " or " + a.other(built.name, w.v));
}

// `torch==X` with no index: the default (PyPI) wheel, built for the stack and release a
// vendor's table says (Stack::pypi_torch). Nothing is said for a release line the table lacks,
// a range, or another index (-i, --extra-index-url, -f, PIP_INDEX_URL / PIP_EXTRA_INDEX_URL /
// UV_INDEX_URL...).
void pypi_torch(const RuleContext& cx, const Stage& st, const Step& step, const PipCall& pip,
                const std::vector<const Stack*>& stacks) {
    static const Rx exact(R"(^torch\s*===?\s*([0-9][0-9.]*(?:\.\*)?)$)", RxCase::insensitive);
    if (!pip.index_urls.empty()) return;
    for (const char* var : {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS",
                            "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_DEFAULT_INDEX"})
        if (step.env.count(var)) return;
    for (auto& raw : pip.packages) {
        auto p = expanded(raw, step.env);
        RxMatch m;
        if (!rx_match(p, m, exact)) continue;
        WheelStack w;
        for (const Stack* s : stacks)
            if (s->pypi_torch && !w.stack)
                if (auto v = s->pypi_torch(m[1].str())) {
                    w.stack = s;
                    w.v = *v;
                }
        if (!w.stack) return;
        w.local = w.stack->tag_of(w.v);
        auto base = against(cx, st, step, stacks);
        if (!base) return;
        if (base->stack != w.stack) {
            wheel_against(cx, st, step, w, p + " from PyPI (the default index)", *base);
            return;
        }
        if (base->v == w.v) return;
        std::string what = p + " from PyPI (its default wheel is a " + w.stack->name + " " +
                           version_text(w.v) + " build)";
        std::string want = base->stack->tag_of(base->v);
        cx.add("GL008", st, &step,
               what + " but " + base->has() + ": " + w.stack->two_releases(w.v, base->v),
               "install the " + want + " build (" + p + "+" + want +
                   " --extra-index-url https://download.pytorch.org/whl/" + want + ") or " +
                   base->other(w.stack->name, w.v));
        return;
    }
}

// The build a wheel index or a wheel's directory names: download.pytorch.org/whl/cpu -> "cpu",
// else what a declared stack reads from it (Stack::index_build); "" for any other URL.
std::string url_build(const std::string& url, const std::vector<const Stack*>& stacks) {
    static const Rx cpu(R"(download\.pytorch\.org/whl/(?:nightly/|test/)?(cpu)(?:/|$))");
    RxMatch m;
    if (rx_search(url, m, cpu)) return m[1];
    for (const Stack* s : stacks)
        if (s->index_build)
            if (auto b = s->index_build(url); !b.empty()) return b;
    return "";
}

// The wheels' patterns over every declared stack's local version tags.
struct WheelPatterns {
    Rx spec, wheel;
};

WheelPatterns wheel_patterns(const std::vector<const Stack*>& stacks) {
    std::string tags = "cpu";
    for (const Stack* s : stacks)
        if (*s->wheel_tag) tags += std::string("|") + s->wheel_tag;
    return {
        Rx(R"(^(torch|torchvision|torchaudio|jaxlib)(\[[^\]]*\])?\s*(===?|~=|>=)?\s*[0-9][0-9a-z.]*\+()" +
               tags + ")$",
           RxCase::insensitive),
        // a wheel named by URL or path:
        // .../jaxlib-0.4.30+rocm611-cp310-...-manylinux2014_x86_64.whl
        Rx(R"((?:^|/)(torch|torchvision|torchaudio|jaxlib)-[0-9][0-9a-z.]*\+()" + tags +
               R"()-[^/]*\.whl$)",
           RxCase::insensitive),
    };
}

// torch/torchvision/torchaudio/jaxlib pins, wheel URLs (their name's +cu121 tag, else the
// directory they are in) and wheel indexes, against the GPU stack the Dockerfile installs before
// the step, else the base image's.
void torch_rule(const RuleContext& cx, const Stage& st, const Step& step, const Command& c,
                const std::vector<const Stack*>& stacks, const WheelPatterns& rx) {
    conda_rule(cx, st, step, c, stacks);
    auto pip = parse_pip(c);
    if (!pip) return;
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
        if (rx_match(p, m, rx.spec)) {
            found = m[4];
            what = p;
        } else if (rx_search(p, m, rx.wheel)) {
            found = m[2];
            what = p;
        } else if (rx_search(p, m, untagged) && !url_build(p, stacks).empty()) {
            found = url_build(p, stacks);
            what = p;
        }
    }
    if (found.empty())
        for (auto& raw : pip->index_urls) {
            auto u = expanded(raw, step.env);
            if (auto build = url_build(u, stacks); !build.empty() && torch) {
                found = build;
                what = "--index-url " + u;
            }
        }
    if (found.empty()) {
        pypi_torch(cx, st, step, *pip, stacks);
        return;
    }
    auto wheel = wheel_stack(found, stacks);
    if (!wheel) return;
    auto base = against(cx, st, step, stacks);
    if (!base) return;
    wheel_against(cx, st, step, *wheel, what, *base);
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
    const auto declared = stacks(cx.opt);
    const WheelPatterns patterns = wheel_patterns(declared);
    for (const auto& st : cx.build.stages) {
        for (const auto& step : st.steps) {
            const auto& kw = step.in->keyword;
            if (kw == "RUN") {
                for (const auto& c : step.commands) {
                    torch_rule(cx, st, step, c, declared, patterns);
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
