#include "layer/tar_split.hpp"

#include "util/error.hpp"
#include "util/nettle.hpp"

#include <array>
#include <nlohmann/json.hpp>
#include <optional>

namespace gantry::layer::tar_split {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxSegmentBytes = 1u << 20; // a tar header with its PAX records

[[noreturn]] void refuse(const std::string& what, const std::string& why) {
    throw Error(Errc::invalid, what + ": the tar-split " + why,
                "the image was damaged or altered; pull or load it again (a lazy pull: without "
                "--lazy, or push it again with gantry push --compression zstd:chunked)");
}

// The field's value as a JSON integer >= 0 (a float, as Go's json into an int, is refused: its
// conversion to an integer out of range is undefined behaviour); DEFAULT_VALUE when absent and
// one is given.
std::uint64_t whole_number(const json& j, const char* field, const std::string& what,
                           std::optional<std::uint64_t> default_value = std::nullopt) {
    auto v = j.find(field);
    if (v == j.end() && default_value) return *default_value;
    if (v == j.end()) refuse(what, std::string("has an entry without its ") + field);
    if (v->is_number_unsigned()) return v->get<std::uint64_t>();
    if (v->is_number_integer() && v->get<std::int64_t>() >= 0)
        return static_cast<std::uint64_t>(v->get<std::int64_t>());
    refuse(what, std::string("has a ") + field +
                     " that is not a whole number: " + v->dump().substr(0, 64));
}

// A segment's line exactly as line() writes it, {"payload":BASE64 or null,"position":N,"type":2}:
// its position and payload (PAYLOAD null: none), read without nlohmann's lexer, which copies
// every byte of the line twice (44% of fuzz_layer_tar's time went to reading the store's record
// of each layer; the segments hold every tar header). False for any other line, equivalent JSON
// included: those go through nlohmann, which reads a canonical line to the same fields.
bool canonical_segment(std::string_view line, std::uint64_t& position,
                       std::optional<std::string_view>& payload) {
    auto take = [&line](std::string_view s) {
        if (!line.starts_with(s)) return false;
        line.remove_prefix(s.size());
        return true;
    };
    if (!take("{\"payload\":")) return false;
    if (take("null")) {
        payload.reset();
    } else {
        if (!take("\"")) return false;
        // a table lookup a byte through a pointer: the fuzz build instruments every comparison
        // and call
        static constexpr auto alphabet = [] {
            std::array<bool, 256> in{};
            for (char c : std::string_view("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                           "0123456789+/="))
                in[static_cast<unsigned char>(c)] = true;
            return in;
        }();
        const char* end = line.data() + line.size();
        const char* at = line.data();
        while (at != end && alphabet[static_cast<unsigned char>(*at)]) ++at;
        const auto n = static_cast<std::size_t>(at - line.data());
        payload = line.substr(0, n);
        line.remove_prefix(n);
        if (!take("\"")) return false;
    }
    if (!take(",\"position\":")) return false;
    std::size_t digits = 0;
    while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9') ++digits;
    // JSON has no leading zeros; 19 digits cannot overflow
    if (digits == 0 || digits > 19 || (digits > 1 && line[0] == '0')) return false;
    position = 0;
    for (char c : line.substr(0, digits)) position = position * 10 + static_cast<unsigned>(c - '0');
    line.remove_prefix(digits);
    return line == ",\"type\":2}";
}

} // namespace

// NAME's components, none for the layer's root directory ("." or "./", which `tar -C root -c .`,
// umoci and Alpine's minirootfs write first, and containers/storage reads as "/"); Error for an
// empty or absolute name, or one with ".." or NUL
std::vector<std::string> components(const std::string& name, const std::string& what) {
    if (name.empty() || name.size() > 4096 || name.find('\0') != std::string::npos ||
        name[0] == '/')
        refuse(what, "has an unusable name: " + name.substr(0, 256));
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i <= name.size()) {
        std::size_t j = name.find('/', i);
        if (j == std::string::npos) j = name.size();
        std::string c = name.substr(i, j - i);
        if (c == "..") refuse(what, "has a name with '..': " + name.substr(0, 256));
        if (c.size() > 255)
            refuse(what,
                   "has a name with a component longer than 255 bytes: " + name.substr(0, 256));
        if (!c.empty() && c != ".") parts.push_back(std::move(c));
        i = j + 1;
    }
    return parts;
}

std::vector<Entry> parse(std::string_view text, const std::string& what, bool crc_required) {
    std::vector<Entry> out;
    std::uint64_t position = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t nl = text.find('\n', i);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = text.substr(i, nl - i);
        i = nl + 1;
        if (line.empty()) continue;
        if (out.size() >= kMaxEntries)
            refuse(what, "has more than " + std::to_string(kMaxEntries) + " lines");
        std::uint64_t at = 0;
        std::optional<std::string_view> segment;
        if (canonical_segment(line, at, segment)) {
            if (at != position)
                refuse(what,
                       "has its entries out of order at line " + std::to_string(out.size() + 1));
            ++position;
            Entry e;
            if (segment) {
                auto bytes = nettle::base64_decode(std::string(*segment));
                if (!bytes) refuse(what, "has a payload that is not base64");
                e.payload = std::move(*bytes);
            }
            if (e.payload.size() > kMaxSegmentBytes)
                refuse(what, "has a segment over " + std::to_string(kMaxSegmentBytes) + " bytes");
            out.push_back(std::move(e));
            continue;
        }
        json j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object())
            refuse(what, "line " + std::to_string(out.size() + 1) + " is not a JSON object");
        try {
            Entry e;
            std::uint64_t type = whole_number(j, "type", what);
            if (type != 1 && type != 2)
                refuse(what, "has an entry of unknown type " + std::to_string(type));
            e.file = type == 1;
            if (whole_number(j, "position", what) != position)
                refuse(what,
                       "has its entries out of order at line " + std::to_string(out.size() + 1));
            ++position;
            if (auto p = j.find("payload"); p != j.end() && !p->is_null()) {
                auto bytes = nettle::base64_decode(p->get<std::string>());
                if (!bytes) refuse(what, "has a payload that is not base64");
                e.payload = std::move(*bytes);
            }
            if (e.file) {
                if (auto r = j.find("name_raw"); r != j.end() && !r->is_null()) {
                    auto raw = nettle::base64_decode(r->get<std::string>());
                    if (!raw) refuse(what, "has a name_raw that is not base64");
                    e.name = std::move(*raw);
                } else {
                    e.name = j.at("name").get<std::string>();
                }
                components(e.name, what);
                e.size = whole_number(j, "size", what, 0);
                if (e.size > 0 && crc_required && e.payload.size() != 8)
                    refuse(what, "has no crc64 for " + e.name.substr(0, 256));
            } else if (e.payload.size() > kMaxSegmentBytes) {
                refuse(what, "has a segment over " + std::to_string(kMaxSegmentBytes) + " bytes");
            }
            out.push_back(std::move(e));
        } catch (const json::exception& ex) {
            refuse(what, std::string("has a field of the wrong type (") + ex.what() + ")");
        }
    }
    return out;
}

void assemble(const std::vector<Entry>& entries,
              const std::function<std::string(const std::string&, std::uint64_t)>& file_bytes,
              const std::function<void(std::string_view)>& sink, const std::string& what) {
    for (const Entry& e : entries) {
        if (!e.file) {
            sink(e.payload);
            continue;
        }
        if (e.size == 0) continue;
        std::string data = file_bytes(e.name, e.size);
        if (data.size() != e.size)
            refuse(what, "says " + e.name.substr(0, 256) + " has " + std::to_string(e.size) +
                             " bytes; " + std::to_string(data.size()) + " were read");
        sink(data);
    }
}

std::string line(const Entry& e, std::uint64_t position) {
    // the bytes nlohmann's dump of the object wrote (its keys sorted), without building it: a
    // pull writes one line a file and one a segment (unit TarSplit.LinesAreWhatNlohmannWrites)
    std::string out = "{";
    if (e.file) {
        try {
            out += "\"name\":" + json(e.name).dump();
        } catch (const json::type_error&) { // not UTF-8: written as tar-split does
            out += "\"name_raw\":\"" + nettle::base64_encode(e.name) + '"';
        }
        out += ',';
    }
    out += "\"payload\":";
    out += e.payload.empty() ? std::string("null") : '"' + nettle::base64_encode(e.payload) + '"';
    out += ",\"position\":" + std::to_string(position);
    if (e.file && e.size > 0) out += ",\"size\":" + std::to_string(e.size);
    out += e.file ? ",\"type\":1}\n" : ",\"type\":2}\n";
    return out;
}

} // namespace gantry::layer::tar_split
