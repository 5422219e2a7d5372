// The stub vendor's lint rule and analyze finding: what a vendor adds to `gantry lint` and
// `gantry analyze` through Backend::lint_rules and Backend::analyze_findings, without a line in
// lint/ or analyze/. GL901: `stub-smi` in RUN (no stub GPU exists while an image builds);
// STUB_VISIBLE_DEVICES for GL016; its stack for GL001, GL002 and GL008; STUB-CODE: the stub
// format's device code, bytes per target.
#include "lint/rules.hpp"
#include "lint/rx.hpp"
#include "lint/stacks.hpp"
#include "stub_backend.hpp"
#include "util/units.hpp"

#include <nlohmann/json.hpp>

namespace stub_vendor {

using namespace gantry;

namespace {

void stub_lint(const lint::RuleContext& cx) {
    for (const auto& st : cx.build.stages)
        for (const auto& step : st.steps)
            if (step.in->keyword == "RUN")
                for (const auto& c : step.commands)
                    if (c.name() == "stub-smi")
                        cx.add("GL901", st, &step,
                               "RUN stub-smi: no stub GPU exists while the image builds",
                               "check stub GPUs when the container starts");
}

// The stub's software stack ("STUB", lint/stacks.hpp): its images stub/sdk:<X.Y>[-devel], its
// versioned packages stub-runtime-X-Y, its SDK package stub-sdk, its wheels +stXY.
std::optional<lint::Version> stub_pair(const lint::RxMatch& m) {
    return lint::version_pair(m[1].str(), m[2].str());
}

std::optional<lint::Version> stub_tag_version(const std::string& repository,
                                              const std::string& tag) {
    static const lint::Rx leading(R"(^(\d+)\.(\d+))");
    lint::RxMatch m;
    if (repository != "stub/sdk" || !lint::rx_search(tag, m, leading)) return std::nullopt;
    return stub_pair(m);
}

std::optional<lint::Version> stub_package_version(const std::string& p) {
    static const lint::Rx re(R"(^stub-runtime-(\d{1,6})-(\d{1,6})$)");
    lint::RxMatch m;
    if (!lint::rx_match(p, m, re)) return std::nullopt;
    return stub_pair(m);
}

bool stub_sdk_package(const std::string& p) {
    return p == "stub-sdk";
}

std::optional<lint::Version> stub_wheel_version(const std::string& tag) {
    static const lint::Rx re(R"(^st(\d)(\d)$)");
    lint::RxMatch m;
    if (!lint::rx_match(tag, m, re)) return std::nullopt;
    return stub_pair(m);
}

std::string stub_tag_of(lint::Version v) {
    return "st" + std::to_string(v.first) + std::to_string(v.second);
}

std::string stub_install_build(lint::Version v, bool) {
    return "install the " + stub_tag_of(v) + " build";
}

std::string stub_two_releases(lint::Version, lint::Version) {
    return "the image carries two STUB runtimes";
}

class StubImageFindings : public gpu_vendors::ImageFindings {
  public:
    void file(const gpu_vendors::ImageFile& f) override {
        auto it = f.device_code.find("stub");
        if (it == f.device_code.end()) return;
        for (auto& [target, n] : it->second) bytes_ += n, per_target_[target] += n;
        ++files_;
        paths_.emplace_back(f.path, 0);
    }
    void report(const nlohmann::json&, std::vector<findings::Finding>& out) override {
        if (!files_) return;
        findings::Finding f;
        f.id = "STUB-CODE";
        f.severity = findings::by_size(bytes_);
        f.subject.title = "stub device code";
        f.subject.bytes = bytes_;
        f.subject.count = files_;
        f.subject.paths = paths_;
        f.subject.details = {{"bytes_per_target", per_target_}};
        f.message = std::to_string(files_) + " file(s) hold " + units::human_size(bytes_) +
                    " of stub device code";
        f.fix = "gantry tailor --keep-arch stub1";
        out.push_back(std::move(f));
    }

  private:
    std::uint64_t bytes_ = 0, files_ = 0;
    std::map<std::string, std::uint64_t> per_target_;
    std::vector<std::pair<std::string, std::uint64_t>> paths_;
};

} // namespace

const lint::Stack& stub_stack() {
    static const lint::Stack s{
        "STUB",
        "Stub",
        "STUB_VERSION",
        stub_tag_version,
        nullptr,
        {"stub/"},
        nullptr,
        stub_package_version,
        nullptr,
        stub_sdk_package,
        nullptr,
        nullptr,
        R"(st\d\d)",
        stub_wheel_version,
        stub_tag_of,
        nullptr,
        stub_install_build,
        "CPU-only build",
        stub_two_releases,
        nullptr,
        "",
    };
    return s;
}

const lint::RuleSet& stub_lint_rules() {
    static const lint::RuleSet r{
        {{"GL901", findings::Severity::warn, "stub GPU probed at build time (stub-smi in RUN)"}},
        stub_lint,
        {"STUB_VISIBLE_DEVICES"},
        &stub_stack(),
    };
    return r;
}

std::unique_ptr<gpu_vendors::ImageFindings> stub_analyze_findings() {
    return std::make_unique<StubImageFindings>();
}

} // namespace stub_vendor
