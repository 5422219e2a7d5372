// Fuzzes gantry's reading of a SIF file's global header and descriptor table (sif/container):
// every count, offset and size bounded against the input before anything reads it, objects
// outside the file or overlapping refused. What passes must be internally consistent, and the
// system partition chosen for a host must be a squashfs partition inside the file; an OCI-SIF's
// image (sif/oci_sif) has its layer inside the file and a config matching its digest.
#include "fuzz_support.hpp"
#include "oci/digest.hpp"
#include "sif/container.hpp"
#include "sif/oci_sif.hpp"

#include <cstring>

using namespace gantry;

GANTRY_FUZZ_TARGET(sif_container) {
    auto in = fuzz::bytes(data, size);
    fuzz::expect_error([&] {
        auto c = sif::parse(in, "fuzz.sif");
        FUZZ_CHECK(c.descriptors_total >= 0 && c.descriptors_total <= sif::kMaxDescriptors);
        FUZZ_CHECK(c.objects.size() <= static_cast<std::size_t>(c.descriptors_total));
        for (auto& o : c.objects)
            FUZZ_CHECK(o.offset <= in.size() && o.size <= in.size() - o.offset);
        for (const char* host : {"amd64", "arm64"}) {
            if (sif::is_oci_sif(c)) {
                fuzz::expect_error([&] {
                    auto img = sif::oci_image(
                        c,
                        [in](std::uint64_t at, char* buf, std::size_t n) {
                            std::memcpy(buf, in.data() + at, n);
                        },
                        host, "fuzz.sif");
                    FUZZ_CHECK(img.layer.offset + img.layer.size <= in.size());
                    FUZZ_CHECK(oci::Digest::of(img.config).str() == img.config_digest);
                });
                continue;
            }
            fuzz::expect_error([&] {
                auto& p = sif::system_partition(c, host, "fuzz.sif");
                FUZZ_CHECK(p.fs == static_cast<std::int32_t>(sif::FsType::squashfs));
                FUZZ_CHECK(p.arch == host || p.arch == "unknown");
                FUZZ_CHECK(p.offset + p.size <= in.size());
            });
        }
    });
    return 0;
}
