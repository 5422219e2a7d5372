// GPU rules: GL008 torch CUDA build vs base, GL009 capabilities=all, GL013 GPU at build time,
// GL014 weights downloaded by RUN, GL015 driver stubs at run time, GL016 CUDA_VISIBLE_DEVICES.
#include "lint/rules.hpp"
#include "lint/rx.hpp"

#include <regex>

namespace gantry::lint {

namespace {

std::string expanded(const std::string& w, const Env& env) {
    if (w.find('$') == std::string::npos) return w;
    auto e = expand_word(w, env, '\\');
    return e.resolved ? e.value : w;
}

// "cu121" -> (12, 1); "cu118" -> (11, 8)
std::pair<int, int> cu_version(const std::string& tag) {
    int n = std::stoi(tag.substr(2, 5));
    return {n / 10, n % 10};
}

std::string ver(std::pair<int, int> v) {
    return std::to_string(v.first) + "." + std::to_string(v.second);
}

std::string base_text(const Build& b, int stage) {
    for (int s = stage; s >= 0; s = b.stages[s].base.stage_ref)
        if (b.stages[s].base.stage_ref < 0) return b.stages[s].base.resolved;
    return "?";
}

// conda: pytorch-cuda=11.8 / cudatoolkit=11.8 / cuda-version=12.1 against the base image.
void conda_cuda_rule(const RuleContext& cx, const Stage& st, const Step& step, const Command& c) {
    std::vector<std::string> args;
    auto sub = parse_conda(c, &args);
    if (!sub || (*sub != "install" && *sub != "create")) return;
    static const std::regex pin(
        R"(^(pytorch-cuda|cudatoolkit|cuda-version)=+(\d+)\.(\d+)(\..*)?$)");
    for (auto& raw : args) {
        auto a = expanded(raw, step.env);
        std::smatch m;
        if (!rx_match(a, m, pin)) continue;
        auto base = cx.build.cuda_version(st.index);
        std::pair<int, int> want{std::stoi(m[2]), std::stoi(m[3])};
        if (!base || want == *base) return;
        cx.add("GL008", st, &step,
               c.name() + " " + *sub + " " + a + " brings CUDA " + ver(want) +
                   " but the base image " + base_text(cx.build, st.index) + " has CUDA " +
                   ver(*base) + ": the image carries two CUDA runtimes",
               "pin " + std::string(m[1]) + "=" + ver(*base) + " or use a CUDA " + ver(want) +
                   " base image");
        return;
    }
}

void torch_rule(const RuleContext& cx, const Stage& st, const Step& step, const Command& c) {
    conda_cuda_rule(cx, st, step, c);
    auto pip = parse_pip(c);
    if (!pip) return;
    static const std::regex spec(
        R"(^(torch|torchvision|torchaudio)(\[[^\]]*\])?\s*(===?|~=|>=)?\s*[0-9][0-9a-z.]*\+(cu\d{2,4}|cpu)$)",
        std::regex::icase);
    static const std::regex index(
        R"(download\.pytorch\.org/whl/(?:nightly/|test/)?(cu\d{2,4}|cpu))");
    bool torch = !pip->requirements.empty();
    std::string found, what;
    for (auto& raw : pip->packages) {
        auto p = expanded(raw, step.env);
        std::smatch m;
        if (p.starts_with("torch")) torch = true;
        if (rx_match(p, m, spec)) {
            found = m[4];
            what = p;
        }
    }
    if (found.empty())
        for (auto& raw : pip->index_urls) {
            auto u = expanded(raw, step.env);
            std::smatch m;
            if (rx_search(u, m, index) && torch) {
                found = m[1];
                what = "--index-url " + u;
            }
        }
    if (found.empty()) return;
    auto base = cx.build.cuda_version(st.index);
    if (!base) return;
    std::string image = base_text(cx.build, st.index);
    std::string want = "cu" + std::to_string(base->first) + std::to_string(base->second);
    if (found == "cpu") {
        cx.add("GL008", st, &step,
               what + " is a CPU-only torch build on the CUDA " + ver(*base) + " base image " +
                   image + ": the GPU is never used and the CUDA libraries are dead weight",
               "install the " + want + " build (--index-url https://download.pytorch.org/whl/" +
                   want + ") or use a non-CUDA base image");
        return;
    }
    auto wheel = cu_version(found);
    if (wheel == *base) return;
    cx.add("GL008", st, &step,
           what + " is built for CUDA " + ver(wheel) + " but the base image " + image +
               " has CUDA " + ver(*base) +
               ": the image carries two CUDA runtimes and needs a driver for CUDA " +
               ver(std::max(wheel, *base)),
           "install the " + want + " build (--index-url https://download.pytorch.org/whl/" + want +
               ", torch==<version>+" + want + ") or use a CUDA " + ver(wheel) + " base image");
}

bool downloads_weights(const Command& c) {
    static const std::regex weights_url(
        R"(^(https?|s3|gs)://.*(\.(safetensors|pt|pth|ckpt|gguf|onnx|h5)|/resolve/[^ ]*\.bin)(\?.*)?$)",
        std::regex::icase);
    static const std::regex hub_call(R"(snapshot_download\(|hf_hub_download\(|from_pretrained\()");
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
    static const std::regex stubs(R"((^|/)stubs/?$)");
    for (const auto& st : cx.build.stages) {
        for (const auto& step : st.steps) {
            const auto& kw = step.in->keyword;
            if (kw == "RUN") {
                for (const auto& c : step.commands) {
                    torch_rule(cx, st, step, c);
                    if (c.name() == "nvidia-smi" && !step.in->flag("device"))
                        cx.add("GL013", st, &step,
                               "RUN nvidia-smi: no GPU is available while the image builds, so "
                               "this fails or only describes the build machine",
                               "check GPUs when the container starts (gantry doctor IMAGE, or "
                               "the entrypoint), not in RUN");
                    if (st.ships && downloads_weights(c) &&
                        !has_cache_mount(step, ".cache/huggingface"))
                        cx.add("GL014", st, &step,
                               "RUN " + c.name() +
                                   " downloads model weights into the image: GBs in one layer, "
                                   "re-pushed and re-pulled with every rebuild",
                               "mount the weights at run time (gantry run -v /models:/models:ro) "
                               "or fetch them into a volume when the container starts");
                }
                const auto& text = step.in->original;
                if (st.ships && text.find("/stubs") != std::string::npos &&
                    (text.find("ld.so.conf") != std::string::npos ||
                     text.find("libcuda.so.1") != std::string::npos))
                    cx.add("GL015", st, &step,
                           "RUN makes the CUDA driver stub libraries visible at run time "
                           "(ld.so.conf or libcuda.so.1): the stub shadows the host driver and "
                           "every CUDA call fails",
                           "link against the stubs only while building (-L/usr/local/cuda/lib64/"
                           "stubs or LIBRARY_PATH), never through ld.so.conf or libcuda.so.1");
            }
            if (kw != "ENV" || !st.ships) continue;
            for (auto& [k, v] : env_pairs(*step.in, esc, step.env)) {
                if (k == "NVIDIA_DRIVER_CAPABILITIES") {
                    std::string item;
                    bool all = false;
                    for (char ch : v + ",") {
                        if (ch == ',') {
                            all |= item == "all";
                            item.clear();
                        } else if (ch != ' ') {
                            item += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                        }
                    }
                    if (all)
                        cx.add("GL009", st, &step,
                               "NVIDIA_DRIVER_CAPABILITIES=" + v.substr(0, 80) +
                                   " mounts every driver library (graphics, video, display, "
                                   "ngx...) into every container of this image",
                               "list only what the workload needs, e.g. "
                               "NVIDIA_DRIVER_CAPABILITIES=compute,utility");
                }
                if (k == "LD_LIBRARY_PATH") {
                    std::string part;
                    for (char ch : v + ":") {
                        if (ch != ':') {
                            part += ch;
                            continue;
                        }
                        if (rx_search(part, stubs))
                            cx.add("GL015", st, &step,
                                   "LD_LIBRARY_PATH includes the CUDA driver stubs (" + part +
                                       "): their libcuda.so shadows the host driver's at run "
                                       "time and CUDA fails with \"driver version is "
                                       "insufficient\"",
                                   "remove " + part +
                                       " from LD_LIBRARY_PATH; link against the stubs only "
                                       "while building (-L" +
                                       part + " or LIBRARY_PATH)");
                        part.clear();
                    }
                }
                if (k == "CUDA_VISIBLE_DEVICES")
                    cx.add("GL016", st, &step,
                           "CUDA_VISIBLE_DEVICES=" + v.substr(0, 80) +
                               " is fixed in the image: it hides GPUs whatever the container "
                               "is given",
                           "remove it and choose GPUs at run time (gantry run --gpus "
                           "device=0)");
            }
        }
    }
}

} // namespace gantry::lint
