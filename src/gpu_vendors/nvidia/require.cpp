#include "gpu_vendors/nvidia/require.hpp"

#include "gpu_vendors/nvidia/cuda_version.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstdint>

namespace gantry::gpu_vendors::nvidia {

namespace {

constexpr std::string_view kOps = "<>=!";
// dsl.c's operator table, in its order.
constexpr std::string_view kOperators[] = {"=", "!=", "<", "<=", ">", ">="};

bool is_digits_dots(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// strtoumax at s[i]: digits only (the caller checked the charset). False when there is no digit
// or the value overflows (dsl.c's UINTMAX_MAX check).
bool read_number(std::string_view s, size_t& i, std::uint64_t& out) {
    size_t start = i;
    std::uint64_t v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        unsigned d = static_cast<unsigned>(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
        ++i;
    }
    out = v;
    // dsl_compare_version: strtoumax(...) == UINTMAX_MAX is invalid, so 2^64-1 is refused too
    return i > start && v != UINT64_MAX;
}

size_t skip(std::string_view s, size_t i, std::string_view set) {
    while (i < s.size() && set.find(s[i]) != std::string_view::npos) ++i;
    return i;
}

// Go golang.org/x/mod/semver numeric identifier: digits, no leading zero unless "0".
bool semver_int(std::string_view v, size_t& i, std::string& out) {
    size_t start = i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
    if (i == start) return false;
    if (v[start] == '0' && i - start > 1) return false;
    out = std::string(v.substr(start, i - start));
    return true;
}

bool semver_ident_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

// "-a.b" or "+a.b" suffix: dot-separated non-empty identifiers; prerelease numeric ones without
// leading zeros.
bool semver_suffix(std::string_view v, size_t& i, bool prerelease) {
    ++i; // '-' or '+'
    size_t start = i;
    while (true) {
        size_t id = i;
        bool numeric = true;
        while (i < v.size() && v[i] != '.' && v[i] != '+') {
            if (!semver_ident_char(v[i])) return false;
            if (v[i] < '0' || v[i] > '9') numeric = false;
            ++i;
        }
        if (i == id) return false;
        if (prerelease && numeric && v[id] == '0' && i - id > 1) return false;
        if (i < v.size() && v[i] == '.') {
            ++i;
            continue;
        }
        break;
    }
    return i > start;
}

std::string arch_string(int major, int minor) {
    return std::to_string(major) + "." + std::to_string(minor);
}

// Why `failed` (a constraint on `property`) did not hold, from the facts.
std::string explain(const std::string& property, const RequireFacts& f) {
    if (property == "cuda") return "the driver serves CUDA " + f.cuda.value_or("?");
    if (property == "driver") return "the driver is " + f.driver.value_or("?");
    if (property == "arch") return "the GPU's compute capability is " + f.arch.value_or("?");
    if (property == "brand")
        return "the GPU's brand is " + (f.brand && !f.brand->empty() ? *f.brand : "unknown");
    return {};
}

} // namespace

std::optional<bool> parse_go_bool(std::string_view s) {
    for (auto t : {"1", "t", "T", "TRUE", "true", "True"})
        if (s == t) return true;
    for (auto f : {"0", "f", "F", "FALSE", "false", "False"})
        if (s == f) return false;
    return std::nullopt;
}

EnvMap env_map(const std::vector<std::string>& env) {
    EnvMap m;
    for (auto& e : env) {
        auto eq = e.find('=');
        if (eq == std::string::npos) continue;
        m[e.substr(0, eq)] = e.substr(eq + 1);
    }
    return m;
}

bool require_disabled(const EnvMap& env) {
    auto it = env.find("NVIDIA_DISABLE_REQUIRE");
    return it != env.end() && parse_go_bool(it->second).value_or(false);
}

std::optional<std::string> legacy_cuda_major_minor(std::string_view cuda_version) {
    std::string v = "v";
    v += cuda_version.substr(cuda_version.starts_with('v') ? 1 : 0);
    std::string_view s = v;
    size_t i = 1;
    std::string major, minor = "0", patch;
    if (!semver_int(s, i, major)) return std::nullopt;
    if (i < s.size()) {
        if (s[i] != '.') return std::nullopt;
        ++i;
        if (!semver_int(s, i, minor)) return std::nullopt;
        if (i < s.size()) {
            if (s[i] != '.') return std::nullopt;
            ++i;
            if (!semver_int(s, i, patch)) return std::nullopt;
            if (i < s.size() && s[i] == '-' && !semver_suffix(s, i, true)) return std::nullopt;
            if (i < s.size() && s[i] == '+' && !semver_suffix(s, i, false)) return std::nullopt;
            if (i != s.size()) return std::nullopt;
        }
    }
    // strconv.ParseUint(part, 10, 32)
    for (auto* p : {&major, &minor})
        if (p->size() > 10 || std::stoull(*p) > 0xffffffffULL) return std::nullopt;
    return major + "." + minor;
}

RequirementSet requirements_from_env(const EnvMap& env) {
    RequirementSet set;
    set.disabled = require_disabled(env);
    if (set.disabled) return set;
    for (auto& [k, v] : env) // std::map: sorted by name
        if (k.starts_with("NVIDIA_REQUIRE_") && !k.starts_with("NVIDIA_REQUIRE_JETPACK"))
            set.requirements.push_back({k, v});
    auto cv = env.find("CUDA_VERSION");
    auto rc = env.find("NVIDIA_REQUIRE_CUDA");
    if (cv != env.end() && !cv->second.empty() && (rc == env.end() || rc->second.empty())) {
        set.legacy = true;
        if (auto mm = legacy_cuda_major_minor(cv->second))
            set.requirements.push_back({"CUDA_VERSION", "cuda>=" + *mm});
        else
            set.error = "invalid CUDA version " + cv->second;
    }
    return set;
}

int compare_version(std::string_view v1, std::string_view op, std::string_view v2) {
    if (!is_digits_dots(v1) || !is_digits_dots(v2)) return -1;
    const bool eq = op == "=", ne = op == "!=", lt = op == "<", le = op == "<=", gt = op == ">",
               ge = op == ">=";
    size_t i = 0, j = 0;
    while (i < v1.size() && j < v2.size()) {
        std::uint64_t n1, n2;
        if (!read_number(v1, i, n1) || !read_number(v2, j, n2)) return -1;
        if (n1 != n2) {
            if (eq) return 0;
            if (ne) return 1;
            if (lt || le) return n1 < n2;
            if (gt || ge) return n1 > n2;
        }
        i = skip(v1, i, ".");
        j = skip(v2, j, ".");
    }
    i = skip(v1, i, ".0");
    j = skip(v2, j, ".0");
    const bool end1 = i == v1.size(), end2 = j == v2.size();
    if (ne) return !end1 || !end2;
    if (eq || le || ge) {
        if (end1 && end2) return 1;
        if (eq) return 0;
    }
    if (lt || le) return end1 && !end2;
    if (gt || ge) return !end1 && end2;
    return -1;
}

namespace {

// evaluate_rule of dsl.c: 1 holds, 0 fails, -1 invalid. `property` receives the lower-case name.
int evaluate_constraint(std::string_view expr, const RequireFacts& f, std::string& property) {
    size_t n = expr.find_first_of(kOps);
    if (n == 0 || n == std::string_view::npos) return -1;
    std::string_view name = expr.substr(0, n);
    std::string_view rest = expr.substr(n);
    size_t opn = 0;
    while (opn < rest.size() && kOps.find(rest[opn]) != std::string_view::npos) ++opn;
    std::string_view span = rest.substr(0, opn);
    std::string_view op;
    for (auto o : kOperators) // strncmp(ptr, op, n): span must be a prefix of the operator
        if (o.starts_with(span)) {
            op = o;
            break;
        }
    std::string_view val = rest.substr(opn);
    if (op.empty() || val.empty()) return -1;
    property = text::lower(name);
    if (property == "cuda") return f.cuda ? compare_version(*f.cuda, op, val) : 1;
    if (property == "driver") return f.driver ? compare_version(*f.driver, op, val) : 1;
    if (property == "arch") return f.arch ? compare_version(*f.arch, op, val) : 1;
    if (property == "brand") {
        if (!f.brand) return 1;
        if (op == "=") return text::iequals(*f.brand, val);
        if (op == "!=") return !text::iequals(*f.brand, val);
        return -1;
    }
    return -1;
}

} // namespace

ExprResult evaluate_expression(std::string_view expr, const RequireFacts& facts) {
    ExprResult r;
    bool ret = true, done = false;
    for (auto or_expr : text::split(expr, ' ')) {
        if (or_expr.empty()) continue;
        TermResult t;
        t.text = std::string(or_expr);
        if (done) {
            r.terms.push_back(std::move(t));
            continue;
        }
        t.evaluated = true;
        bool all = true;
        for (auto and_expr : text::split(or_expr, ',')) {
            if (and_expr.empty()) continue;
            std::string property;
            int v = evaluate_constraint(and_expr, facts, property);
            if (v < 0) {
                r.outcome = ExprOutcome::invalid;
                r.error = "invalid expression: " + std::string(and_expr);
                t.failed = std::string(and_expr);
                r.terms.push_back(std::move(t));
                return r;
            }
            ret = v != 0;
            if (!ret) {
                all = false;
                t.failed = std::string(and_expr);
                t.property = property;
                break;
            }
        }
        t.satisfied = all;
        if (all) done = true;
        r.terms.push_back(std::move(t));
    }
    r.outcome = ret ? ExprOutcome::satisfied : ExprOutcome::unsatisfied;
    return r;
}

RequireResult evaluate_requirements(const std::vector<Requirement>& reqs, const RequireHost& host) {
    RequireResult res;
    RequireFacts base;
    if (host.cuda_version > 0) base.cuda = cuda_string(host.cuda_version);
    if (!host.driver.empty()) base.driver = host.driver;

    auto run = [&](const RequireFacts& f, const RequireGpu* gpu) {
        for (auto& req : reqs) {
            auto er = evaluate_expression(req.expr, f);
            if (er.outcome == ExprOutcome::satisfied) continue;
            RequireFailure fail;
            fail.source = req.source;
            fail.expr = req.expr;
            fail.gpu = gpu ? gpu->index : -1;
            fail.invalid = er.outcome == ExprOutcome::invalid;
            fail.terms = er.terms;
            if (!er.terms.empty()) fail.condition = er.terms.front().text;
            std::string where;
            if (gpu) {
                where = " on GPU " + std::to_string(gpu->index) + " (";
                if (!gpu->name.empty()) where += gpu->name + ", ";
                where += "compute capability " + arch_string(gpu->cc_major, gpu->cc_minor);
                if (!gpu->brand.empty()) where += ", brand " + gpu->brand;
                where += ")";
            }
            if (fail.invalid) {
                fail.message = req.source + "=\"" + req.expr + "\" is invalid (" + er.error +
                               "): nvidia-container-cli refuses the container";
            } else {
                auto& first = er.terms.front();
                fail.message = req.source + ": unsatisfied condition: " + first.text + where;
                if (auto why = explain(first.property, f); !why.empty())
                    fail.message += ": " + first.failed + " fails, " + why;
                if (er.terms.size() > 1)
                    fail.message += "; none of the other " + std::to_string(er.terms.size() - 1) +
                                    " alternatives holds either";
            }
            res.failures.push_back(std::move(fail));
        }
    };

    if (host.gpus.empty()) {
        run(base, nullptr);
    } else {
        for (auto& g : host.gpus) {
            RequireFacts f = base;
            f.arch = arch_string(g.cc_major, g.cc_minor);
            f.brand = g.brand;
            run(f, &g);
        }
    }
    return res;
}

RequireResult check_requirements(const EnvMap& env, const RequireHost& host) {
    auto set = requirements_from_env(env);
    RequireResult res;
    if (set.disabled) {
        res.disabled = true;
        return res;
    }
    res = evaluate_requirements(set.requirements, host);
    res.legacy = set.legacy;
    if (!set.error.empty()) {
        RequireFailure f;
        f.source = "CUDA_VERSION";
        f.expr = env.at("CUDA_VERSION");
        f.invalid = true;
        f.message = "CUDA_VERSION=\"" + f.expr +
                    "\" is not a valid version and the image sets no "
                    "NVIDIA_REQUIRE_CUDA: the NVIDIA container toolkit refuses it (" +
                    set.error + ")";
        res.failures.push_back(std::move(f));
    }
    return res;
}

} // namespace gantry::gpu_vendors::nvidia
