// Reading Intel device images from offload binaries (see offload.hpp).
#include "gpu_vendors/intel/offload.hpp"

#include "elf/headers.hpp"
#include "gpu_vendors/intel/linked.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstring>

namespace gantry::gpu_vendors::intel {

namespace {

constexpr std::string_view kBundleMagic = "__CLANG_OFFLOAD_BUNDLE__";
constexpr std::string_view kOffloadMagic = "\x10\xFF\x10\xAD";
constexpr std::uint16_t kEmIntelGt = 205;
constexpr std::size_t kMaxImages = 65536;
constexpr std::size_t kMaxId = 4096;

std::uint64_t off_le(std::string_view d, std::size_t at, int bytes) {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(d[at + i]);
    return v;
}

[[noreturn]] void off_bad(const std::string& what, const std::string& why) {
    throw Error(Errc::invalid, what + ": " + why,
                "the file's offload data is damaged or not clang's; rebuild it");
}

// OFFSET..OFFSET+SIZE inside D, else an error.
std::string_view off_slice(std::string_view d, std::uint64_t offset, std::uint64_t size,
                           const std::string& what, const char* of) {
    if (offset > d.size() || size > d.size() - offset)
        off_bad(what, std::string(of) + " lies outside its data (offset " + std::to_string(offset) +
                          ", size " + std::to_string(size) + " of " + std::to_string(d.size()) +
                          ")");
    return d.substr(offset, size);
}

bool off_is_env(std::string_view f) {
    return f.empty() || f == "sycldevice" || f == "gnu" || f == "elf" || f == "unknown";
}

// "sycl-spir64_gen-unknown-unknown-pvc" -> producer sycl, triple spir64_gen-unknown-unknown,
// arch pvc (a triple has three or four fields; a fourth that is no environment is the target).
void off_parse_id(std::string_view id, DeviceImage& img) {
    auto fields = text::split(id, '-');
    if (fields.empty()) return;
    img.producer = std::string(fields[0]);
    std::size_t n = fields.size();
    std::size_t triple_end = n; // one past the triple's last field
    if (n >= 5 && off_is_env(fields[4]))
        triple_end = 5;
    else if (n >= 4)
        triple_end = 4;
    std::string triple, arch;
    for (std::size_t i = 1; i < triple_end; ++i)
        triple += (i > 1 ? "-" : "") + std::string(fields[i]);
    for (std::size_t i = triple_end; i < n; ++i)
        arch += (i > triple_end ? "-" : "") + std::string(fields[i]);
    img.triple = triple;
    img.arch = arch;
}

void off_push(std::vector<DeviceImage>& out, DeviceImage img, const std::string& what) {
    if (out.size() == kMaxImages) off_bad(what, "more than 65536 device images");
    out.push_back(std::move(img));
}

void off_classify(DeviceImage& img, std::string_view bytes) {
    img.size = bytes.size();
    if (img.format == ImageFormat::unknown) img.format = sniff_image(bytes);
    if (img.format == ImageFormat::unknown && img.triple.starts_with("spir64_gen"))
        img.format = ImageFormat::native;
}

void off_read_bundle(std::string_view b, const std::string& what, std::vector<DeviceImage>& out) {
    if (b.size() < kBundleMagic.size() + 8) off_bad(what, "truncated offload bundle header");
    std::uint64_t count = off_le(b, kBundleMagic.size(), 8);
    std::size_t at = kBundleMagic.size() + 8;
    if (count > (b.size() - at) / 24) off_bad(what, "offload bundle entry count too large");
    for (std::uint64_t i = 0; i < count; ++i) {
        if (b.size() - at < 24) off_bad(what, "truncated offload bundle entry");
        std::uint64_t offset = off_le(b, at, 8), size = off_le(b, at + 8, 8),
                      idlen = off_le(b, at + 16, 8);
        at += 24;
        if (idlen > kMaxId || idlen > b.size() - at) off_bad(what, "offload bundle ID too long");
        std::string_view id = b.substr(at, idlen);
        at += idlen;
        DeviceImage img;
        img.source = "bundle";
        off_parse_id(id, img);
        off_classify(img, off_slice(b, offset, size, what, "a bundle entry"));
        if (img.producer == "host") continue;
        off_push(out, std::move(img), what);
    }
}

// The producer: older LLVM numbers the kinds 1 OpenMP, 2 CUDA, 3 HIP, 4 SYCL (intel/llvm), current
// LLVM makes them bits 1, 2, 4 (HIP), 8 (SYCL). Only Intel GPU images are shown, and those are
// never HIP's, so 4 reads as SYCL (docs/reference/intel-gpu.md §6).
const char* off_kind_name(std::uint64_t k) {
    switch (k) {
    case 1:
        return "openmp";
    case 2:
        return "cuda";
    case 3:
        return "hip";
    case 4:
    case 8:
        return "sycl";
    default:
        return "none";
    }
}

// One OffloadBinary at the start of D; returns its size. DEPTH 0 may hold a nested one.
// Versions 1-3 (docs/reference/intel-gpu.md §6): version 1 has one entry, the header's fourth field
// its byte size, and string entries of two offsets (16 bytes); from version 2 that field counts
// entries and a string entry adds the value's size (24 bytes); version 3's header is 40 bytes,
// its InflatedSize set when the rest is compressed, which gantry does not read.
std::uint64_t off_read_binary(std::string_view d, const std::string& what, int depth,
                              std::vector<DeviceImage>& out) {
    if (d.size() < 32) off_bad(what, "truncated OffloadBinary header");
    std::uint64_t version = off_le(d, 4, 4);
    std::uint64_t size = off_le(d, 8, 8), eoff = off_le(d, 16, 8), field = off_le(d, 24, 8);
    if (version < 1 || version > 3)
        off_bad(what, "OffloadBinary version " + std::to_string(version) +
                          " (gantry reads versions 1 to 3)");
    const std::uint64_t header = version >= 3 ? 40 : 32, stride = version == 1 ? 16 : 24;
    if (size < header || size > d.size()) off_bad(what, "OffloadBinary size out of range");
    std::string_view bin = d.substr(0, size);
    if (version >= 3 && off_le(bin, 32, 8) != 0)
        throw Error(Errc::invalid, what + ": compressed OffloadBinary (version 3): not read",
                    "gantry does not decompress offload data: build without offload compression "
                    "to have the file's device code checked");
    if (version > 1 && field > size / 40) off_bad(what, "OffloadBinary entry count too large");
    std::string_view entries =
        off_slice(bin, eoff, version == 1 ? field : field * 40, what, "the OffloadBinary entries");
    if (entries.size() % 40 != 0) off_bad(what, "OffloadBinary entry table not whole entries");
    auto str_at = [&](std::uint64_t o) { // NUL-terminated, at most kMaxId bytes
        if (o >= bin.size()) off_bad(what, "OffloadBinary string outside the binary");
        std::string_view rest = bin.substr(o, kMaxId + 1);
        auto end = rest.find('\0');
        if (end == std::string_view::npos)
            off_bad(what, "OffloadBinary string not terminated within 4096 bytes");
        return std::string(rest.substr(0, end));
    };
    for (std::size_t e = 0; e < entries.size(); e += 40) {
        std::uint64_t image_kind = off_le(entries, e, 2), offload_kind = off_le(entries, e + 2, 2);
        std::uint64_t soff = off_le(entries, e + 8, 8), nstr = off_le(entries, e + 16, 8);
        std::uint64_t ioff = off_le(entries, e + 24, 8), isize = off_le(entries, e + 32, 8);
        if (nstr > bin.size() / stride) off_bad(what, "OffloadBinary string count too large");
        std::string_view table = off_slice(bin, soff, nstr * stride, what, "the string table");
        DeviceImage img;
        img.source = "offloading";
        img.producer = off_kind_name(offload_kind);
        for (std::size_t s = 0; s < table.size(); s += stride) {
            std::string key = str_at(off_le(table, s, 8));
            if (key != "triple" && key != "arch") continue;
            std::string value;
            if (stride == 16) {
                value = str_at(off_le(table, s + 8, 8));
            } else { // the value's own size (its bytes need no NUL)
                std::uint64_t vsize = off_le(table, s + 16, 8);
                if (vsize > kMaxId) off_bad(what, "OffloadBinary string longer than 4096 bytes");
                value = std::string(off_slice(bin, off_le(table, s + 8, 8), vsize, what,
                                              "an OffloadBinary string"));
            }
            if (key == "triple") img.triple = value;
            if (key == "arch") img.arch = value == "unknown" ? "" : value;
        }
        std::string_view image = off_slice(bin, ioff, isize, what, "an OffloadBinary image");
        if (depth == 0 && image.starts_with(kOffloadMagic)) { // Intel SPIR-V, nested
            std::vector<DeviceImage> inner;
            off_read_binary(image, what, 1, inner);
            for (auto& i : inner) {
                if (i.triple.empty()) i.triple = img.triple;
                if (i.arch.empty()) i.arch = img.arch;
                i.source = img.source;
                off_push(out, std::move(i), what);
            }
            continue;
        }
        if (image_kind == 6) img.format = ImageFormat::spirv;
        off_classify(img, image);
        if (img.format == ImageFormat::unknown && image_kind == 1 &&
            img.triple.starts_with("spir") && !img.arch.empty())
            img.format = ImageFormat::native; // IMG_Object for a named device: AOT
        off_push(out, std::move(img), what);
    }
    return size;
}

// SEC (at file offset BASE; WRAPPED: a linked program's images, which the linker wrapper places
// in .llvm.offloading as raw bytes beside whole OffloadBinaries) holds OffloadBinary data.
void off_read_offloading(std::string_view sec, const std::string& what,
                         std::vector<DeviceImage>& out, std::uint64_t base = 0,
                         const WrappedImages* wrapped = nullptr) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> raw; // the wrapped images' ranges
    if (wrapped) raw = wrapped->ranges;
    std::sort(raw.begin(), raw.end());
    std::size_t at = 0;
    while (at < sec.size()) {
        auto r = std::lower_bound(raw.begin(), raw.end(), std::pair{base + at, std::uint64_t{0}});
        if (r != raw.end() && r->first == base + at && r->second > 0) {
            at += std::min<std::uint64_t>(r->second, sec.size() - at);
            continue;
        }
        if (!sec.substr(at).starts_with(kOffloadMagic)) {
            // padding between binaries (8-byte alignment) is zeros
            if (sec[at] == '\0') {
                ++at;
                continue;
            }
            // a linked program's raw images no descriptor gantry read named: not judged
            if (wrapped) return;
            off_bad(what, ".llvm.offloading holds something other than OffloadBinary data");
        }
        at += off_read_binary(sec.substr(at), what, 0, out);
    }
}

void off_read_elf(std::string_view d, const std::string& what, std::vector<DeviceImage>& out) {
    elf::Bytes f = elf::Bytes::of(d);
    if (!elf::is_elf64le(f)) return; // ELF64 little-endian only
    const elf::Header h = elf::header(f);
    std::uint64_t shoff = h.shoff, entsize = h.shentsize, shnum = h.shnum, shstrndx = h.shstrndx;
    if (shoff == 0 || shnum == 0) return;
    if (entsize < 64) off_bad(what, "ELF section header size too small");
    (void)off_slice(d, shoff, shnum * entsize, what, "the section headers");
    // a linked program: the images its descriptors and .tgtimg name (linked.hpp)
    WrappedImages wrapped = read_wrapped_images(d, what);
    for (auto& img : wrapped.images) off_push(out, std::move(img), what);
    if (shstrndx >= shnum) off_bad(what, "ELF section name table index out of range");
    // the headers lie inside D (checked above): elf/headers decodes them
    auto sec = [&](std::uint64_t i) {
        const elf::SectionHeader sh = elf::section_header(f, h, i);
        if (sh.type == elf::sht_nobits) return std::string_view();
        return off_slice(d, sh.offset, sh.size, what, "a section");
    };
    std::string_view names = sec(shstrndx);
    for (std::uint64_t i = 0; i < shnum; ++i) {
        std::uint64_t name_off = elf::section_header(f, h, i).name;
        if (name_off >= names.size()) continue;
        std::string_view rest = names.substr(name_off);
        std::string_view name = rest.substr(0, rest.find('\0'));
        if (name == ".llvm.offloading") {
            const elf::SectionHeader sh = elf::section_header(f, h, i);
            off_read_offloading(sec(i), what, out, sh.offset, wrapped.linked ? &wrapped : nullptr);
        } else if (name.starts_with(kBundleMagic)) {
            std::string_view data = sec(i);
            // the older wrapper places a linked program's images in sections of this name:
            // their descriptors said what they are
            const elf::SectionHeader sh = elf::section_header(f, h, i);
            if (wrapped.touches(sh.offset, data.size())) continue;
            if (data.starts_with(kBundleMagic)) {
                off_read_bundle(data, what, out);
                continue;
            }
            DeviceImage img;
            img.source = "bundle section";
            off_parse_id(name.substr(kBundleMagic.size()), img);
            if (img.producer == "host") continue;
            off_classify(img, data);
            off_push(out, std::move(img), what);
        }
    }
}

} // namespace

ImageFormat sniff_image(std::string_view img) {
    if (img.size() >= 4 && off_le(img, 0, 4) == 0x07230203u) return ImageFormat::spirv;
    if (img.size() >= 20 &&
        img.substr(0, 4) == "\x7f"
                            "ELF" &&
        img[5] == 1 && off_le(img, 18, 2) == kEmIntelGt)
        return ImageFormat::native;
    return ImageFormat::unknown;
}

const char* to_string(ImageFormat f) {
    switch (f) {
    case ImageFormat::spirv:
        return "SPIR-V";
    case ImageFormat::native:
        return "native";
    default:
        return "unknown";
    }
}

bool DeviceImage::for_intel_gpu() const {
    if (!triple.starts_with("spir")) return false;
    return !triple.starts_with("spir64_x86_64") && !triple.starts_with("spir64_fpga");
}

std::vector<DeviceImage> read_offload_images(std::string_view data, const std::string& what) {
    std::vector<DeviceImage> out;
    if (data.starts_with("\x7f"
                         "ELF"))
        off_read_elf(data, what, out);
    else if (data.starts_with(kBundleMagic))
        off_read_bundle(data, what, out);
    else if (data.starts_with(kOffloadMagic))
        off_read_offloading(data, what, out);
    return out;
}

std::string normalize_device_name(std::string_view name) {
    std::string n = text::lower(text::trim(name));
    std::replace(n.begin(), n.end(), '_', '-');
    if (n.starts_with("intel-gpu-")) n.erase(0, 10);
    if (n.starts_with("dg2-g1")) n.replace(0, 3, "acm");
    if (n == "ats-m150") n = "acm-g10"; // ocloc's aliases (docs/reference/intel-gpu.md §4)
    if (n == "ats-m75") n = "acm-g11";
    return n;
}

bool known_device_name(std::string_view name) {
    return name == "pvc" || name == "acm-g10" || name == "acm-g11" || name == "acm-g12";
}

CodeVerdict judge(const std::vector<DeviceImage>& images, std::string_view device) {
    CodeVerdict v;
    for (const auto& img : images) {
        if (!img.for_intel_gpu()) continue;
        v.intel_code = true;
        if (img.format == ImageFormat::spirv) {
            v.spirv = true;
            continue;
        }
        std::string t =
            img.arch.empty() ? std::string("an unnamed device") : normalize_device_name(img.arch);
        if (!device.empty() && t == device) v.native_match = true;
        if (std::find(v.targets.begin(), v.targets.end(), t) == v.targets.end())
            v.targets.push_back(t);
    }
    return v;
}

std::optional<findings::Finding> judge_file(const std::string& path,
                                            const std::vector<DeviceImage>& images,
                                            std::string_view device, const std::string& label) {
    auto v = judge(images, device);
    if (!v.intel_code || v.native_match) return std::nullopt;
    std::string aot = text::join(v.targets, ", ");
    std::string build = "build it with AOT code for " +
                        (device.empty() ? std::string("the device") : std::string(device)) +
                        " (icpx -fsycl -fsycl-targets=intel_gpu_" +
                        (device.empty() ? std::string("<device>") : std::string(device)) + ")";
    std::replace(build.begin() + static_cast<std::ptrdiff_t>(build.find("intel_gpu_")), build.end(),
                 '-', '_');
    if (v.spirv)
        return findings::Finding{"INTEL-SPIRV-JIT", findings::Severity::info,
                                 path + " has SPIR-V device code: the driver compiles it for " +
                                     label + " when it is loaded (JIT)" +
                                     (aot.empty() ? "" : "; its AOT code is for " + aot),
                                 build + " to start without compiling"};
    bool all_known = std::all_of(v.targets.begin(), v.targets.end(),
                                 [](const std::string& t) { return known_device_name(t); });
    if (device.empty() || !all_known)
        return findings::Finding{"INTEL-AOT-UNKNOWN", findings::Severity::warn,
                                 path + " has only AOT device code (for " + aot +
                                     ") and gantry cannot tell whether " + label + " runs it",
                                 "check with the oneAPI runtime in the container "
                                 "(sycl-ls, then run it), or " +
                                     build};
    return findings::Finding{"INTEL-AOT-OTHER-DEVICE", findings::Severity::fail,
                             path + " has only AOT device code for " + aot + ", which " + label +
                                 " cannot run, and no SPIR-V to compile for it",
                             build + ", or add SPIR-V (-fsycl-targets=spir64) so it can be JIT "
                                     "compiled"};
}

} // namespace gantry::gpu_vendors::intel
