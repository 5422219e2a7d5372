// The content-addressed store: blobs, pending blobs and layers, references, holds, locks, the
// default root, and garbage collection / verification (store/gc).
#include "oci/digest.hpp"
#include "oci/image.hpp"
#include "store/gc.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"

#include <algorithm>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <grp.h>
#include <gtest/gtest.h>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace store_test {

using gantry::Errc;
using gantry::Error;
using gantry::Fd;
using gantry::FileLock;
using gantry::oci::Digest;
using gantry::oci::json;
using gantry::store::PendingBlob;
using gantry::store::PendingLayer;
using gantry::store::RefMap;
using gantry::store::Store;
namespace stdfs = std::filesystem;
namespace media = gantry::oci::media;
namespace gc = gantry::store;

namespace {

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (stdfs::temp_directory_path() / "gantry-store-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        try {
            gantry::fs::remove_tree(path_);
        } catch (...) {
        }
    }
    const stdfs::path& path() const { return path_; }

  private:
    stdfs::path path_;
};

std::string slurp(const stdfs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

void spit(const stdfs::path& p, const std::string& data) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << data;
}

std::vector<std::string> names_in(const stdfs::path& dir) {
    std::vector<std::string> out;
    for (auto& e : stdfs::directory_iterator(dir)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
}

bool present(const stdfs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

template <typename F>
std::optional<Error> error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    return std::nullopt;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// An image written by hand: a config naming one diffID, a layer blob, and a manifest.
struct FakeImage {
    Digest manifest, config, layer_blob, diff_id;
};

FakeImage make_image(Store& s, const std::string& seed, bool with_layer_tree = true) {
    FakeImage img;
    img.layer_blob = s.put_blob("layer blob " + seed);
    img.diff_id = Digest::of("layer tar " + seed);
    json cfg = {{"architecture", "amd64"},
                {"os", "linux"},
                {"rootfs", {{"type", "layers"}, {"diff_ids", {img.diff_id.str()}}}}};
    std::string cfg_text = cfg.dump();
    img.config = s.put_blob(cfg_text);
    json m = {{"schemaVersion", 2},
              {"mediaType", media::oci_manifest},
              {"config",
               {{"mediaType", media::oci_config},
                {"digest", img.config.str()},
                {"size", cfg_text.size()}}},
              {"layers",
               {{{"mediaType", media::oci_layer_gzip},
                 {"digest", img.layer_blob.str()},
                 {"size", 10 + seed.size()}}}}};
    img.manifest = s.put_blob(m.dump());
    if (with_layer_tree) {
        PendingLayer pl = s.begin_layer();
        Fd f(::openat(pl.rootfs_fd(), "file", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        EXPECT_TRUE(f);
        gantry::fs::write_all(f.get(), seed.data(), seed.size(), "file");
        json meta = {{"blob", img.layer_blob.str()}, {"size", 4096}};
        pl.commit(img.diff_id, meta.dump());
    }
    return img;
}

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

// --- layout and blobs ------------------------------------------------------------------------

TEST(Store, CreatesLayout) {
    TempDir t;
    Store s(t.path() / "root");
    for (const char* sub : {"blobs/sha256", "layers/sha256", "tmp", "locks", "holds"})
        EXPECT_TRUE(stdfs::is_directory(t.path() / "root" / sub)) << sub;
    EXPECT_EQ(s.root(), t.path() / "root");
    EXPECT_EQ(s.tmp_dir(), t.path() / "root/tmp");
    Store again(t.path() / "root"); // opening an existing store is fine
    EXPECT_TRUE(again.refs().empty());
}

TEST(Store, PutReadHasBlob) {
    TempDir t;
    Store s(t.path());
    std::string data = "hello blob";
    Digest d = s.put_blob(data);
    EXPECT_EQ(d, Digest::of(data));
    EXPECT_TRUE(s.has_blob(d));
    EXPECT_EQ(s.blob_path(d), t.path() / "blobs/sha256" / d.hex());
    EXPECT_EQ(slurp(s.blob_path(d)), data);
    EXPECT_EQ(s.read_blob(d), data);
    EXPECT_EQ(s.blob_size(d), data.size());
    // Idempotent, and an expected digest that matches is accepted.
    EXPECT_EQ(s.put_blob(data, d), d);
    EXPECT_EQ(names_in(t.path() / "blobs/sha256"), std::vector<std::string>{d.hex()});
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());
    // The empty blob is a blob too.
    Digest e = s.put_blob("");
    EXPECT_TRUE(s.has_blob(e));
    EXPECT_EQ(s.read_blob(e), "");
}

TEST(Store, MissingBlob) {
    TempDir t;
    Store s(t.path());
    Digest d = Digest::of("never stored");
    EXPECT_FALSE(s.has_blob(d));
    auto e = error_of([&] { s.read_blob(d); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::not_found);
    EXPECT_TRUE(contains(e->message(), d.str())) << e->message();
    e = error_of([&] { s.blob_size(d); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::not_found);
    // A directory in the blob's place is not a blob.
    stdfs::create_directory(s.blob_path(d));
    EXPECT_FALSE(s.has_blob(d));
}

TEST(Store, WrongExpectedDigestLeavesNothing) {
    TempDir t;
    Store s(t.path());
    Digest expected = Digest::of("what the manifest promised");
    auto e = error_of([&] { s.put_blob("what we got", expected); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::invalid);
    EXPECT_TRUE(contains(e->message(), expected.str())) << e->message();
    EXPECT_TRUE(contains(e->message(), Digest::of("what we got").str())) << e->message();
    EXPECT_FALSE(s.has_blob(expected));
    EXPECT_FALSE(s.has_blob(Digest::of("what we got")));
    EXPECT_TRUE(names_in(t.path() / "blobs/sha256").empty());
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());
}

TEST(Store, CorruptBlobOnDisk) {
    TempDir t;
    Store s(t.path());
    Digest d = s.put_blob("original content");
    spit(s.blob_path(d), "tampered content");
    EXPECT_TRUE(s.has_blob(d)); // presence is not verification
    auto e = error_of([&] { s.read_blob(d); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::invalid);
    EXPECT_TRUE(contains(e->message(), d.str())) << e->message();
    EXPECT_TRUE(contains(e->message(), "corrupt")) << e->message();
    EXPECT_TRUE(contains(e->message(), Digest::of("tampered content").str())) << e->message();
    EXPECT_TRUE(contains(e->hint(), "fsck")) << e->hint();
}

TEST(Store, ReadBlobSizeLimit) {
    TempDir t;
    Store s(t.path());
    Digest d = s.put_blob(std::string(1000, 'x'));
    EXPECT_EQ(s.read_blob(d, 1000).size(), 1000u);
    auto e = error_of([&] { s.read_blob(d, 999); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::invalid);
}

// --- pending blobs ---------------------------------------------------------------------------

TEST(PendingBlob, CommitRenamesIntoPlace) {
    TempDir t;
    Store s(t.path());
    std::string data = "streamed blob";
    Digest d = Digest::of(data);
    {
        PendingBlob p = s.begin_blob();
        ASSERT_GE(p.fd(), 0);
        EXPECT_EQ(names_in(s.tmp_dir()).size(), 1u);
        gantry::fs::write_all(p.fd(), data.data(), data.size(), "blob");
        p.commit(d);
        EXPECT_TRUE(s.has_blob(d));
    }
    EXPECT_TRUE(s.has_blob(d)); // the destructor of a committed blob removes nothing
    EXPECT_EQ(s.read_blob(d), data);
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());
}

TEST(PendingBlob, DestructorRemovesUncommittedTempFile) {
    TempDir t;
    Store s(t.path());
    {
        PendingBlob p = s.begin_blob();
        gantry::fs::write_all(p.fd(), "partial", 7, "blob");
        ASSERT_EQ(names_in(s.tmp_dir()).size(), 1u);
    }
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());
    EXPECT_TRUE(names_in(t.path() / "blobs/sha256").empty());
}

TEST(PendingBlob, MovedFromDoesNotRemoveTheTempFile) {
    TempDir t;
    Store s(t.path());
    std::optional<PendingBlob> first(s.begin_blob());
    PendingBlob moved(std::move(*first));
    first.reset(); // destroys the moved-from object
    ASSERT_EQ(names_in(s.tmp_dir()).size(), 1u);
    gantry::fs::write_all(moved.fd(), "abc", 3, "blob");
    moved.commit(Digest::of("abc"));
    EXPECT_EQ(s.read_blob(Digest::of("abc")), "abc");
}

TEST(PendingBlob, UniqueTempNames) {
    TempDir t;
    Store s(t.path());
    PendingBlob a = s.begin_blob(), b = s.begin_blob();
    EXPECT_EQ(names_in(s.tmp_dir()).size(), 2u);
    EXPECT_NE(a.fd(), b.fd());
}

// --- pending layers --------------------------------------------------------------------------

TEST(PendingLayer, CommitAndDuplicateCommit) {
    TempDir t;
    Store s(t.path());
    Digest id = Digest::of("a layer tar");
    EXPECT_FALSE(s.has_layer(id));
    {
        PendingLayer pl = s.begin_layer();
        Fd f(::openat(pl.rootfs_fd(), "first", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        ASSERT_TRUE(f);
        pl.commit(id, "{\"size\":1}");
    }
    EXPECT_TRUE(s.has_layer(id));
    EXPECT_EQ(s.layer_dir(id), t.path() / "layers/sha256" / id.hex());
    EXPECT_EQ(s.layer_rootfs(id), s.layer_dir(id) / "rootfs");
    EXPECT_TRUE(present(s.layer_rootfs(id) / "first"));
    EXPECT_EQ(slurp(s.layer_dir(id) / "meta.json"), "{\"size\":1}");
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());

    // Another unpack of the same layer loses the race: no error, the first copy stays.
    {
        PendingLayer second = s.begin_layer();
        Fd f(::openat(second.rootfs_fd(), "second", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        ASSERT_TRUE(f);
        EXPECT_NO_THROW(second.commit(id, "{\"size\":2}"));
    }
    EXPECT_TRUE(present(s.layer_rootfs(id) / "first"));
    EXPECT_FALSE(present(s.layer_rootfs(id) / "second"));
    EXPECT_EQ(slurp(s.layer_dir(id) / "meta.json"), "{\"size\":1}");
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());
}

TEST(PendingLayer, DestructorRemovesUncommittedTree) {
    TempDir t;
    Store s(t.path());
    {
        PendingLayer pl = s.begin_layer();
        ASSERT_EQ(::mkdirat(pl.rootfs_fd(), "ro", 0755), 0);
        Fd f(::openat(pl.rootfs_fd(), "ro/f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
        ASSERT_TRUE(f);
        ASSERT_EQ(::fchmodat(pl.rootfs_fd(), "ro", 0555, 0), 0); // read-only dirs too
        EXPECT_EQ(names_in(s.tmp_dir()).size(), 1u);
    }
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());
    EXPECT_TRUE(names_in(t.path() / "layers/sha256").empty());
}

TEST(PendingLayer, MovedFromDoesNotRemoveTheTree) {
    TempDir t;
    Store s(t.path());
    std::optional<PendingLayer> first(s.begin_layer());
    PendingLayer moved(std::move(*first));
    first.reset();
    ASSERT_EQ(names_in(s.tmp_dir()).size(), 1u);
    Digest id = Digest::of("moved layer");
    moved.commit(id, "{}");
    EXPECT_TRUE(s.has_layer(id));
}

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

// --- garbage collection ----------------------------------------------------------------------

TEST(Gc, PruneKeepsReferencedAndRemovesTheRest) {
    TempDir t;
    Store s(t.path());
    FakeImage kept = make_image(s, "kept");
    FakeImage held = make_image(s, "held");
    FakeImage dropped = make_image(s, "dropped");
    Digest loose = s.put_blob("nobody needs me");
    s.update_refs([&](RefMap& m) { m["example.com/kept:1"] = kept.manifest; });
    s.add_hold("ctr", held.manifest);
    // Work in progress left behind by a crash.
    spit(s.tmp_dir() / "blob-stale", "x");
    stdfs::create_directories(s.tmp_dir() / "layer-stale/rootfs/deep");
    ASSERT_EQ(::chmod((s.tmp_dir() / "layer-stale/rootfs").c_str(), 0555), 0);

    auto r = gc::prune(s);
    EXPECT_EQ(r.blobs, 4u); // dropped's manifest, config and layer blob + the loose one
    EXPECT_EQ(r.layers, 1u);
    EXPECT_EQ(r.tmp_entries, 2u);
    EXPECT_GT(r.bytes, 0u);

    for (const FakeImage* img : {&kept, &held}) {
        EXPECT_TRUE(s.has_blob(img->manifest));
        EXPECT_TRUE(s.has_blob(img->config));
        EXPECT_TRUE(s.has_blob(img->layer_blob));
        EXPECT_TRUE(s.has_layer(img->diff_id));
    }
    EXPECT_FALSE(s.has_blob(dropped.manifest));
    EXPECT_FALSE(s.has_blob(dropped.config));
    EXPECT_FALSE(s.has_blob(dropped.layer_blob));
    EXPECT_FALSE(s.has_layer(dropped.diff_id));
    EXPECT_FALSE(present(s.layer_dir(dropped.diff_id)));
    EXPECT_FALSE(s.has_blob(loose));
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());

    // Nothing more to do the second time.
    auto again = gc::prune(s);
    EXPECT_EQ(again.blobs, 0u);
    EXPECT_EQ(again.layers, 0u);
    EXPECT_EQ(again.tmp_entries, 0u);
}

TEST(Gc, SharedContentSurvives) {
    TempDir t;
    Store s(t.path());
    FakeImage a = make_image(s, "same");
    FakeImage b = make_image(s, "same"); // identical content: same blobs
    EXPECT_EQ(a.manifest, b.manifest);
    s.update_refs([&](RefMap& m) {
        m["x:1"] = a.manifest;
        m["x:2"] = a.manifest;
    });
    gc::prune(s);
    EXPECT_TRUE(s.has_blob(a.layer_blob));
    EXPECT_TRUE(s.has_layer(a.diff_id));
}

TEST(Gc, CollectFreesOnlyWhatNothingElseNeeds) {
    TempDir t;
    Store s(t.path());
    FakeImage gone = make_image(s, "gone");
    FakeImage other = make_image(s, "other");
    s.update_refs([&](RefMap& m) { m["other:1"] = other.manifest; });
    auto r = gc::collect(s, {gone.manifest, other.manifest});
    EXPECT_EQ(r.blobs, 3u);
    EXPECT_EQ(r.layers, 1u);
    EXPECT_FALSE(s.has_blob(gone.manifest));
    EXPECT_FALSE(s.has_blob(gone.config));
    EXPECT_FALSE(s.has_blob(gone.layer_blob));
    EXPECT_FALSE(s.has_layer(gone.diff_id));
    EXPECT_TRUE(s.has_blob(other.manifest));
    EXPECT_TRUE(s.has_layer(other.diff_id));
}

TEST(Gc, DiskUsage) {
    TempDir t;
    Store s(t.path());
    FakeImage used = make_image(s, "used");
    FakeImage unused = make_image(s, "unused");
    (void)unused;
    s.update_refs([&](RefMap& m) { m["u:1"] = used.manifest; });
    spit(s.tmp_dir() / "junk", std::string(10000, 'j'));
    auto u = gc::disk_usage(s);
    EXPECT_EQ(u.images, 1u);
    EXPECT_EQ(u.blobs, 6u);
    EXPECT_EQ(u.unused_blobs, 3u);
    EXPECT_EQ(u.layers, 2u);
    EXPECT_EQ(u.unused_layers, 1u);
    EXPECT_EQ(u.layer_bytes, 2u * 4096u); // from meta.json
    EXPECT_EQ(u.unused_layer_bytes, 4096u);
    EXPECT_GT(u.blob_bytes, u.unused_blob_bytes);
    EXPECT_GE(u.tmp_bytes, 10000u);
}

// --- fsck ------------------------------------------------------------------------------------

TEST(Fsck, CleanStore) {
    TempDir t;
    Store s(t.path());
    FakeImage img = make_image(s, "clean");
    s.update_refs([&](RefMap& m) { m["c:1"] = img.manifest; });
    auto rep = gc::fsck(s, false);
    EXPECT_EQ(rep.blobs_checked, 3u);
    EXPECT_GT(rep.bytes_checked, 0u);
    EXPECT_TRUE(rep.problems.empty());
}

TEST(Fsck, DetectsAndRepairsCorruptBlob) {
    TempDir t;
    Store s(t.path());
    FakeImage img = make_image(s, "victim");
    FakeImage fine = make_image(s, "fine");
    s.update_refs([&](RefMap& m) {
        m["v:1"] = img.manifest;
        m["f:1"] = fine.manifest;
    });
    spit(s.blob_path(img.layer_blob), "bit rot");

    auto rep = gc::fsck(s, false);
    ASSERT_EQ(rep.problems.size(), 1u);
    EXPECT_EQ(rep.problems[0].kind, "corrupt-blob");
    EXPECT_EQ(rep.problems[0].object, img.layer_blob.str());
    EXPECT_TRUE(contains(rep.problems[0].detail, Digest::of("bit rot").str()))
        << rep.problems[0].detail;
    EXPECT_FALSE(rep.problems[0].repaired);
    EXPECT_TRUE(s.has_blob(img.layer_blob)); // report only
    EXPECT_TRUE(s.has_layer(img.diff_id));

    rep = gc::fsck(s, true);
    ASSERT_GE(rep.problems.size(), 1u);
    EXPECT_EQ(rep.problems[0].kind, "corrupt-blob");
    EXPECT_TRUE(rep.problems[0].repaired);
    EXPECT_FALSE(s.has_blob(img.layer_blob));
    // The tree unpacked from the corrupt blob is removed too; the other image is untouched.
    EXPECT_FALSE(s.has_layer(img.diff_id));
    EXPECT_TRUE(s.has_blob(fine.layer_blob));
    EXPECT_TRUE(s.has_layer(fine.diff_id));

    // Afterwards the blob and the tree are reported missing (the image must be loaded again).
    rep = gc::fsck(s, false);
    std::set<std::string> kinds;
    for (auto& p : rep.problems) kinds.insert(p.kind + " " + p.object);
    EXPECT_TRUE(kinds.count("missing-blob " + img.layer_blob.str()));
    EXPECT_TRUE(kinds.count("missing-layer " + img.diff_id.str()));
    EXPECT_EQ(rep.problems.size(), 2u);
}

TEST(Fsck, BadManifestAndMissingConfig) {
    TempDir t;
    Store s(t.path());
    FakeImage img = make_image(s, "x");
    Digest not_a_manifest = s.put_blob("{\"hello\": 1}");
    s.update_refs([&](RefMap& m) {
        m["x:1"] = img.manifest;
        m["bad:1"] = not_a_manifest;
    });
    ASSERT_EQ(::unlink(s.blob_path(img.config).c_str()), 0);
    auto rep = gc::fsck(s, false);
    std::set<std::string> kinds;
    for (auto& p : rep.problems) kinds.insert(p.kind + " " + p.object);
    EXPECT_TRUE(kinds.count("bad-manifest " + not_a_manifest.str()));
    EXPECT_TRUE(kinds.count("bad-manifest " + img.manifest.str())); // its config is missing
}

} // namespace store_test
