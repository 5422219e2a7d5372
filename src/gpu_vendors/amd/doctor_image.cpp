// The ROCm image facts: one walk of the image's merged view in the store (nothing extracted,
// nothing executed). Small text files go to gpu_vendors::amd::add_rocm_file_facts; every ELF
// executable and shared library has its .hip_fatbin read through compat/hip_fatbin.hpp (mapped,
// only the pages of the section headers and the bundle are touched).
#include "gpu_host/device_node.hpp"
#include "gpu_vendors/amd/doctor.hpp"
#include "gpu_vendors/amd/hip_fatbin.hpp"
#include "rootfs/rootfs.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::gpu_vendors::amd {

namespace {

// A position-independent executable: an ELF64 little-endian shared object with a PT_INTERP
// program header (a shared library has none). HEAD is the file's first 64 bytes.
bool is_program(int fd, const unsigned char* head) {
    if (head[4] != 2 || head[5] != 1) return false; // ELFCLASS64, ELFDATA2LSB
    auto u16 = [&](int at) { return static_cast<unsigned>(head[at] | head[at + 1] << 8); };
    std::uint64_t phoff = 0;
    for (int i = 7; i >= 0; --i) phoff = phoff << 8 | head[32 + i];
    unsigned entsize = u16(54), count = u16(56);
    if (entsize < 4 || count == 0 || count > 256 || phoff > (1ull << 32)) return false;
    for (unsigned i = 0; i < count; ++i) {
        unsigned char type[4];
        if (::pread(fd, type, 4, static_cast<off_t>(phoff + std::uint64_t(i) * entsize)) != 4)
            return false;
        if ((type[0] | type[1] << 8 | type[2] << 16 | unsigned(type[3]) << 24) == 3) return true;
    }
    return false;
}

} // namespace

std::optional<gpu_vendors::amd::HipCodeFile> scan_hip_file(const std::string& host_path,
                                                           const std::string& path) {
    // ELF64 header: magic, class, data ... e_type at 16. Executables (2) and shared objects
    // (3) only: the HIP runtime never loads a relocatable object (1) left in an image.
    unsigned char head[64] = {};
    bool program = false;
    {
        Fd fd(::open(host_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (!fd || ::read(fd.get(), head, sizeof head) != static_cast<ssize_t>(sizeof head))
            return std::nullopt;
        program = is_program(fd.get(), head);
    }
    if (std::memcmp(head,
                    "\x7f"
                    "ELF",
                    4) != 0)
        return std::nullopt;
    unsigned type = head[5] == 2 ? (head[16] << 8 | head[17]) : (head[16] | head[17] << 8);
    if (type != 2 && type != 3) return std::nullopt;
    gpu_vendors::amd::HipCodeFile out;
    out.path = "/" + path;
    out.program = program || type == 2;
    try {
        auto fb = amd::read_hip_fatbin_file(host_path);
        if (!fb.found) return std::nullopt;
        for (const auto& e : fb.entries) {
            if (!e.is_device_code() || !e.triple.starts_with("amdgcn-amd-amdhsa")) continue;
            std::string text = e.target_id.empty() ? e.target.str() : e.target_id;
            if (std::find(out.texts.begin(), out.texts.end(), text) != out.texts.end()) continue;
            out.targets.push_back(e.target);
            out.texts.push_back(std::move(text));
        }
    } catch (const Error& e) {
        out.error = e.message();
        out.targets.clear();
        out.texts.clear();
    }
    return out;
}

gpu_vendors::amd::RocmImageFacts gather_image_facts(const store::Store& store,
                                                    const store::Image& image,
                                                    const std::vector<std::string>& env,
                                                    const std::string& path_prefix) {
    gpu_vendors::amd::RocmImageFacts facts;
    constexpr std::size_t kMaxHipFiles = 100000;
    rootfs::walk_image_files(
        store, image.config.diff_ids, [&](const std::string& path, const std::string& host_path) {
            std::string text;
            if (gpu_vendors::amd::rocm_wants_contents(path)) try {
                    text = fs::read_file(host_path, 1 << 20);
                } catch (const Error&) { // too large or unreadable: no evidence
                }
            gpu_vendors::amd::add_rocm_file_facts(facts, path, text);
            if (!path.starts_with(path_prefix) || facts.hip.size() >= kMaxHipFiles) return;
            ++facts.elf_files;
            if (auto f = scan_hip_file(host_path, path)) facts.hip.push_back(std::move(*f));
        });
    gpu_vendors::amd::add_rocm_env_facts(facts, env);
    return facts;
}

std::optional<findings::Finding> rocm_image_without_amd(const store::Store& store,
                                                        const store::Image& image,
                                                        const std::string& sys_root) {
    struct stat st {};
    auto kfd = gpu_host::join_root(sys_root, "/sys/class/kfd/kfd/topology/nodes");
    if (::stat(kfd.c_str(), &st) == 0) return std::nullopt; // the host has AMD GPUs
    std::string where;
    const auto& ids = image.config.diff_ids;
    if (rootfs::image_has(store, ids, "opt/rocm"))
        where = "/opt/rocm";
    else
        for (const auto& n : rootfs::list_image_dir(store, ids, "opt"))
            if (gpu_vendors::amd::rocm_from_dir_name(n)) {
                where = "/opt/" + n;
                break;
            }
    if (where.empty()) return std::nullopt;
    return findings::Finding{"ROCM-IMAGE-NO-AMD", findings::Severity::fail,
                             "the image carries AMD's ROCm (" + where +
                                 ") and this host has no AMD GPU (no KFD topology): its GPU code "
                                 "cannot run on NVIDIA GPUs",
                             "use a CUDA build of the image, or run it on an AMD GPU host "
                             "(--gpu-vendor amd)"};
}

} // namespace gantry::gpu_vendors::amd
