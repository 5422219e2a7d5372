// ocirt/kernel_cache_use: which image a bundle's key names, from what CRI-O and containerd write
// in its annotations; the annotation's values gantry oci takes.
#include "ocirt/kernel_cache_use.hpp"
#include "ocirt/lazy_root.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <map>
#include <string>

namespace ocirt_kernel_cache_use_test {

using namespace gantry;
using Annotations = std::map<std::string, std::string>;

const std::string kHex(64, 'a');

TEST(OcirtKernelCacheUse, ImageFromCriAnnotations) {
    // CRI-O's image-ref: a repository digest, or the image's ID
    auto crio = ocirt::bundle_image(
        {{"io.kubernetes.cri-o.ImageRef", "quay.io/org/app@sha256:" + kHex}}, "/nonexistent");
    EXPECT_EQ(crio.digest, "sha256:" + kHex);
    EXPECT_EQ(crio.repository, "quay.io/org/app");
    auto id = ocirt::bundle_image({{"io.kubernetes.cri-o.ImageRef", kHex}}, "/nonexistent");
    EXPECT_EQ(id.digest, "sha256:" + kHex);
    EXPECT_EQ(id.repository, "");
    // containerd's image name counts when it holds a digest
    auto ctrd = ocirt::bundle_image(
        {{"io.kubernetes.cri.image-name", "reg:5000/team/model:v1@sha256:" + kHex}},
        "/nonexistent");
    EXPECT_EQ(ctrd.digest, "sha256:" + kHex);
    EXPECT_EQ(ctrd.repository, "reg:5000/team/model");
    // a tag, a malformed value, or nothing, over a root that is not an overlay: no identity
    for (const Annotations& a :
         {Annotations{{"io.kubernetes.cri.image-name", "docker.io/library/busybox:latest"}},
          Annotations{{"io.kubernetes.cri-o.ImageRef", "sha256:xyz"}}, Annotations{}})
        EXPECT_EQ(ocirt::bundle_image(a, "/proc").digest, "") << a.begin()->second;
}

TEST(OcirtKernelCacheUse, AnnotationTakesAutoOrOffOnly) {
    EXPECT_NO_THROW(ocirt::check_gantry_annotations({{"io.gantry.kernel-cache", "auto"}}));
    EXPECT_NO_THROW(ocirt::check_gantry_annotations({{"io.gantry.kernel-cache", "off"}}));
    for (const char* bad : {"/tmp/caches", "", "AUTO", "on"}) try {
            ocirt::check_gantry_annotations({{"io.gantry.kernel-cache", bad}});
            ADD_FAILURE() << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::invalid);
            EXPECT_NE(e.message().find("io.gantry.kernel-cache"), std::string::npos);
            EXPECT_NE(e.hint().find("kernel_cache: DIR"), std::string::npos);
        }
}

} // namespace ocirt_kernel_cache_use_test
