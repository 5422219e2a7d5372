// The stub vendor's device-code format ("stub"): code objects are "STUBCODE:<target>:" followed
// by 16 bytes of payload anywhere in a file. Enough to show that a vendor's format reaches
// --keep-arch, tailor, analyze's bytes per target, doctor --fatbin and build --gpu-arch through
// device_code::Format alone.
#include "stub_backend.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace stub_vendor {

using namespace gantry;

namespace {

constexpr std::string_view kStubMarker = "STUBCODE:";
constexpr std::size_t kStubPayload = 16;

struct StubObject {
    std::size_t offset, size;
    std::string target;
};

std::vector<StubObject> stub_objects(std::string_view bytes) {
    std::vector<StubObject> out;
    for (std::size_t at = bytes.find(kStubMarker); at != std::string_view::npos;
         at = bytes.find(kStubMarker, at + 1)) {
        std::size_t colon = bytes.find(':', at + kStubMarker.size());
        if (colon == std::string_view::npos || colon + 1 + kStubPayload > bytes.size()) break;
        std::string target(bytes.substr(at + kStubMarker.size(), colon - at - kStubMarker.size()));
        out.push_back({at, colon + 1 + kStubPayload - at, target});
    }
    return out;
}

std::optional<std::string> parse_stub_target(const std::string& item) {
    if (item.size() > 4 && item.starts_with("stub") &&
        item.find_first_not_of("0123456789", 4) == std::string::npos)
        return item;
    return std::nullopt;
}

std::string stub_read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(Errc::not_found, "cannot read " + path, "name a file");
    return std::string(std::istreambuf_iterator<char>(in), {});
}

class StubFormat final : public device_code::Format {
  public:
    std::string_view name() const override { return "stub"; }
    const device_code::KeepGrammar& keep_grammar() const override {
        static const device_code::KeepGrammar g{
            "stub",
            "a stub target",
            "stub GPUs as stubN",
            "stub1",
            parse_stub_target,
            nullptr,
            nullptr,
            {{"--no-stub-spare", "With --keep-arch: the stub format's option"}}};
        return g;
    }
    std::map<std::string, std::uint64_t> target_bytes(std::string_view elf,
                                                      const std::string&) const override {
        std::map<std::string, std::uint64_t> out;
        for (const auto& o : stub_objects(elf)) out[o.target] += o.size;
        return out;
    }
    device_code::FileReport tailor(std::string& elf, const device_code::KeepSet& keep,
                                   const std::string& path, bool write) const override {
        device_code::FileReport r{.path = path, .vendor = "stub", .file_size = elf.size()};
        const auto& kept = keep.targets("stub");
        for (const auto& o : stub_objects(elf)) {
            ++r.entries_before;
            r.arch_before[o.target] += o.size;
            if (std::find(kept.begin(), kept.end(), o.target) != kept.end()) {
                ++r.entries_after;
                r.arch_after[o.target] += o.size;
                continue;
            }
            r.zeroed += o.size;
            r.dropped.emplace_back(o.offset, o.size);
        }
        if (r.dropped.empty()) return r;
        r.outcome = device_code::FileReport::Outcome::changed;
        if (write)
            for (const auto& [off, n] : r.dropped) std::memset(elf.data() + off, 0, n);
        return r;
    }
    device_code::Listing list(const std::string& path) const override {
        const auto objects = stub_objects(stub_read_file(path));
        device_code::Listing l;
        l.found = !objects.empty();
        l.headline = path + ": " + std::to_string(objects.size()) + " stub code object(s)";
        if (l.found) {
            l.tables.push_back({{"TARGET", "SIZE"}});
            for (const auto& o : objects)
                l.tables.back().push_back({o.target, std::to_string(o.size)});
        }
        return l;
    }
    void list_json(const std::string& path, nlohmann::json& document) const override {
        auto& out = document["stub"] = nlohmann::json::array();
        for (const auto& o : stub_objects(stub_read_file(path)))
            out.push_back({{"target", o.target}, {"size", o.size}});
    }
    std::map<std::string, std::string>
    build_env(const std::vector<std::string>& targets) const override {
        std::string list;
        for (const auto& t : targets) list += (list.empty() ? "" : ";") + t;
        return {{"STUB_ARCH", list}};
    }
};

} // namespace

const device_code::Format& stub_format() {
    static const StubFormat format;
    return format;
}

} // namespace stub_vendor
