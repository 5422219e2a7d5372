#include "gpu_components/table.hpp"

#include "util/error.hpp"
#include "util/spelling.hpp"
#include "util/yaml.hpp"

#include <algorithm>
#include <initializer_list>

namespace gantry::gpu_components {

namespace {

constexpr text::Spelling<Role> kRoles[] = {
    {Role::toolkit, "toolkit"},   {Role::library, "library"},
    {Role::driver, "driver"},     {Role::driver_compat, "driver-compat"},
    {Role::firmware, "firmware"}, {Role::tool, "tool"}};

} // namespace

const char* to_string(Role r) {
    return text::word_for(kRoles, r, "library");
}

namespace {

struct Reader {
    const std::string& name;
    [[noreturn]] void fail(const yaml::Node& n, const std::string& what) const {
        throw Error(Errc::invalid, name + " line " + std::to_string(n.line) + ": " + what,
                    "fix the component table");
    }
    void keys(const yaml::Node& m, std::initializer_list<std::string_view> allowed) const {
        if (!m.is_map()) fail(m, "expected a mapping");
        for (auto& [k, v] : m.entries)
            if (std::find(allowed.begin(), allowed.end(), k.value) == allowed.end())
                fail(k, "unknown key \"" + k.value + "\"");
    }
    std::string str(const yaml::Node& m, std::string_view key, bool required = true) const {
        const yaml::Node* v = m.find(key);
        if (!v || v->is_null()) {
            if (required) fail(m, "missing \"" + std::string(key) + "\"");
            return {};
        }
        if (!v->is_scalar()) fail(*v, "\"" + std::string(key) + "\" is not a string");
        return v->value;
    }
    std::vector<std::string> strs(const yaml::Node& m, std::string_view key) const {
        std::vector<std::string> out;
        const yaml::Node* v = m.find(key);
        if (!v || v->is_null()) return out;
        if (!v->is_seq()) fail(*v, "\"" + std::string(key) + "\" is not a list");
        for (auto& i : v->items) {
            if (!i.is_scalar() || i.value.empty())
                fail(i, "an item of \"" + std::string(key) + "\" is not a string");
            out.push_back(i.value);
        }
        return out;
    }
    bool flag(const yaml::Node& m, std::string_view key) const {
        std::string s = str(m, key, false);
        if (s.empty() || s == "false") return false;
        if (s == "true") return true;
        fail(m, "\"" + std::string(key) + "\" is not true or false");
    }
    const yaml::Node& seq(const yaml::Node& doc, std::string_view key) const {
        const yaml::Node* v = doc.find(key);
        if (!v || !v->is_seq()) fail(doc, "\"" + std::string(key) + "\" is not a list");
        return *v;
    }
};

Role role_of(const Reader& rd, const yaml::Node& n, const std::string& s) {
    if (auto r = text::value_for(kRoles, s)) return *r;
    rd.fail(n, "unknown role \"" + s + "\"");
}

// The source id a row's "source" text starts with must be declared.
void check_source(const Reader& rd, const yaml::Node& n, const Table& t, const std::string& s) {
    std::string id = s.substr(0, s.find_first_of(" ;("));
    if (!t.source(id)) rd.fail(n, "source \"" + s + "\" does not start with a declared source id");
}

} // namespace

const Licence* Table::licence(std::string_view id) const {
    for (auto& l : licences)
        if (l.id == id) return &l;
    return nullptr;
}
const Source* Table::source(std::string_view id) const {
    for (auto& s : sources)
        if (s.id == id) return &s;
    return nullptr;
}
const DistributableList* Table::list(std::string_view id) const {
    for (auto& l : lists)
        if (l.id == id) return &l;
    return nullptr;
}
const DistributableList* Table::newest_list(std::string_view lic) const {
    const DistributableList* out = nullptr;
    for (auto& l : lists)
        if (l.licence == lic) out = &l;
    return out;
}

void parse_table(std::string_view text, const std::string& vendor, const std::string& name,
                 Table& t) {
    Reader rd{name};
    yaml::Node doc;
    try {
        doc = yaml::parse(text);
    } catch (const yaml::SyntaxError& e) {
        throw Error(Errc::invalid, name + " line " + std::to_string(e.line) + ": " + e.message,
                    "fix the component table");
    }
    rd.keys(doc, {"sources", "driver", "licence_texts", "notice_files", "licences", "lists",
                  "components"});
    for (auto& g : rd.strs(doc, "licence_texts")) t.licence_texts.push_back(g);
    for (auto& g : rd.strs(doc, "notice_files")) t.notice_files.push_back(g);
    for (auto& n : rd.seq(doc, "sources").items) {
        rd.keys(n, {"id", "document", "version", "where"});
        t.sources.push_back(
            {rd.str(n, "id"), rd.str(n, "document"), rd.str(n, "version"), rd.str(n, "where")});
    }
    if (const yaml::Node* d = doc.find("driver"); d && !d->is_null()) {
        rd.keys(*d, {"injected_by", "instead"});
        t.driver_notes.push_back(
            {vendor, rd.str(*d, "injected_by", false), rd.str(*d, "instead", false)});
    }
    for (auto& n : rd.seq(doc, "licences").items) {
        rd.keys(n, {"id", "name", "spdx", "open_source", "markers", "source", "contact", "note_id",
                    "note_title", "note_message", "note_fix", "unlisted_toolkit_terms",
                    "distributable_example"});
        Licence l{rd.str(n, "id"),
                  rd.str(n, "name"),
                  rd.str(n, "spdx", false),
                  rd.flag(n, "open_source"),
                  rd.strs(n, "markers"),
                  rd.str(n, "source"),
                  rd.str(n, "contact", false),
                  rd.str(n, "note_id", false),
                  rd.str(n, "note_title", false),
                  rd.str(n, "note_message", false),
                  rd.str(n, "note_fix", false),
                  rd.str(n, "unlisted_toolkit_terms", false),
                  rd.str(n, "distributable_example", false)};
        if (!l.note_id.empty() && (l.note_title.empty() || l.note_message.empty()))
            rd.fail(n, "a note needs note_title and note_message");
        check_source(rd, n, t, l.source);
        t.licences.push_back(std::move(l));
    }
    for (auto& n : rd.seq(doc, "lists").items) {
        rd.keys(n, {"id", "licence", "name", "rule", "markers", "source"});
        DistributableList l{rd.str(n, "id"),   rd.str(n, "licence"),  rd.str(n, "name"),
                            rd.str(n, "rule"), rd.strs(n, "markers"), rd.str(n, "source")};
        if (!t.licence(l.licence)) rd.fail(n, "undeclared licence \"" + l.licence + "\"");
        if (l.markers.empty()) rd.fail(n, "a list needs markers");
        check_source(rd, n, t, l.source);
        t.lists.push_back(std::move(l));
    }
    for (auto& n : rd.seq(doc, "components").items) {
        rd.keys(n, {"id", "name", "vendor", "role", "licence", "files", "paths", "elf", "listed_in",
                    "packages", "source"});
        Component c;
        c.id = rd.str(n, "id");
        c.name = rd.str(n, "name");
        c.vendor = rd.str(n, "vendor", false);
        if (c.vendor.empty()) c.vendor = vendor;
        if (c.vendor != vendor) rd.fail(n, "vendor \"" + c.vendor + "\" in " + vendor + "'s table");
        c.role = role_of(rd, n, rd.str(n, "role"));
        c.licence = rd.str(n, "licence", false);
        if (!c.licence.empty() && !t.licence(c.licence))
            rd.fail(n, "undeclared licence \"" + c.licence + "\"");
        c.files = rd.strs(n, "files");
        c.paths = rd.strs(n, "paths");
        if (c.files.empty() && c.paths.empty()) rd.fail(n, "a component needs files or paths");
        c.elf = rd.flag(n, "elf");
        c.listed_in = rd.strs(n, "listed_in");
        for (auto& l : c.listed_in)
            if (!t.list(l)) rd.fail(n, "undeclared list \"" + l + "\"");
        c.packages = rd.strs(n, "packages");
        c.source = rd.str(n, "source");
        check_source(rd, n, t, c.source);
        for (auto& o : t.components)
            if (o.id == c.id) rd.fail(n, "component \"" + c.id + "\" is declared twice");
        t.components.push_back(std::move(c));
    }
}

const Table& table() {
    static const Table t = [] {
        struct Embedded {
            const char* vendor;
            const char* file;
            std::string_view text;
        };
        static constexpr Embedded tables[] = {
#include "gpu_component_tables.inc"
        };
        Table out;
        for (auto& e : tables) parse_table(e.text, e.vendor, e.file, out);
        return out;
    }();
    return t;
}

} // namespace gantry::gpu_components
