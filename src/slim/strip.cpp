#include "slim/strip.hpp"

#include "analyze/scan.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace gantry::slim {

namespace {

struct Shdr {
    std::uint64_t name, type, off, size;
};

bool headers(std::string_view d, bool& is64, std::uint64_t& shoff, std::uint64_t& shentsize,
             std::uint64_t& shnum, std::uint64_t& shstrndx) {
    if (d.size() < sizeof(Elf64_Ehdr) || std::memcmp(d.data(), ELFMAG, SELFMAG) != 0) return false;
    if (d[EI_DATA] != ELFDATA2LSB) return false;
    is64 = d[EI_CLASS] == ELFCLASS64;
    if (is64) {
        Elf64_Ehdr h;
        std::memcpy(&h, d.data(), sizeof h);
        shoff = h.e_shoff, shentsize = h.e_shentsize, shnum = h.e_shnum, shstrndx = h.e_shstrndx;
    } else if (d[EI_CLASS] == ELFCLASS32) {
        Elf32_Ehdr h;
        std::memcpy(&h, d.data(), sizeof h);
        shoff = h.e_shoff, shentsize = h.e_shentsize, shnum = h.e_shnum, shstrndx = h.e_shstrndx;
    } else
        return false;
    std::size_t want = is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
    if (shnum == 0) return true;
    if (shentsize < want || shstrndx >= shnum || shoff > d.size() ||
        shnum > (d.size() - shoff) / shentsize)
        return false;
    return true;
}

Shdr shdr(std::string_view d, bool is64, std::uint64_t shoff, std::uint64_t shentsize,
          std::uint64_t i) {
    const char* p = d.data() + shoff + i * shentsize;
    if (is64) {
        Elf64_Shdr s;
        std::memcpy(&s, p, sizeof s);
        return {s.sh_name, s.sh_type, s.sh_offset, s.sh_size};
    }
    Elf32_Shdr s;
    std::memcpy(&s, p, sizeof s);
    return {s.sh_name, s.sh_type, s.sh_offset, s.sh_size};
}

} // namespace

bool elf_section(std::string_view d, const std::string& name, std::string_view& out) {
    out = {};
    bool is64;
    std::uint64_t shoff, shentsize, shnum, shstrndx;
    if (!headers(d, is64, shoff, shentsize, shnum, shstrndx)) return false;
    if (shnum == 0) return true;
    Shdr st = shdr(d, is64, shoff, shentsize, shstrndx);
    if (st.off > d.size() || st.size > d.size() - st.off) return false;
    std::string_view strtab = d.substr(st.off, st.size);
    for (std::uint64_t i = 1; i < shnum; ++i) {
        Shdr s = shdr(d, is64, shoff, shentsize, i);
        if (s.name >= strtab.size()) continue;
        std::string_view nm = strtab.substr(s.name);
        nm = nm.substr(0, nm.find('\0'));
        if (nm != name) continue;
        if (s.type == SHT_NOBITS) return true;
        if (s.off > d.size() || s.size > d.size() - s.off) return false;
        out = d.substr(s.off, s.size);
        return true;
    }
    return true;
}

bool elf_phdrs(std::string_view d, std::string_view& out) {
    if (d.size() < sizeof(Elf64_Ehdr) || std::memcmp(d.data(), ELFMAG, SELFMAG) != 0) return false;
    std::uint64_t off, ent, num;
    if (d[EI_CLASS] == ELFCLASS64) {
        Elf64_Ehdr h;
        std::memcpy(&h, d.data(), sizeof h);
        off = h.e_phoff, ent = h.e_phentsize, num = h.e_phnum;
    } else {
        Elf32_Ehdr h;
        std::memcpy(&h, d.data(), sizeof h);
        off = h.e_phoff, ent = h.e_phentsize, num = h.e_phnum;
    }
    if (off > d.size() || (ent && num > (d.size() - off) / ent)) return false;
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
