#include "site/report.hpp"

#include "site/lookaside.hpp"
#include "site/policy.hpp"
#include "site/registries_conf.hpp"
#include "site/resolve.hpp"
#include "util/error.hpp"

namespace gantry::site {

using json = nlohmann::json;

namespace {

const char* identity_name(SignedIdentity::Kind k) {
    using K = SignedIdentity::Kind;
    switch (k) {
    case K::match_repo_digest_or_exact:
        return "matchRepoDigestOrExact";
    case K::match_repository:
        return "matchRepository";
    case K::match_exact:
        return "matchExact";
    case K::exact_reference:
        return "exactReference";
    case K::exact_repository:
        return "exactRepository";
    case K::remap_identity:
        return "remapIdentity";
    }
    return "?";
}

json requirement_json(const Requirement& r) {
    json j = {{"type", r.name()}};
    if (r.type != Requirement::Type::signed_by && r.type != Requirement::Type::sigstore_signed)
        return j;
    j["keyPaths"] = r.key_paths;
    j["keyData"] = !r.key_data.empty() || !r.key_texts.empty();
    json id = {{"type", identity_name(r.identity.kind)}};
    if (!r.identity.value.empty()) id["value"] = r.identity.value;
    if (!r.identity.prefix.empty()) {
        id["prefix"] = r.identity.prefix;
        id["signedPrefix"] = r.identity.signed_prefix;
    }
    j["signedIdentity"] = id;
    if (!r.unsupported.empty()) j["unsupported"] = r.unsupported;
    return j;
}

} // namespace

json report(const std::string& reference, const std::string& policy_file) {
    const RegistriesConf& conf = RegistriesConf::system();
    json out;
    out["registries_conf"] = {
        {"files", conf.files},
        {"unqualified_search_registries", conf.search},
        {"short_name_mode", conf.mode == ShortNameMode::enforcing  ? "enforcing"
                            : conf.mode == ShortNameMode::disabled ? "disabled"
                                                                   : "permissive"}};
    std::optional<Policy> policy;
    try {
        policy = Policy::load(policy_file);
        out["policy"] = {{"file", policy->file}, {"digest", policy->digest}};
    } catch (const Error& e) {
        if (e.code() != Errc::not_found) throw;
        out["policy"] = {{"file", nullptr}, {"error", e.message()}};
    }
    if (reference.empty()) return out;
    auto cands = resolve_name(conf, reference, false);
    json names = json::array();
    for (const oci::Reference& logical : cands.refs) {
        json c = {{"name", logical.str()}};
        json sources = json::array();
        for (const PullSource& s : pull_sources(conf, logical)) {
            bool blocked = false;
            try {
                check_not_blocked(conf, s.ref);
            } catch (const Error& e) {
                if (e.code() != Errc::policy) throw;
                blocked = true;
            }
            auto la = lookaside_for(s.ref);
            sources.push_back({{"location", s.ref.str()},
                               {"mirror", s.mirror},
                               {"insecure", s.insecure || insecure(conf, s.ref.repository())},
                               {"blocked", blocked},
                               {"lookaside", la.base},
                               {"lookaside_origin", la.origin},
                               {"sigstore_attachments", la.sigstore_attachments}});
        }
        c["sources"] = sources;
        if (policy) {
            std::string scope;
            json reqs = json::array();
            for (auto& r : policy->for_image(logical, scope)) reqs.push_back(requirement_json(r));
            c["policy"] = {{"scope", scope}, {"requirements", reqs}};
        }
        names.push_back(c);
    }
    out["reference"] = {{"input", reference}, {"resolved_by", cands.how}, {"candidates", names}};
    return out;
}

std::string render_report(const json& r) {
    std::string s = "registries.conf:";
    auto& files = r["registries_conf"]["files"];
    if (files.empty()) s += " (none)";
    for (auto& f : files) s += "\n  " + f.get<std::string>();
    s += "\nunqualified-search-registries:";
    for (auto& f : r["registries_conf"]["unqualified_search_registries"])
        s += " " + f.get<std::string>();
    s += "\nshort-name-mode: " + r["registries_conf"]["short_name_mode"].get<std::string>();
    auto& p = r["policy"];
    s += "\npolicy.json: " + (p["file"].is_null() ? "(none: " + p["error"].get<std::string>() + ")"
                                                  : p["file"].get<std::string>() + " (" +
                                                        p["digest"].get<std::string>() + ")");
    if (!r.contains("reference")) return s + "\n";
    auto& ref = r["reference"];
    s += "\n\n" + ref["input"].get<std::string>();
    if (!ref["resolved_by"].get<std::string>().empty())
        s += " (" + ref["resolved_by"].get<std::string>() + ")";
    s += ":";
    for (auto& c : ref["candidates"]) {
        s += "\n  " + c["name"].get<std::string>() + "\n    pulled from, in order:";
        for (auto& src : c["sources"]) {
            s += "\n      " + src["location"].get<std::string>();
            if (src["mirror"].get<bool>()) s += " (mirror)";
            if (src["insecure"].get<bool>()) s += " insecure";
            if (src["blocked"].get<bool>()) s += " BLOCKED";
            s += "\n        signatures: " +
                 (src["lookaside"].get<std::string>().empty()
                      ? std::string("no lookaside")
                      : src["lookaside"].get<std::string>() + " (" +
                            src["lookaside_origin"].get<std::string>() + ")") +
                 (src["sigstore_attachments"].get<bool>() ? ", sigstore attachments" : "");
        }
        if (c.contains("policy")) {
            s += "\n    policy: " + c["policy"]["scope"].get<std::string>();
            for (auto& q : c["policy"]["requirements"]) {
                s += "\n      " + q["type"].get<std::string>();
                if (q.contains("signedIdentity"))
                    s += " (signedIdentity " + q["signedIdentity"]["type"].get<std::string>() + ")";
                if (q.contains("unsupported"))
                    s += " [" + q["unsupported"].get<std::string>() + ": not verified by gantry]";
            }
        }
    }
    return s + "\n";
}

} // namespace gantry::site
