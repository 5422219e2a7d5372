#include "gpu_vendors/intel/device_code.hpp"

#include "gpu_vendors/intel/linked.hpp"
#include "gpu_vendors/intel/offload.hpp"
#include "util/error.hpp"
#include "util/mapped_file.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace gantry::gpu_vendors::intel {

namespace {

std::string intel_target_of(const DeviceImage& img) {
    if (img.format == ImageFormat::spirv) return "spirv";
    return img.arch.empty() ? std::string("unnamed") : normalize_device_name(img.arch);
}

std::vector<DeviceImage> intel_gpu_images(std::string_view data, const std::string& path) {
    std::vector<DeviceImage> out;
    for (auto& i : read_offload_images(data, path))
        if (i.for_intel_gpu()) out.push_back(std::move(i));
    return out;
}

bool intel_linked_program(std::string_view elf, const std::string& path) {
    try {
        return read_wrapped_images(elf, path).linked;
    } catch (const Error&) {
        return true; // a program whose descriptors are damaged
    }
}

class IntelFormat final : public device_code::Format {
  public:
    std::string_view name() const override { return "intel"; }

    const device_code::KeepGrammar& keep_grammar() const override {
        static const device_code::KeepGrammar grammar = {
            "intel", "an Intel GPU device", "Intel GPUs by their AOT device names (pvc, acm-g10)",
            "pvc",   parse_intel_target,    nullptr,
            nullptr};
        return grammar;
    }

    std::map<std::string, std::uint64_t> target_bytes(std::string_view elf,
                                                      const std::string& path) const override {
        return intel_target_bytes(elf, path);
    }

    // A linked program's SYCL descriptors are rewritten to register only the images a kept GPU
    // runs (AOT code for a known device not kept is dropped; SPIR-V and unnamed targets stay:
    // linked.hpp); object files and archives are kept whole (docs/intel.md, "Not done").
    device_code::FileReport tailor(std::string& elf, const device_code::KeepSet& keep,
                                   const std::string& path, bool write) const override {
        device_code::FileReport r;
        r.path = path;
        r.vendor = "intel";
        r.file_size = elf.size();
        const auto& targets = keep.targets("intel");
        if (targets.empty()) return r;
        auto bytes = intel_target_bytes(elf, path);
        if (bytes.empty()) return r;
        r.arch_before = r.arch_after = bytes;
        auto drop = [](const DeviceImage& i, void* ctx) {
            const auto& kept = *static_cast<const std::vector<std::string>*>(ctx);
            if (!i.for_intel_gpu() || i.format != ImageFormat::native) return false;
            std::string t = normalize_device_name(i.arch);
            return known_device_name(t) && std::find(kept.begin(), kept.end(), t) == kept.end();
        };
        auto w = drop_wrapped_images(elf, drop, const_cast<std::vector<std::string>*>(&targets),
                                     path, write);
        r.entries_before = w.images_before;
        r.entries_after = w.images_after;
        switch (w.result) {
        case WrappedRewrite::Result::changed:
            r.outcome = device_code::FileReport::Outcome::changed;
            r.zeroed = w.zeroed;
            r.dropped = w.dropped;
            if (write) {
                r.arch_after = intel_target_bytes(elf, path);
            } else {
                std::string copy = elf;
                drop_wrapped_images(copy, drop, const_cast<std::vector<std::string>*>(&targets),
                                    path, true);
                r.arch_after = intel_target_bytes(copy, path);
            }
            break;
        case WrappedRewrite::Result::refused:
            r.outcome = device_code::FileReport::Outcome::refused;
            r.refused = w.why;
            break;
        case WrappedRewrite::Result::none:
            if (!w.why.empty())
                r.left_alone.push_back("Intel offload data: " + w.why);
            else if (!intel_linked_program(elf, path))
                r.left_alone.push_back("Intel offload data in an object file: not rewritten "
                                       "(gantry rewrites linked programs' SYCL descriptors "
                                       "only): every device image kept");
            break;
        }
        return r;
    }

    device_code::Listing list(const std::string& path) const override {
        device_code::Listing l;
        std::vector<DeviceImage> images;
        MappedFile m(path); // a missing file is the caller's error (exit 3)
        try {
            images = intel_gpu_images(m.bytes(), path);
        } catch (const Error& e) {
            l.found = l.damaged = true;
            l.problems.push_back(e.message());
            l.headline = path + ": damaged Intel offload data";
            return l;
        }
        l.found = !images.empty();
        if (!l.found) {
            l.headline = path + ": no Intel GPU offload data (clang offload bundle, "
                                ".llvm.offloading, a linked program's SYCL descriptors)";
            return l;
        }
        l.headline = path + ": " + std::to_string(images.size()) + " Intel GPU device image" +
                     (images.size() == 1 ? "" : "s");
        device_code::TableRows rows{{"PRODUCER", "TRIPLE", "TARGET", "FORMAT", "BYTES", "FROM"}};
        for (const auto& i : images)
            rows.push_back({i.producer, i.triple, intel_target_of(i), to_string(i.format),
                            std::to_string(i.size), i.source});
        l.tables = {rows};
        return l;
    }

    void list_json(const std::string& path, nlohmann::json& document) const override {
        auto arr = nlohmann::json::array();
        MappedFile m(path); // a missing file is the caller's error (exit 3)
        try {
            for (const auto& i : intel_gpu_images(m.bytes(), path))
                arr.push_back({{"producer", i.producer},
                               {"triple", i.triple},
                               {"target", intel_target_of(i)},
                               {"format", to_string(i.format)},
                               {"bytes", i.size},
                               {"from", i.source}});
        } catch (const Error& e) {
            if (!document.contains("problems")) document["problems"] = nlohmann::json::array();
            document["problems"].push_back(e.message());
        }
        document["intel_device_images"] = arr;
    }

    std::map<std::string, std::string> build_env(const std::vector<std::string>&) const override {
        return {};
    }
};

} // namespace

const device_code::Format& intel_format() {
    static const IntelFormat format;
    return format;
}

std::optional<std::string> parse_intel_target(const std::string& item) {
    std::string n = normalize_device_name(item);
    if (known_device_name(n)) return n;
    return std::nullopt;
}

std::map<std::string, std::uint64_t> intel_target_bytes(std::string_view elf,
                                                        const std::string& path) {
    std::map<std::string, std::uint64_t> out;
    try {
        for (const auto& i : intel_gpu_images(elf, path)) out[intel_target_of(i)] += i.size;
    } catch (const Error&) { // damaged: the doctor's business
    }
    return out;
}

} // namespace gantry::gpu_vendors::intel
