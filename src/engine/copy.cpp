// gantry cp (engine/copy.hpp): which side is the container, where the copy lands (docker's
// rules), the container's root; the file work is engine/copy_tree.cpp's.
#include "engine/copy.hpp"

#include "engine/copy_tree.hpp"
#include "engine/stopped_root.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::engine {

namespace {

// One side's paths: in a container's root (resolved in-root) or on the host.
struct CopySide {
    Fd root;           // the container's root; closed: the host
    std::string label; // "container NAME" or "the host"

    // PATH opened with FLAGS (links followed, in-root for a container); -1 and errno on failure
    int open(const std::string& path, int flags) const {
        if (root) return fs::openat_in_root(root.get(), path.empty() ? "/" : path, flags);
        return ::open(path.empty() ? "." : path.c_str(), flags | O_CLOEXEC);
    }
    std::string absolute(const std::string& path) const {
        if (root && !path.starts_with('/')) return "/" + path; // docker: relative to "/"
        return path;
    }
};

// Calls BODY with container NAME's side: its running root (/proc/PID/root), or, stopped, its
// root mounted in a child process (engine/stopped_root.hpp).
void in_container(const std::string& name, const std::function<void(const CopySide&)>& body) {
    auto s = records::StateDir().get(name);
    CopySide side;
    side.label = "container " + s.name;
    if (!s.running()) {
        with_stopped_root(s, [&](int rootfd) {
            side.root = Fd(::fcntl(rootfd, F_DUPFD_CLOEXEC, 0));
            body(side);
        });
        return;
    }
    auto proc = "/proc/" + std::to_string(s.pid) + "/root";
    side.root = Fd(::open(proc.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!side.root) throw_errno("cannot open the root of container " + s.name + " (" + proc + ")");
    if (!records::process_running(s.pid, s.pid_start)) // its pid was reused meanwhile
        throw Error(Errc::conflict, "container " + s.name + " stopped while the copy began",
                    "copy again");
    body(side);
}

struct CopyPath {
    std::string dir, base; // PATH's directory and last component ("." for a root)
    bool contents = false; // PATH ended with "/.": a directory's contents
    bool trailing_slash = false;
};

CopyPath copy_path(std::string p) {
    CopyPath c;
    if (p == "." || p.ends_with("/.")) {
        c.contents = true;
        p.resize(p.size() - 1);
    }
    c.trailing_slash = p.ends_with('/');
    while (p.size() > 1 && p.ends_with('/')) p.pop_back();
    auto slash = p.rfind('/');
    if (p.empty()) {
        c.dir = ".";
        c.base = ".";
    } else if (p == "/") {
        c.dir = "/";
        c.base = ".";
    } else if (slash == std::string::npos) {
        c.dir = ".";
        c.base = p;
    } else {
        c.dir = slash == 0 ? "/" : p.substr(0, slash);
        c.base = p.substr(slash + 1);
    }
    if (c.base == "..") { // a parent: named by its own directory
        c.dir = p;
        c.base = ".";
    }
    return c;
}

struct CopySource {
    Fd dir;
    std::string name; // in DIR
    bool is_dir = false, contents = false;
    std::string base; // the name the copy takes
};

CopySource open_copy_source(const CopySide& side, const std::string& path, bool follow) {
    auto p = copy_path(side.absolute(path));
    CopySource s;
    s.contents = p.contents;
    s.base = p.base == "." ? "." : p.base;
    auto missing = [&] {
        return Error(Errc::not_found, "Could not find the file " + path + " in " + side.label,
                     "check the path (`gantry exec NAME ls`)");
    };
    std::string dir = p.dir, name = p.base;
    for (int hops = 0;; ++hops) {
        s.dir = Fd(side.open(dir, O_PATH | O_DIRECTORY));
        if (!s.dir) {
            if (errno == ENOENT || errno == ENOTDIR) throw missing();
            throw_errno("cannot open " + dir + " in " + side.label);
        }
        struct stat st {};
        if (::fstatat(s.dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) throw missing();
            throw_errno("cannot read " + path + " in " + side.label);
        }
        // -L (or a path through "/."): the link is followed, in-root, one link at a time
        if (S_ISLNK(st.st_mode) && (follow || p.contents || p.trailing_slash) && hops < 40) {
            std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
            ssize_t n = ::readlinkat(s.dir.get(), name.c_str(), target.data(), target.size());
            if (n < 0) throw_errno("cannot read link " + path + " in " + side.label);
            target.resize(static_cast<size_t>(n));
            auto next = copy_path(target.starts_with('/') ? target : dir + "/" + target);
            dir = next.dir;
            name = next.base;
            continue;
        }
        s.name = name;
        s.is_dir = S_ISDIR(st.st_mode);
        if (p.contents && !s.is_dir)
            throw Error(Errc::usage, path + " is not a directory: /. copies a directory's contents",
                        "leave out the /.");
        return s;
    }
}

struct CopyDestination {
    Fd dir;
    std::string name;
};

CopyDestination open_copy_destination(const CopySide& side, const std::string& path,
                                      const CopySource& src) {
    auto p = copy_path(side.absolute(path));
    CopyDestination d;
    Fd target(side.open(p.base == "." ? p.dir : p.dir + "/" + p.base, O_PATH));
    struct stat st {};
    if (target && ::fstat(target.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
        d.dir = std::move(target);
        d.name = src.contents ? "." : src.base;
        return d;
    }
    if (target) { // an existing file
        if (p.trailing_slash || p.contents)
            throw Error(Errc::usage, path + " in " + side.label + " is not a directory",
                        "name a directory, or leave out the trailing /");
        if (src.is_dir)
            throw Error(Errc::conflict,
                        "cannot copy a directory to a file: " + path + " in " + side.label,
                        "name a directory, or a path that does not exist yet");
    } else if (errno != ENOENT) {
        throw_errno("cannot open " + path + " in " + side.label);
    } else if (p.trailing_slash && !src.is_dir) {
        throw Error(Errc::not_found,
                    "the destination directory " + path + " in " + side.label + " does not exist",
                    "create it first, or leave out the trailing / to name the file");
    }
    d.dir = Fd(side.open(p.dir, O_PATH | O_DIRECTORY));
    if (!d.dir) {
        if (errno == ENOENT || errno == ENOTDIR)
            throw Error(Errc::not_found,
                        "the directory of " + path + " in " + side.label + " does not exist",
                        "create it first");
        throw_errno("cannot open " + p.dir + " in " + side.label);
    }
    d.name = p.base;
    return d;
}

} // namespace

CopyEndpoint copy_endpoint(const std::string& arg) {
    if (arg.starts_with('/') || arg.starts_with('.')) return {"", arg};
    auto colon = arg.find(':');
    if (colon == std::string::npos) return {"", arg};
    return {arg.substr(0, colon), arg.substr(colon + 1)};
}

void copy_out_tar(const std::string& container, const std::string& path, int out,
                  bool follow_link) {
    in_container(container, [&](const CopySide& side) {
        auto src = open_copy_source(side, path, follow_link);
        write_tar(src.dir.get(), src.name, src.base, out, false);
    });
}

void copy_in_tar(const std::string& container, const std::string& dir, int in) {
    in_container(container, [&](const CopySide& side) {
        Fd d(side.open(side.absolute(dir), O_PATH | O_DIRECTORY));
        if (!d) {
            if (errno == ENOENT || errno == ENOTDIR)
                throw Error(Errc::not_found,
                            "destination \"" + dir + "\" must be a directory in " + side.label,
                            "a tar stream is extracted into a directory that exists");
            throw_errno("cannot open " + dir + " in " + side.label);
        }
        extract_tar_into(in, d.get(), "the tar stream on standard input");
    });
}

void copy(const std::string& src, const std::string& dest, const CopyOptions& o, int in, int out) {
    if (o.archive)
        throw Error(Errc::unsupported, "cp -a (the source's owners kept) is not supported",
                    "gantry cp writes files as your user (root inside a rootless container); "
                    "change owners with `gantry exec NAME chown ...`");
    auto from = copy_endpoint(src), to = copy_endpoint(dest);
    if (!from.container.empty() && !to.container.empty())
        throw Error(Errc::usage, "copying between containers is not supported",
                    "copy to the host, then into the other container");
    if (from.container.empty() && to.container.empty())
        throw Error(Errc::usage, "must specify at least one container source",
                    "gantry cp CONTAINER:SRC DEST, or gantry cp SRC CONTAINER:DEST");
    if (from.container.empty() && from.path == "-") return copy_in_tar(to.container, to.path, in);
    if (to.container.empty() && to.path == "-")
        return copy_out_tar(from.container, from.path, out, o.follow_link);
    const std::string& name = from.container.empty() ? to.container : from.container;
    in_container(name, [&](const CopySide& inside) {
        CopySide host;
        host.label = "the host";
        const CopySide& src_side = from.container.empty() ? host : inside;
        const CopySide& dst_side = from.container.empty() ? inside : host;
        auto s = open_copy_source(src_side, from.path, o.follow_link);
        auto d = open_copy_destination(dst_side, to.path, s);
        copy_tree(s.dir.get(), s.name, d.dir.get(), d.name, false);
    });
}

} // namespace gantry::engine
