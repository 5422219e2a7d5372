// store::Store's references, holds and locks, and the default store root (GANTRY_ROOT,
// XDG_DATA_HOME, HOME, root or not).
#include "oci/digest.hpp"
#include "oci/image.hpp"
#include "store/gc.hpp"
#include "store/store.hpp"
#include "store_test_support.hpp"
#include "util/error.hpp"
#include "util/lock.hpp"

#include <cstdlib>
#include <functional>
#include <grp.h>
#include <gtest/gtest.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace store_refs_test {

using namespace store_test;
using gantry::Errc;
using gantry::Error;
using gantry::FileLock;
using gantry::oci::Digest;
using gantry::oci::json;
using gantry::store::RefMap;
using gantry::store::Store;
namespace gc = gantry::store;

namespace {

// Restores an environment variable on scope exit.
class EnvGuard {
  public:
    explicit EnvGuard(const char* name) : name_(name) {
        if (const char* v = std::getenv(name)) old_ = v;
    }
    ~EnvGuard() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }

  private:
    const char* name_;
    std::optional<std::string> old_;
};

// Runs f in a child as uid/gid 65534; returns what f returned, or "ERROR: ...".
std::string in_child_as_nobody(const std::function<std::string()>& f) {
    int p[2];
    if (::pipe(p) != 0) return "ERROR: pipe";
    pid_t pid = ::fork();
    if (pid < 0) return "ERROR: fork";
    if (pid == 0) {
        ::close(p[0]);
        std::string out;
        try {
            if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
                throw std::runtime_error("cannot drop privileges");
            out = f();
        } catch (const Error& e) {
            out = "ERROR: " + e.message();
        } catch (const std::exception& e) {
            out = std::string("ERROR: ") + e.what();
        }
        (void)!::write(p[1], out.data(), out.size());
        ::_exit(0);
    }
    ::close(p[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return out;
}

} // namespace

// --- references, holds, locks ----------------------------------------------------------------

TEST(Refs, UpdateAndReadRoundTrip) {
    TempDir t;
    Store s(t.path());
    EXPECT_TRUE(s.refs().empty());
    EXPECT_FALSE(present(t.path() / "refs.json"));
    Digest a = Digest::of("a"), b = Digest::of("b");
    s.update_refs([&](RefMap& m) {
        EXPECT_TRUE(m.empty());
        m["docker.io/library/busybox:latest"] = a;
        m["example.com/x/y:1"] = b;
    });
    RefMap m = s.refs();
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m.at("docker.io/library/busybox:latest"), a);
    EXPECT_EQ(m.at("example.com/x/y:1"), b);
    // On disk: {"refs": {...}}.
    json doc = json::parse(slurp(t.path() / "refs.json"));
    EXPECT_EQ(doc["refs"]["example.com/x/y:1"], b.str());

    s.update_refs([&](RefMap& r) {
        EXPECT_EQ(r.size(), 2u);
        r.erase("example.com/x/y:1");
        r["docker.io/library/busybox:latest"] = b;
    });
    m = s.refs();
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m.at("docker.io/library/busybox:latest"), b);
    // A second Store on the same root sees the same references.
    EXPECT_EQ(Store(t.path()).refs(), m);
    // No temp files are left next to refs.json.
    for (auto& n : names_in(t.path())) EXPECT_FALSE(contains(n, ".tmp-")) << n;
}

TEST(Refs, ExceptionInChangeLeavesRefsAlone) {
    TempDir t;
    Store s(t.path());
    s.update_refs([](RefMap& m) { m["r:1"] = Digest::of("1"); });
    EXPECT_THROW(s.update_refs([](RefMap& m) {
        m.clear();
        throw Error(Errc::conflict, "changed my mind");
    }),
                 Error);
    EXPECT_EQ(s.refs().size(), 1u);
}

TEST(Refs, DamagedFile) {
    TempDir t;
    Store s(t.path());
    spit(t.path() / "refs.json", "{not json");
    auto e = error_of([&] { s.refs(); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::invalid);
    EXPECT_TRUE(contains(e->message(), "refs.json")) << e->message();

    spit(t.path() / "refs.json", "{\"other\": {}}");
    e = error_of([&] { s.refs(); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::invalid);
    EXPECT_TRUE(contains(e->message(), "\"refs\"")) << e->message();

    spit(t.path() / "refs.json", "{\"refs\": {\"a:1\": \"sha256:nope\"}}");
    e = error_of([&] { s.refs(); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::invalid);
}

TEST(Holds, AddListRemove) {
    TempDir t;
    Store s(t.path());
    EXPECT_TRUE(s.holds().empty());
    Digest a = Digest::of("a"), b = Digest::of("b");
    s.add_hold("container-1", a);
    s.add_hold("container-2", b);
    s.add_hold("container-1", b); // replaced
    auto h = s.holds();
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h.at("container-1"), b);
    EXPECT_EQ(h.at("container-2"), b);
    EXPECT_EQ(slurp(t.path() / "holds/container-2"), b.str() + "\n");

    // Damaged holds and half-written temp files are ignored.
    spit(t.path() / "holds/broken", "garbage");
    spit(t.path() / "holds/container-3.tmp-123-0-9", a.str());
    h = s.holds();
    EXPECT_EQ(h.size(), 2u);
    EXPECT_FALSE(h.count("broken"));

    s.remove_hold("container-1");
    EXPECT_NO_THROW(s.remove_hold("container-1")); // already gone
    EXPECT_NO_THROW(s.remove_hold("never-existed"));
    h = s.holds();
    ASSERT_EQ(h.size(), 1u);
    EXPECT_EQ(h.at("container-2"), b);
}

TEST(Locks, WriterLockExcludesGc) {
    TempDir t;
    Store s(t.path());
    auto gc_path = t.path() / "locks/gc";
    {
        FileLock w1 = s.writer_lock();
        FileLock w2 = s.writer_lock(); // writers share
        EXPECT_TRUE(w1.held());
        EXPECT_TRUE(w2.held());
        EXPECT_FALSE(FileLock::try_lock(gc_path, FileLock::Mode::exclusive).held());
        EXPECT_TRUE(FileLock::try_lock(gc_path, FileLock::Mode::shared).held());
    }
    {
        FileLock g = s.gc_lock();
        EXPECT_TRUE(g.held());
        EXPECT_FALSE(FileLock::try_lock(gc_path, FileLock::Mode::shared).held());
        g.unlock();
        EXPECT_FALSE(g.held());
        EXPECT_TRUE(FileLock::try_lock(gc_path, FileLock::Mode::shared).held());
    }
}

// --- default root ----------------------------------------------------------------------------

TEST(DefaultRoot, GantryRootWins) {
    EnvGuard g1("GANTRY_ROOT"), g2("XDG_DATA_HOME");
    ::setenv("GANTRY_ROOT", "/some/where", 1);
    ::setenv("XDG_DATA_HOME", "/xdg", 1);
    EXPECT_EQ(gc::default_root(), "/some/where");
    ::setenv("GANTRY_ROOT", "", 1); // empty means unset
    if (::geteuid() == 0) {
        EXPECT_EQ(gc::default_root(), "/var/lib/gantry");
    } else {
        EXPECT_EQ(gc::default_root(), "/xdg/gantry");
    }
    ::unsetenv("GANTRY_ROOT");
    if (::geteuid() == 0) {
        EXPECT_EQ(gc::default_root(), "/var/lib/gantry");
    }
}

TEST(DefaultRoot, NonRootUsesXdgThenHome) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
    auto probe = [](const char* xdg, const char* home) {
        return in_child_as_nobody([=] {
            ::unsetenv("GANTRY_ROOT");
            if (xdg)
                ::setenv("XDG_DATA_HOME", xdg, 1);
            else
                ::unsetenv("XDG_DATA_HOME");
            if (home)
                ::setenv("HOME", home, 1);
            else
                ::unsetenv("HOME");
            return gc::default_root().string();
        });
    };
    EXPECT_EQ(probe("/xdg/data", "/home/u"), "/xdg/data/gantry");
    EXPECT_EQ(probe(nullptr, "/home/u"), "/home/u/.local/share/gantry");
    EXPECT_EQ(probe("", "/home/u"), "/home/u/.local/share/gantry");
    // GANTRY_ROOT still wins for non-root users.
    EXPECT_EQ(in_child_as_nobody([] {
                  ::setenv("GANTRY_ROOT", "/r", 1);
                  ::setenv("XDG_DATA_HOME", "/xdg", 1);
                  return gc::default_root().string();
              }),
              "/r");
}
} // namespace store_refs_test
