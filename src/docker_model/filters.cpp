#include "docker_model/filters.hpp"

#include "docker_model/containers.hpp"
#include "oci/reference.hpp"
#include "store/build_cache.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <fnmatch.h>
#include <regex>
#include <utility>

namespace gantry::docker_model {

namespace {

bool any_of_values(const FilterArgs& f, const std::string& key,
                   const std::function<bool(const std::string&)>& pred) {
    auto it = f.find(key);
    if (it == f.end()) return true;
    return std::any_of(it->second.begin(), it->second.end(), pred);
}

// docker's Args.Match: the value exactly, or as a regular expression found in SOURCE.
bool regex_or_exact(const std::string& pattern, const std::string& source) {
    if (pattern == source) return true;
    return std::regex_search(source, std::regex(pattern, std::regex::ECMAScript));
}

void check_regexes(const FilterArgs& f, const std::string& key) {
    auto it = f.find(key);
    if (it == f.end()) return;
    for (auto& v : it->second) {
        if (v.size() > 256)
            throw Error(Errc::usage, "--filter " + key + "=...: the pattern is over 256 bytes",
                        "give a shorter " + key);
        try {
            std::regex re(v, std::regex::ECMAScript);
        } catch (const std::regex_error&) {
            throw Error(Errc::usage, "--filter " + key + "=" + v + ": not a regular expression",
                        "docker matches " + key + " as a regular expression: escape ( [ * + ?");
        }
    }
}

// The one value of KEY (before/since take one), or nothing.
std::optional<std::string> single(const FilterArgs& f, const std::string& key) {
    auto it = f.find(key);
    if (it == f.end()) return std::nullopt;
    if (it->second.size() > 1)
        throw Error(Errc::usage,
                    "--filter " + key + " given " + std::to_string(it->second.size()) + " times",
                    "give one " + key + " container or image");
    return it->second[0];
}

bool bool_value(const std::string& key, const std::string& v) {
    if (v == "true" || v == "1") return true;
    if (v == "false" || v == "0") return false;
    throw Error(Errc::usage, "invalid filter '" + key + "=" + v + "'",
                "--filter " + key + "=true or " + key + "=false");
}

} // namespace

FilterArgs parse_filters(const std::vector<std::string>& words, const std::string& command,
                         const std::vector<std::string>& accepted) {
    FilterArgs f;
    for (auto& w : words) {
        auto eq = w.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error(Errc::usage, "bad format of filter \"" + w + "\" (expected name=value)",
                        "e.g. " + command + " --filter " + accepted[0] + "=VALUE");
        std::string key = w.substr(0, eq);
        std::transform(key.begin(), key.end(), key.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (std::find(accepted.begin(), accepted.end(), key) == accepted.end()) {
            std::string keys;
            for (auto& a : accepted) keys += (keys.empty() ? "" : ", ") + a;
            throw Error(Errc::usage, "invalid filter '" + key + "' for " + command,
                        command + " filters by " + keys);
        }
        f[key].push_back(w.substr(eq + 1));
    }
    return f;
}

bool labels_match(const FilterArgs& f, const std::map<std::string, std::string>& labels) {
    auto it = f.find("label");
    if (it == f.end()) return true;
    for (auto& want : it->second) {
        auto eq = want.find('=');
        auto l = labels.find(want.substr(0, eq));
        if (l == labels.end()) return false;
        if (eq != std::string::npos && l->second != want.substr(eq + 1)) return false;
    }
    return true;
}

namespace {

std::vector<const records::ContainerState*>
filter_states_of(const std::vector<records::ContainerState>& all) {
    std::vector<const records::ContainerState*> out;
    for (auto& s : all) out.push_back(&s);
    return out;
}

std::vector<const records::ContainerState*>
filter_states_of(const std::vector<std::shared_ptr<const records::ContainerState>>& all) {
    std::vector<const records::ContainerState*> out;
    for (auto& s : all) out.push_back(s.get());
    return out;
}

} // namespace

ContainerFilter::ContainerFilter(
    const std::vector<std::string>& words, const std::vector<records::ContainerState>& all,
    std::function<std::optional<std::string>(const std::string&)> image_digest)
    : ContainerFilter(words, filter_states_of(all), std::move(image_digest)) {}

ContainerFilter::ContainerFilter(
    const std::vector<std::string>& words,
    const std::vector<std::shared_ptr<const records::ContainerState>>& all,
    std::function<std::optional<std::string>(const std::string&)> image_digest)
    : ContainerFilter(words, filter_states_of(all), std::move(image_digest)) {}

ContainerFilter::ContainerFilter(
    const std::vector<std::string>& words, const std::vector<const records::ContainerState*>& all,
    std::function<std::optional<std::string>(const std::string&)> image_digest)
    : f_(parse_filters(
          words, "ps",
          {"ancestor", "before", "exited", "id", "label", "name", "since", "status"})) {
    check_regexes(f_, "id");
    check_regexes(f_, "name");
    static const std::vector<std::string> kStates{"created", "restarting", "running", "removing",
                                                  "paused",  "exited",     "dead"};
    if (auto it = f_.find("status"); it != f_.end())
        for (auto& v : it->second)
            if (std::find(kStates.begin(), kStates.end(), v) == kStates.end())
                throw Error(Errc::usage, "invalid filter 'status=" + v + "'",
                            "a status is created, restarting, running, removing, paused, exited "
                            "or dead");
    if (auto it = f_.find("exited"); it != f_.end())
        for (auto& v : it->second) {
            char* end = nullptr;
            errno = 0;
            long code = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end || errno || code < -2147483648L || code > 2147483647L)
                throw Error(Errc::usage, "invalid filter 'exited=" + v + "'",
                            "exited takes an exit code: --filter exited=0");
        }
    auto created_of = [&](const std::string& key) -> std::optional<std::string> {
        auto v = single(f_, key);
        if (!v) return std::nullopt;
        for (auto* s : all)
            if (s->name == *v || s->id == *v || (v->size() >= 3 && s->id.starts_with(*v)))
                return s->created;
        throw Error(Errc::not_found, "--filter " + key + "=" + *v + ": no such container",
                    "name a container `gantry ps -a` lists");
    };
    before_ = created_of("before");
    since_ = created_of("since");
    if (auto it = f_.find("ancestor"); it != f_.end())
        for (auto& v : it->second)
            if (auto d = image_digest(v)) ancestor_digests_.push_back(*d);
}

bool ContainerFilter::wants_stopped() const {
    return f_.contains("status"); // moby sets All for a status filter, not for exited
}

bool ContainerFilter::matches(const records::ContainerState& s, bool running) const {
    if (!any_of_values(f_, "id", [&](const std::string& v) { return regex_or_exact(v, s.id); }))
        return false;
    if (!any_of_values(f_, "name",
                       [&](const std::string& v) { return regex_or_exact(v, "/" + s.name); }))
        return false;
    if (!labels_match(f_, s.labels)) return false;
    std::string state = state_word(s, running);
    if (!any_of_values(f_, "status", [&](const std::string& v) { return v == state; }))
        return false;
    if (!any_of_values(f_, "exited", [&](const std::string& v) {
            return state == "exited" && std::stol(v) == s.exit_code;
        }))
        return false;
    if (!any_of_values(f_, "ancestor", [&](const std::string& v) {
            if (v == s.image) return true;
            if (std::find(ancestor_digests_.begin(), ancestor_digests_.end(), s.manifest) !=
                ancestor_digests_.end())
                return true;
            try { // busybox and docker.io/library/busybox:latest name one image
                return oci::Reference::parse(v).str() == oci::Reference::parse(s.image).str();
            } catch (const Error&) {
                return false;
            }
        }))
        return false;
    if (before_ && !(s.created < *before_)) return false;
    if (since_ && !(s.created > *since_)) return false;
    return true;
}

ImageFilter::ImageFilter(const std::vector<std::string>& words, const std::vector<ImageFacts>& all)
    : f_(parse_filters(words, "images", {"before", "dangling", "label", "reference", "since"})) {
    if (auto it = f_.find("dangling"); it != f_.end())
        for (auto& v : it->second) (void)bool_value("dangling", v);
    auto created_of = [&](const std::string& key) -> std::optional<std::string> {
        auto v = single(f_, key);
        if (!v) return std::nullopt;
        std::string normal;
        try {
            normal = oci::Reference::parse(*v).str();
        } catch (const Error&) {
        }
        for (auto& i : all) {
            bool by_ref = !i.reference.empty() &&
                          (i.reference == *v ||
                           (!normal.empty() && oci::Reference::parse(i.reference).str() == normal));
            std::string hex = i.id.substr(i.id.find(':') + 1);
            bool by_id = i.id == *v || (v->size() >= 3 && hex.starts_with(*v));
            if (by_ref || by_id) return i.created;
        }
        throw Error(Errc::not_found, "--filter " + key + "=" + *v + ": no such image",
                    "name an image `gantry images` lists");
    };
    before_ = created_of("before");
    since_ = created_of("since");
}

bool ImageFilter::matches(const ImageFacts& i) const {
    bool dangling = i.reference.empty();
    if (!any_of_values(f_, "dangling",
                       [&](const std::string& v) { return bool_value("dangling", v) == dangling; }))
        return false;
    if (!labels_match(f_, i.labels)) return false;
    if (!any_of_values(f_, "reference", [&](const std::string& pattern) {
            if (i.reference.empty()) return false;
            // docker's FamiliarMatch: path.Match on "name:tag", then on "name"
            std::string familiar = i.reference, name = i.reference;
            try {
                auto r = oci::Reference::parse(i.reference);
                familiar = r.familiar();
                r.tag.clear();
                r.digest.clear();
                name = r.familiar();
            } catch (const Error&) {
            }
            return ::fnmatch(pattern.c_str(), familiar.c_str(), FNM_PATHNAME) == 0 ||
                   ::fnmatch(pattern.c_str(), name.c_str(), FNM_PATHNAME) == 0;
        }))
        return false;
    if (before_ && !(i.created < *before_)) return false;
    if (since_ && !(i.created > *since_)) return false;
    return true;
}

PruneFilter::PruneFilter(const std::vector<std::string>& words, std::int64_t now)
    : f_(parse_filters(words, "container prune", {"until", "label", "label!"})) {
    if (auto it = f_.find("until"); it != f_.end()) {
        if (it->second.size() != 1)
            throw Error(Errc::usage, "container prune takes one until= filter",
                        "give the one duration: --filter until=24h");
        created_before_ = text::rfc3339(now - store::parse_until(it->second.front()));
    }
}

bool PruneFilter::matches(const records::ContainerState& s) const {
    if (created_before_ && !(s.created < *created_before_)) return false;
    if (!labels_match(f_, s.labels)) return false;
    if (auto it = f_.find("label!"); it != f_.end())
        for (auto& unwanted : it->second)
            if (labels_match(FilterArgs{{"label", {unwanted}}}, s.labels)) return false;
    return true;
}

} // namespace gantry::docker_model
