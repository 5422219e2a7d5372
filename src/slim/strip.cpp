#include "slim/strip.hpp"

#include "analyze/scan.hpp"
#include "elf/headers.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace gantry::slim {

// Both read through elf/ (the one ELF reader), either class and byte order; every offset and
// size a header names is checked against the file before its bytes are taken.

bool elf_section(std::string_view d, const std::string& name, std::string_view& out) {
    out = {};
    elf::Bytes f = elf::Bytes::of(d);
    if (elf::identify(f) != elf::Ident::elf) return false;
    const elf::Header h = elf::header(f);
    if (!f.has(0, h.is64 ? 64 : 52)) return false;
    if (h.shoff == 0) return true; // no section header table
    const std::uint64_t ent = h.shentsize, shnum = elf::section_count(f, h);
    if (shnum == 0) return true;
    const std::uint32_t names = elf::section_names_index(f, h);
    if (ent < elf::section_header_size(h.is64) || names >= shnum || h.shoff > f.n ||
        shnum > (f.n - h.shoff) / ent)
        return false;
    const elf::SectionHeader st = elf::section_header(f, h, names);
    if (!f.has(st.offset, st.size)) return false;
    std::string_view strtab = d.substr(st.offset, st.size);
    for (std::uint64_t i = 1; i < shnum; ++i) {
        const elf::SectionHeader s = elf::section_header(f, h, i);
        if (s.name >= strtab.size()) continue;
        std::string_view nm = strtab.substr(s.name);
        nm = nm.substr(0, nm.find('\0'));
        if (nm != name) continue;
        if (s.type == elf::sht_nobits) return true;
        if (!f.has(s.offset, s.size)) return false;
        out = d.substr(s.offset, s.size);
        return true;
    }
    return true;
}

bool elf_phdrs(std::string_view d, std::string_view& out) {
    elf::Bytes f = elf::Bytes::of(d);
    if (elf::identify(f) != elf::Ident::elf) return false;
    const elf::Header h = elf::header(f);
    if (!f.has(0, h.through_phnum())) return false;
    const std::uint64_t off = h.phoff, ent = h.phentsize, num = h.phnum;
    if (off > f.n || (ent && num > (f.n - off) / ent)) return false;
    out = d.substr(off, ent * num);
    return true;
}

Stripper::Stripper(std::string tool, std::filesystem::path tmp_dir)
    : tool_(std::move(tool)), tmp_(std::move(tmp_dir)) {
    if (tool_.find('/') == std::string::npos) {
        std::string found = fs::find_program(tool_);
        if (found.empty())
            throw Error(Errc::unsupported, "--strip needs `" + tool_ + "` (GNU binutils) on PATH",
                        "install it (apt-get install binutils) or drop --strip");
        tool_ = found;
    }
}

std::optional<std::string> Stripper::strip(const std::string& elf, std::string& why) {
    std::string base = (tmp_ / ("strip-" + fs::unique_name())).string();
    std::string in = base + ".in", out = base + ".out";
    struct Cleanup {
        std::string a, b;
        ~Cleanup() {
            ::unlink(a.c_str());
            ::unlink(b.c_str());
        }
    } cleanup{in, out};
    {
        Fd fd(::open(in.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!fd) throw_errno("cannot create " + in);
        fs::write_all(fd.get(), elf.data(), elf.size(), in);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::string a1 = "--strip-debug", a2 = "-o";
    char* argv[] = {tool_.data(), a1.data(), a2.data(), out.data(), in.data(), nullptr};
    pid_t pid;
    int rc = posix_spawn(&pid, tool_.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw sys_error(rc, "cannot run " + tool_);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw_errno("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        why = tool_ + " failed (status " + std::to_string(status) + ")";
        return std::nullopt;
    }
    std::string res = fs::read_file(out, elf.size() + (1u << 20));
    std::string_view a, b;
    for (const char* sec : {".dynsym", ".dynstr"}) {
        if (!elf_section(elf, sec, a) || !elf_section(res, sec, b) || a != b) {
            why = std::string(sec) + " changed";
            return std::nullopt;
        }
    }
    if (!elf_phdrs(elf, a) || !elf_phdrs(res, b) || a != b) {
        why = "program headers changed";
        return std::nullopt;
    }
    if (analyze::elf_debug_bytes(res) != 0) {
        why = "debug sections are still present";
        return std::nullopt;
    }
    if (res.size() >= elf.size()) {
        why = "nothing to gain";
        return std::nullopt;
    }
    return res;
}

} // namespace gantry::slim
