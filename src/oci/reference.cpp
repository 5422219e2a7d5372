#include "oci/reference.hpp"

#include "util/error.hpp"
#include "util/printable.hpp"

#include <cstdio>

// A hand-written validator for the reference grammar (see reference.hpp). It accepts exactly what
// distribution/reference's ParseNormalizedNamed accepts (restricted to sha256 digests), but says
// precisely what is wrong instead of "invalid reference format".

namespace gantry::oci {

namespace {

constexpr const char* kFormatHint =
    "an image reference looks like [registry[:port]/]name[:tag][@sha256:<64 hex>], "
    "e.g. busybox, nvidia/cuda:12.4 or registry.example.com:5000/team/app:1.0";

constexpr const char* kDomainHint =
    "the part before the first '/' names a registry when it contains '.' or ':', is "
    "\"localhost\" or has uppercase letters (otherwise the image is on docker.io); write a "
    "registry as host[:port] or [ipv6]:port";

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_lower(char c) {
    return c >= 'a' && c <= 'z';
}
bool is_upper(char c) {
    return c >= 'A' && c <= 'Z';
}
bool is_lower_alnum(char c) {
    return is_lower(c) || is_digit(c);
}
bool is_alnum(char c) {
    return is_lower(c) || is_upper(c) || is_digit(c);
}
bool is_word(char c) {
    return is_alnum(c) || c == '_';
}
bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_lower_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

bool has_upper(std::string_view s) {
    for (char c : s)
        if (is_upper(c)) return true;
    return false;
}

bool all_of(std::string_view s, bool (*pred)(char)) {
    for (char c : s)
        if (!pred(c)) return false;
    return true;
}

// s in double quotes as Go's strconv.Quote writes it (util/printable.hpp: the one rule for a
// value printed as text), very long inputs shortened, so that messages stay on one readable line.
std::string quote(std::string_view s) {
    constexpr std::size_t kMaxShown = 200;
    if (s.size() <= kMaxShown) return text::quote(s);
    std::string out = text::quote(s.substr(0, kMaxShown));
    out.insert(out.size() - 1, "...");
    return out;
}

// 'c' for a printable character, "byte 0xNN" otherwise.
std::string describe(char ch) {
    auto c = static_cast<unsigned char>(ch);
    if (c == ' ') return "space";
    if (c < 0x20 || c >= 0x7f) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
        return buf;
    }
    return std::string("'") + ch + "'";
}

class Parser {
  public:
    explicit Parser(std::string_view input) : input_(input) {}

    Reference run();

  private:
    [[noreturn]] void fail(const std::string& reason, std::string hint = kFormatHint,
                           Errc code = Errc::invalid) const {
        throw Error(code, "invalid image reference " + quote(input_) + ": " + reason,
                    std::move(hint));
    }

    void check_ipv6(std::string_view bracketed) const;
    void check_domain(std::string_view domain) const;
    void check_port(std::string_view domain, std::string_view port) const;
    void check_path(std::string_view path, std::string_view given) const;
    void check_component(std::string_view comp) const;
    void check_tag(std::string_view tag) const;
    void check_digest(std::string_view digest) const;

    std::string_view input_;
};

void Parser::check_port(std::string_view domain, std::string_view port) const {
    // port is what follows the ':' after the host.
    if (port.empty())
        fail("registry " + quote(domain) + " has an empty port after ':'",
             "give a port number after ':' or drop the ':'");
    if (!all_of(port, is_digit)) {
        if (port.find(':') != std::string_view::npos)
            fail("registry " + quote(domain) +
                     " has more than one ':'; IPv6 addresses must be enclosed in brackets",
                 "write an IPv6 registry as [addr]:port, e.g. [fc00::1]:5000/repo");
        fail("registry port " + quote(port) + " must be numeric", kDomainHint);
    }
}

// bracketed is "[" ... "]" (the caller found the ']').
void Parser::check_ipv6(std::string_view bracketed) const {
    std::string_view addr = bracketed.substr(1, bracketed.size() - 2);
    if (addr.empty()) fail("IPv6 registry address " + quote(bracketed) + " is empty", kDomainHint);
    for (char c : addr) {
        if (is_hex(c) || c == ':') continue;
        if (c == '%')
            fail("IPv6 zone identifiers are not supported in registry addresses (" +
                     quote(bracketed) + ")",
                 kDomainHint);
        if (c == '.')
            fail("IPv6 addresses with an embedded IPv4 part are not supported in registry "
                 "addresses (" +
                     quote(bracketed) + ")",
                 kDomainHint);
        fail("invalid character " + describe(c) + " in IPv6 registry address " + quote(bracketed),
             kDomainHint);
    }
}

void Parser::check_domain(std::string_view domain) const {
    if (domain.front() == '[') {
        auto close = domain.find(']');
        if (close == std::string_view::npos)
            fail("IPv6 registry address " + quote(domain) + " is missing the closing ']'",
                 kDomainHint);
        check_ipv6(domain.substr(0, close + 1));
        std::string_view rest = domain.substr(close + 1);
        if (rest.empty()) return;
        if (rest.front() != ':')
            fail("unexpected " + quote(rest) + " after IPv6 registry address; expected ':port'",
                 kDomainHint);
        check_port(domain, rest.substr(1));
        return;
    }

    auto colon = domain.find(':');
    std::string_view host = domain.substr(0, colon);
    if (host.empty()) fail("registry " + quote(domain) + " has an empty host name", kDomainHint);
    std::size_t start = 0;
    while (true) {
        auto dot = host.find('.', start);
        std::string_view label = host.substr(
            start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty())
            fail("registry host " + quote(host) +
                     " has an empty label (leading, trailing or "
                     "double '.')",
                 kDomainHint);
        for (char c : label)
            if (!is_alnum(c) && c != '-')
                fail("invalid character " + describe(c) + " in registry host " + quote(host),
                     kDomainHint);
        if (label.front() == '-' || label.back() == '-')
            fail("registry host label " + quote(label) + " must not start or end with '-'",
                 kDomainHint);
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    if (colon != std::string_view::npos) check_port(domain, domain.substr(colon + 1));
}

void Parser::check_component(std::string_view comp) const {
    // comp is non-empty and has no uppercase letters (checked by the caller).
    auto bad_char = [&](char c) {
        fail("invalid character " + describe(c) + " in repository path component " + quote(comp),
             "repository names may contain lowercase letters, digits and the separators '.', "
             "'_', '__' and '-'");
    };
    std::size_t i = 0, n = comp.size();
    if (!is_lower_alnum(comp[0])) {
        if (comp[0] == '.' || comp[0] == '_' || comp[0] == '-')
            fail("repository path component " + quote(comp) +
                 " must start with a lowercase letter or digit");
        bad_char(comp[0]);
    }
    while (true) {
        while (i < n && is_lower_alnum(comp[i])) ++i;
        if (i == n) return;
        std::size_t sep_start = i;
        if (comp[i] == '.') {
            ++i;
        } else if (comp[i] == '_') {
            ++i;
            if (i < n && comp[i] == '_') ++i;
        } else if (comp[i] == '-') {
            while (i < n && comp[i] == '-') ++i;
        } else {
            bad_char(comp[i]);
        }
        if (i == n)
            fail("repository path component " + quote(comp) +
                 " must end with a lowercase letter or digit");
        if (!is_lower_alnum(comp[i])) {
            if (comp[i] == '.' || comp[i] == '_' || comp[i] == '-') {
                std::size_t j = i;
                while (j < n && (comp[j] == '.' || comp[j] == '_' || comp[j] == '-')) ++j;
                fail("invalid separator " + quote(comp.substr(sep_start, j - sep_start)) +
                     " in repository path component " + quote(comp) +
                     " (allowed: '.', '_', '__' or a run of '-')");
            }
            bad_char(comp[i]);
        }
    }
}

// path is the normalised path, given the part of the input it came from (for messages).
void Parser::check_path(std::string_view path, std::string_view given) const {
    if (has_upper(path))
        fail("repository name " + quote(given) + " must be lowercase",
             "repository names are lowercase (tags may contain uppercase letters)");
    std::size_t start = 0;
    while (true) {
        auto slash = path.find('/', start);
        std::string_view comp = path.substr(
            start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (comp.empty()) {
            if (start == path.size() && start > 0)
                fail("repository name " + quote(given) + " must not end with '/'");
            if (slash == 0) fail("repository name " + quote(given) + " must not start with '/'");
            fail("repository name " + quote(given) + " contains an empty path component ('//')");
        }
        check_component(comp);
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    if (path.size() > kMaxPathLength)
        fail("repository name must not be more than " + std::to_string(kMaxPathLength) +
             " characters (" + std::to_string(path.size()) + " given)");
}

void Parser::check_tag(std::string_view tag) const {
    if (tag.empty())
        fail("':' must be followed by a tag", "remove the trailing ':' or add a tag after it");
    if (!is_word(tag[0])) fail("tag " + quote(tag) + " must start with a letter, digit or '_'");
    for (char c : tag)
        if (!is_word(c) && c != '.' && c != '-')
            fail("invalid character " + describe(c) + " in tag " + quote(tag),
                 "tags may contain letters, digits, '_', '.' and '-'");
    if (tag.size() > kMaxTagLength)
        fail("tag must not be more than " + std::to_string(kMaxTagLength) + " characters (" +
             std::to_string(tag.size()) + " given)");
}

void Parser::check_digest(std::string_view digest) const {
    const std::string digest_hint = "a digest looks like sha256:<64 lowercase hex characters>";
    if (digest.empty())
        fail("'@' must be followed by a digest",
             "remove the trailing '@' or add a digest after it");
    if (digest.find('@') != std::string_view::npos) fail("more than one '@'", digest_hint);
    auto colon = digest.find(':');
    if (colon == std::string_view::npos)
        fail("digest " + quote(digest) + " has no algorithm (expected \"sha256:<hex>\")",
             digest_hint);
    std::string_view algo = digest.substr(0, colon);
    std::string_view hex = digest.substr(colon + 1);
    // Algorithm grammar: [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*
    bool algo_ok = !algo.empty();
    bool at_start = true;
    for (char c : algo) {
        if (at_start) {
            if (!is_lower(c) && !is_upper(c)) algo_ok = false;
            at_start = false;
        } else if (c == '-' || c == '_' || c == '+' || c == '.') {
            at_start = true;
        } else if (!is_alnum(c)) {
            algo_ok = false;
        }
    }
    if (at_start) algo_ok = false;
    if (!algo_ok) fail("malformed digest algorithm " + quote(algo), digest_hint);
    if (hex.empty()) fail("digest " + quote(digest) + " has no hex value", digest_hint);
    for (char c : hex)
        if (!is_hex(c))
            fail("invalid character " + describe(c) + " in digest " + quote(digest), digest_hint);
    if (algo != "sha256") {
        // Well-formed digests (>= 128 bits) of other algorithms are valid but not handled;
        // anything shorter is not a digest at all.
        if (hex.size() < 32)
            fail("digest " + quote(digest) + " is too short (at least 32 hex characters)",
                 digest_hint);
        fail("unsupported digest algorithm " + quote(algo) + " (only sha256 is supported)",
             "refer to the image by tag or by its sha256 digest", Errc::unsupported);
    }
    if (hex.size() != 64)
        fail("sha256 digest must have 64 hex characters, got " + std::to_string(hex.size()),
             digest_hint);
    if (!all_of(hex, is_lower_hex))
        fail("sha256 digest " + quote(hex) + " must be lowercase hex", digest_hint);
}

Reference Parser::run() {
    std::string_view s = input_;
    if (s.empty()) fail("reference is empty");
    if (s.size() == 64 && all_of(s, is_lower_hex))
        fail("a 64-character hexadecimal string is an image ID, not a repository name",
             "to refer to an image by ID use it where an image ID is accepted, or by digest use "
             "name@sha256:<hex>");
    if (auto scheme = s.find("://"); scheme != std::string_view::npos)
        fail("an image reference must not include a URL scheme (" + quote(s.substr(0, scheme + 3)) +
                 ")",
             "drop the scheme, e.g. registry.example.com/team/app:1.0");

    if (s.front() == '[') {
        // Check the bracketed address before splitting at '@' or ':', which it may contain.
        auto close = s.find(']');
        if (close == std::string_view::npos)
            fail("IPv6 registry address is missing the closing ']'", kDomainHint);
        check_ipv6(s.substr(0, close + 1));
    }

    Reference ref;

    // name[:tag] "@" digest: names and tags never contain '@'.
    std::string_view name_tag = s;
    std::string_view digest;
    bool has_digest = false;
    if (auto at = s.find('@'); at != std::string_view::npos) {
        name_tag = s.substr(0, at);
        digest = s.substr(at + 1);
        has_digest = true;
    }

    // name ":" tag: the tag's ':' is the last one, and comes after the last '/' (a ':' before it
    // belongs to a registry port).
    auto last_slash = name_tag.rfind('/');
    if (last_slash == std::string_view::npos && !name_tag.empty() && name_tag.front() == '[')
        fail("IPv6 registry address must be followed by '/' and a repository name",
             "e.g. [fc00::1]:5000/team/app:1.0");
    std::string_view name = name_tag;
    std::string_view tag;
    bool has_tag = false;
    if (auto colon = name_tag.rfind(':');
        colon != std::string_view::npos &&
        (last_slash == std::string_view::npos || colon > last_slash)) {
        name = name_tag.substr(0, colon);
        tag = name_tag.substr(colon + 1);
        has_tag = true;
    }
    if (name.empty()) fail("missing repository name");

    // [domain "/"] path, docker's splitDockerDomain rules.
    std::string_view given_path = name;
    bool explicit_domain = false;
    if (auto slash = name.find('/'); slash == std::string_view::npos) {
        ref.domain = kDefaultDomain;
    } else {
        std::string_view first = name.substr(0, slash);
        if (first == "localhost" || first.find_first_of(".:") != std::string_view::npos ||
            has_upper(first)) {
            if (first == kLegacyDefaultDomain) {
                ref.domain = kDefaultDomain;
            } else {
                ref.domain = first;
                explicit_domain = true;
            }
            given_path = name.substr(slash + 1);
            if (given_path.empty()) fail("missing repository name after registry " + quote(first));
        } else {
            ref.domain = kDefaultDomain;
        }
    }
    if (explicit_domain) check_domain(ref.domain);
    if (ref.domain == kDefaultDomain && given_path.find('/') == std::string_view::npos)
        ref.path = std::string(kOfficialRepoPrefix) + std::string(given_path);
    else
        ref.path = given_path;
    check_path(ref.path, given_path);

    if (has_tag) {
        check_tag(tag);
        ref.tag = tag;
    }
    if (has_digest) {
        check_digest(digest);
        ref.digest = digest;
    }
    if (!has_tag && !has_digest) ref.tag = kDefaultTag;
    return ref;
}

} // namespace

Reference Reference::parse(std::string_view s) {
    // enroot's and pyxis' spelling, [USER@][REGISTRY#]IMAGE[:TAG] (pyxis#67): the registry ends
    // at a '#' that comes before any '/'. USER@ names enroot's credentials, which gantry keeps
    // per registry (gantry login): refused rather than ignored.
    if (auto hash = s.find('#');
        hash != std::string_view::npos && s.substr(0, hash).find('/') == std::string_view::npos) {
        std::string_view registry = s.substr(0, hash);
        if (registry.find('@') != std::string_view::npos)
            throw Error(Errc::invalid,
                        "invalid image reference \"" + std::string(s) +
                            "\": enroot's USER@ before the registry is not supported",
                        "drop USER@ and log in to the registry once: gantry login " +
                            std::string(registry.substr(registry.find('@') + 1)));
        return Parser(std::string(registry) + "/" + std::string(s.substr(hash + 1))).run();
    }
    return Parser(s).run();
}

std::string Reference::repository() const {
    if (domain.empty()) return path;
    return domain + "/" + path;
}

std::string Reference::familiar() const {
    std::string out;
    if (domain == kDefaultDomain) {
        std::string_view p = path;
        if (p.starts_with(kOfficialRepoPrefix) &&
            p.find('/', kOfficialRepoPrefix.size()) == std::string_view::npos)
            p.remove_prefix(kOfficialRepoPrefix.size());
        out = p;
    } else {
        out = repository();
    }
    if (!tag.empty()) out += ":" + tag;
    if (!digest.empty()) out += "@" + digest;
    return out;
}

std::string Reference::str() const {
    std::string out = repository();
    if (!tag.empty()) out += ":" + tag;
    if (!digest.empty()) out += "@" + digest;
    return out;
}

std::string Reference::tag_or_latest() const {
    if (!tag.empty()) return tag;
    if (digest.empty()) return std::string(kDefaultTag);
    return {};
}

bool looks_like_digest_prefix(std::string_view s) {
    if (s.starts_with("sha256:")) s.remove_prefix(7);
    return s.size() >= 4 && s.size() <= 64 && all_of(s, is_lower_hex);
}

} // namespace gantry::oci
