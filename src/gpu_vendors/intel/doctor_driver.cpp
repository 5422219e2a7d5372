// The doctor's driver-against-image rules (see doctor_driver.hpp).
#include "gpu_vendors/intel/doctor_driver.hpp"

#include "gpu_vendors/in_root.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <tuple>

namespace gantry::gpu_vendors::intel {

namespace {

using findings::Finding;
using findings::Severity;

// Where an image's dynamic linker finds libraries without help (glibc's defaults, Debian's and
// Red Hat's multiarch directories) and /usr/local/lib, which most images' ld.so.conf name.
constexpr const char* kIntelImageLibDirs[] = {"/usr/lib/x86_64-linux-gnu",
                                              "/lib/x86_64-linux-gnu",
                                              "/usr/lib64",
                                              "/lib64",
                                              "/usr/lib",
                                              "/lib",
                                              "/usr/local/lib"};

bool intel_later(const LoaderVersion& a, const LoaderVersion& b) {
    return std::tie(a.major, a.minor, a.patch) > std::tie(b.major, b.minor, b.patch);
}

std::string intel_os_release_value(const std::string& text, const std::string& key) {
    for (auto raw : text::split(text, '\n')) {
        std::string_view line = text::trim(raw);
        if (!line.starts_with(key + "=")) continue;
        std::string v(line.substr(key.size() + 1));
        if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
            v = v.substr(1, v.size() - 2);
        return v;
    }
    return {};
}

} // namespace

ImageLibraries image_libraries(const rootfs::ImageFiles& files) {
    ImageLibraries out;
    for (const char* dir : kIntelImageLibDirs)
        for (const auto& n : files.list(dir + 1)) {
            out.names.insert(n);
            if (auto v = loader_version_from_file(n))
                if (!out.loader || intel_later(*v, *out.loader)) {
                    out.loader = *v;
                    out.loader_path = std::string(dir) + "/" + n;
                }
        }
    return out;
}

bool driver_rules_apply(const UserSpace& user) {
    bool driver = user.has("libze_intel_gpu.so.1") || user.has("libze_intel_gpu_legacy1.so.1");
    return !user.left_to_image_names.empty() || (driver && !user.has("libze_loader.so.1"));
}

std::vector<Finding> driver_findings(const UserSpace& user, const ImageLibraries& img) {
    std::vector<Finding> out;
    bool driver = user.has("libze_intel_gpu.so.1") || user.has("libze_intel_gpu_legacy1.so.1");
    if (driver && !user.has("libze_loader.so.1") && img.loader) {
        const LoaderVersion& l = *img.loader;
        auto min = loader_driver_minimum(l);
        std::string who = "the image's Level Zero loader " + l.str() + " (" + img.loader_path +
                          ") meets the host's driver (the host has no loader of its own, so "
                          "gantry injects the driver alone)";
        if (!user.driver_version)
            out.push_back({"INTEL-LOADER-DRIVER", Severity::info,
                           who +
                               "; the host driver's version is not known (its libze_intel_gpu "
                               "file has no versioned name), so the loader's minimum " +
                               (min ? std::string(min->release) : std::string("driver")) +
                               " is not checked",
                           ""});
        else if (min && user.driver_version->build < min->build)
            out.push_back(
                {"INTEL-LOADER-DRIVER", Severity::warn,
                 who + ": the loader's release notes name Intel's GPU driver " + min->release +
                     " or newer, and the host's is " + user.driver_version->text + " (build " +
                     std::to_string(user.driver_version->build) + ", from " +
                     user.driver_version->source + ")",
                 std::string("update the host's compute runtime to ") + min->release +
                     " or newer, or install the Level Zero loader on the host (Debian, "
                     "Ubuntu: libze1) so that gantry injects the host's own loader with its "
                     "driver"});
        else if (min)
            out.push_back({"INTEL-LOADER-DRIVER", Severity::pass,
                           who + ": the host's " + user.driver_version->text + " is at least the " +
                               min->release + " the loader's release notes name",
                           ""});
    }
    std::vector<std::string> lacking;
    for (std::size_t i = 0; i < user.left_to_image_names.size(); ++i)
        if (!img.names.count(user.left_to_image_names[i])) lacking.push_back(user.left_to_image[i]);
    if (!lacking.empty())
        out.push_back({"INTEL-DRIVER-DEPS", Severity::warn,
                       "the host's Intel driver libraries need " + text::join(lacking, ", ") +
                           ", which the image lacks: gantry injects only the driver's own "
                           "libraries, never general-purpose ones over the image's, so Level "
                           "Zero or OpenCL will fail to load the driver",
                       "install the packages that ship them in the image (Debian 12: libedit2, "
                       "libxml2, libz3-4, libffi8, libtinfo6, zlib1g), or give the image its "
                       "own compute runtime"});
    return out;
}

std::string install_hint(const std::string& driver_root) {
    std::string id, version;
    InRootResolver res(driver_root.empty() ? "/" : driver_root);
    if (auto p = res.regular_file("/etc/os-release")) {
        try {
            std::string text = fs::read_file(res.host(*p), 65536);
            id = intel_os_release_value(text, "ID");
            version = intel_os_release_value(text, "VERSION_ID");
        } catch (const Error&) {
        }
    }
    const std::string debian12 = "libze1 intel-opencl-icd (Debian 12 has no libze-intel-gpu1: "
                                 "its intel-opencl-icd carries the Level Zero driver too)";
    if (id == "debian" && version == "12")
        return "install Debian 12's packages: " + debian12 + ", or point --driver-root at them";
    return "install Intel's compute runtime on the host: Debian 12: " + debian12 +
           "; Intel's packages: libze1 libze-intel-gpu1 intel-opencl-icd (Gen8-Gen11 GPUs: "
           "intel-level-zero-gpu-legacy1 intel-opencl-icd-legacy1); or point --driver-root at "
           "it";
}

} // namespace gantry::gpu_vendors::intel
