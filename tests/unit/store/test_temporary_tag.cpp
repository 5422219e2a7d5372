// store::TemporaryTag: an untagged image named while a container of it runs (build's RUN steps,
// slim's --check): the name is there while the object lives, gone after, also when the work in
// between throws; a name whose command died is prune's (Store::drop_stale_temporary_refs).
#include "../support/temp_dir.hpp"
#include "oci/digest.hpp"
#include "store/store.hpp"
#include "store/temporary_tag.hpp"

#include <gtest/gtest.h>
#include <stdexcept>
#include <string>

namespace store_temporary_tag_test {

using gantry::oci::Digest;
using gantry::store::Store;
using gantry::store::TemporaryTag;
using unit_support::TempDir;

TEST(TemporaryTag, NamesTheImageWhileItLivesAndNotAfter) {
    TempDir t("gantry-tmptag");
    Store st(t.path);
    const Digest manifest = Digest::of("manifest");
    std::string name;
    {
        TemporaryTag tag(st, manifest);
        name = tag.ref();
        EXPECT_TRUE(name.starts_with(Store::kTemporaryRepository)) << name;
        ASSERT_EQ(st.refs().count(name), 1u);
        EXPECT_EQ(st.refs().at(name), manifest);
        EXPECT_EQ(st.drop_stale_temporary_refs(), 0u); // its command is alive: not prune's
        EXPECT_EQ(st.refs().count(name), 1u);
    }
    EXPECT_EQ(st.refs().count(name), 0u);
}

TEST(TemporaryTag, RemoveIsAtOnceAndOnlyOnce) {
    TempDir t("gantry-tmptag");
    Store st(t.path);
    TemporaryTag tag(st, Digest::of("m"));
    const std::string name = tag.ref();
    tag.remove();
    EXPECT_EQ(st.refs().count(name), 0u);
    st.update_refs([&](gantry::store::RefMap& m) { m[name] = Digest::of("other"); });
    tag.remove(); // already removed: the name (now another's) stays
    EXPECT_EQ(st.refs().count(name), 1u);
}

TEST(TemporaryTag, TheNameGoesWhenTheWorkThrows) {
    TempDir t("gantry-tmptag");
    Store st(t.path);
    std::string name;
    EXPECT_THROW(
        {
            TemporaryTag tag(st, Digest::of("m"));
            name = tag.ref();
            throw std::runtime_error("the check failed to start");
        },
        std::runtime_error);
    EXPECT_FALSE(name.empty());
    EXPECT_EQ(st.refs().count(name), 0u);
}

TEST(TemporaryTag, TwoAtOnceHaveTwoNames) {
    TempDir t("gantry-tmptag");
    Store st(t.path);
    TemporaryTag a(st, Digest::of("a")), b(st, Digest::of("b"));
    EXPECT_NE(a.ref(), b.ref());
    EXPECT_EQ(st.refs().at(a.ref()), Digest::of("a"));
    EXPECT_EQ(st.refs().at(b.ref()), Digest::of("b"));
}

} // namespace store_temporary_tag_test
