// tailor/cuda: tailor_cuda (cuda.hpp): finds what may be rewritten, plans, rewrites, proves.
#include "gpu_vendors/nvidia/tailor_cuda.hpp"

#include "gpu_vendors/nvidia/fatbin.hpp"
#include "gpu_vendors/nvidia/tailor_cuda_detail.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <optional>
#include <set>

namespace gantry::gpu_vendors::nvidia {

using namespace cuda_detail;

namespace {

constexpr std::size_t kMaxLeftAlone = 50;
constexpr char kTailorFatbinMagic[4] = {'\x50', '\xED', '\x55', '\xBA'};

bool has_magic(std::string_view f) {
    return memmem(f.data(), f.size(), kTailorFatbinMagic, sizeof kTailorFatbinMagic) != nullptr;
}

std::string kept_list(const device_code::KeepSet& keep) {
    std::string s;
    for (auto& t : keep.targets("cuda")) s += (s.empty() ? "" : ", ") + t;
    return s;
}

bool sm_digits(const std::string& s) {
    return !s.empty() && s.size() <= 3 &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// "sm_90", "compute_90", "9.0" -> 90; 0 when it is none of these.
unsigned cuda_sm(const std::string& item) {
    std::string digits;
    if (item.starts_with("sm_"))
        digits = item.substr(3);
    else if (item.starts_with("compute_"))
        digits = item.substr(8);
    else if (auto dot = item.find('.'); dot != std::string::npos) {
        std::string major = item.substr(0, dot), minor = item.substr(dot + 1);
        if (!sm_digits(major) || major.size() > 2 || minor.size() != 1 || !sm_digits(minor))
            return 0;
        digits = major + minor;
    } else
        return 0;
    // An arch-specific suffix names the same device ("sm_90a" is a 9.0 GPU).
    if (!digits.empty() && (digits.back() == 'a' || digits.back() == 'f')) digits.pop_back();
    if (!sm_digits(digits) || digits.size() < 2) return 0;
    unsigned sm = static_cast<unsigned>(std::stoul(digits));
    return sm >= 10 && sm <= 999 ? sm : 0;
}

std::optional<std::string> parse_cuda_target(const std::string& item) {
    std::string lower = item;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (unsigned sm = cuda_sm(lower)) return "sm_" + std::to_string(sm);
    return std::nullopt;
}

bool sm_before(const std::string& a, const std::string& b) {
    return sm_number(a) < sm_number(b);
}

class Tailor {
  public:
    Tailor(std::string& elf, const device_code::KeepSet& keep, device_code::FileReport& r)
        : f_(elf), keep_(keep), r_(r) {}

    // Fills the report; false when the file is refused (the reason in r_.refused).
    bool run(bool write) {
        std::string why;
        switch (elf::read_table(f_, elf_, why)) {
        case elf::TableRead::not_elf:
            return true;
        case elf::TableRead::no_sections:
            if (has_magic(f_))
                left("fat binary magic found, but the file has no section headers to find "
                     ".nv_fatbin by: left alone");
            return true;
        case elf::TableRead::malformed:
            return has_magic(f_) ? refuse(why) : true;
        case elf::TableRead::ok:
            break;
        }
        nv_ = elf_.find(".nv_fatbin");
        if (elf_.type == 1 /*ET_REL*/) {
            if (nv_ || has_magic(f_))
                left("object file (ET_REL): fat binaries in object files are not rewritten "
                     "(nvprune's job)");
            return true;
        }
        if (!nv_ || !nv_->has_bytes()) {
            list_other_sections(nullptr, {});
            return true;
        }
        if (elf_.machine != 62 && elf_.machine != 183) {
            left(".nv_fatbin left alone: ELF machine " + std::to_string(elf_.machine) +
                 " is not x86_64 or aarch64 (relocation types unknown)");
            return true;
        }
        if (!locate_section(why)) return refuse(why);
        if (why = parse_exact(f_, nv_->off, nv_->size, nv_->name, cs_); !why.empty())
            return refuse(why);
        std::map<std::string, std::size_t> elsewhere; // section -> wrappers pointing there
        if (!references(why, elsewhere)) return refuse(why);
        list_other_sections(nv_, elsewhere);
        plan();
        if (plans_.empty()) return true;
        r_.outcome = device_code::FileReport::Outcome::changed;
        if (!write) return true;
        return rewrite_and_prove();
    }

    bool refuse(const std::string& why) {
        r_.outcome = device_code::FileReport::Outcome::refused;
        r_.refused = why;
        return false;
    }

  private:
    void left(const std::string& line) { r_.left_alone.push_back(line); }

    // .nv_fatbin's address must be where the segments load its bytes from.
    bool locate_section(std::string& why) {
        auto first = elf_.vaddr_to_off(nv_->addr);
        auto last = elf_.vaddr_to_off(nv_->addr + nv_->size - 1);
        if (!first || !last || *first != nv_->off || *last != nv_->off + nv_->size - 1) {
            why = ".nv_fatbin (" + hex(nv_->off) + ", address " + hex(nv_->addr) +
                  "): the section and program headers disagree about where it is loaded from";
            return false;
        }
        return true;
    }

    // Which containers a wrapper references; refuses pointers into the middle of containers.
    bool references(std::string& why, std::map<std::string, std::size_t>& elsewhere) {
        referenced_.assign(cs_.size(), false);
        const elf::Section* seg = elf_.find(".nvFatBinSegment");
        if (!seg || !seg->has_bytes()) return true; // nothing references anything
        Pointers ptrs;
        const std::uint64_t lo = nv_->addr, hi = nv_->addr + nv_->size;
        why = read_pointers(f_, elf_, *seg, lo, hi, nv_->off, nv_->off + nv_->size, ptrs);
        if (!why.empty()) return false;
        std::map<std::uint64_t, std::size_t> start; // vaddr -> container
        for (std::size_t i = 0; i < cs_.size(); ++i) start[lo + (cs_[i].off - nv_->off)] = i;
        for (auto& w : ptrs.wrappers) {
            const std::string name = "wrapper #" + std::to_string(w.index) + " at " + hex(w.at);
            if (w.data >= lo && w.data < hi) {
                auto it = start.find(w.data);
                if (it == start.end()) {
                    why = name + " points to " + hex(w.data) +
                          " inside .nv_fatbin, not at a container start";
                    return false;
                }
                referenced_[it->second] = true;
                continue;
            }
            auto off = elf_.vaddr_to_off(w.data);
            const elf::Section* s = off ? elf_.section_at(*off) : nullptr;
            ++elsewhere[s ? s->name : std::string("no loaded section")];
        }
        for (auto& [v, what] : ptrs.into)
            if (!start.count(v)) {
                why =
                    what + " points to " + hex(v) + " inside .nv_fatbin, not at a container start";
                return false;
            }
        return true;
    }

    // One line per other section holding containers (compat/fatbin's lenient scan finds them).
    void list_other_sections(const elf::Section* nv, const std::map<std::string, std::size_t>& wr) {
        nvidia::FatbinOptions o;
        o.cubin = nvidia::FatbinOptions::Cubin::none;
        auto scan = nvidia::scan_fatbin_bytes(f_, o);
        std::map<std::string, std::size_t> count;
        for (auto& c : scan.containers)
            if (!nv || c.region != nv->name) ++count[c.region];
        for (auto& [name, n] : wr) count.try_emplace(name, 0);
        for (auto& [name, n] : count) {
            std::string line = name + ": " + std::to_string(n) + " container(s)";
            if (auto it = wr.find(name); it != wr.end())
                line += ", " + std::to_string(it->second) + " wrapper(s) point there";
            left(line + "; left alone: only .nv_fatbin containers are rewritten");
        }
    }

    void plan() {
        const std::string kept = kept_list(keep_);
        for (std::size_t i = 0; i < cs_.size(); ++i) {
            const Container& c = cs_[i];
            for (auto& e : c.entries) r_.arch_before[e.arch_name()] += e.size();
            r_.entries_before += c.entries.size();
            Choice ch = choose(c, keep_);
            bool rewrite = referenced_[i] && ch.any_usable && ch.kept < c.entries.size();
            if (!referenced_[i]) {
                left("container at " + hex(c.off) + " in .nv_fatbin: no wrapper references it");
            } else if (!ch.any_usable) {
                std::string has;
                for (auto& e : c.entries) has += (has.empty() ? "" : ", ") + e.arch_name();
                left("container at " + hex(c.off) + " in .nv_fatbin: nothing in it runs on " +
                     kept + " (" + has + ")");
            }
            Plan p{i, ch.keep, 0};
            for (std::size_t j = 0; j < c.entries.size(); ++j) {
                const Entry& e = c.entries[j];
                if (rewrite && !p.keep[j]) {
                    r_.dropped.emplace_back(e.off, e.size());
                    continue;
                }
                r_.arch_after[e.arch_name()] += e.size();
                ++r_.entries_after;
                p.new_fat += e.size();
            }
            if (!rewrite) continue;
            r_.zeroed += c.fat - p.new_fat;
            plans_.push_back(std::move(p));
        }
        if (r_.left_alone.size() > kMaxLeftAlone) {
            std::size_t more = r_.left_alone.size() - kMaxLeftAlone;
            r_.left_alone.resize(kMaxLeftAlone);
            left("and " + std::to_string(more) + " more");
        }
    }

    bool rewrite_and_prove() {
        const std::string digest = outside_digest(f_, cs_, plans_);
        std::vector<std::string> originals;
        originals.reserve(plans_.size());
        for (auto& p : plans_) {
            const Container& c = cs_[p.container];
            originals.emplace_back(f_, c.off, c.end() - c.off);
        }
        std::string why;
        try {
            for (auto& p : plans_) {
                const Container& c = cs_[p.container];
                char* base = f_.data();
                std::uint64_t dst = c.off + kContainerHeader;
                for (std::size_t j = 0; j < c.entries.size(); ++j) {
                    if (!p.keep[j]) continue;
                    const Entry& e = c.entries[j]; // dst <= e.off: copying forward is safe
                    if (dst != e.off) std::memmove(base + dst, base + e.off, e.size());
                    dst += e.size();
                }
                std::memcpy(base + c.off + 8, &p.new_fat, sizeof p.new_fat);
                std::memset(base + dst, 0, c.end() - dst);
            }
            why = prove(f_, *nv_, cs_, plans_, originals, digest);
        } catch (const std::exception& e) {
            why = std::string("the proof could not run: ") + e.what();
        }
        if (why.empty()) return true;
        for (std::size_t i = 0; i < plans_.size(); ++i)
            f_.replace(cs_[plans_[i].container].off, originals[i].size(), originals[i]);
        return refuse("proof failed, original bytes restored: " + why);
    }

    std::string& f_;
    const device_code::KeepSet& keep_;
    device_code::FileReport& r_;
    elf::Table elf_;
    const elf::Section* nv_ = nullptr;
    std::vector<Container> cs_;
    std::vector<bool> referenced_;
    std::vector<Plan> plans_;
};

} // namespace

device_code::KeepGrammar cuda_keep_grammar() {
    return {
        "cuda",
        "a CUDA architecture",
        "CUDA GPUs as sm_80 / 8.0",
        "sm_90",
        parse_cuda_target,
        sm_before,
        [](const device_code::KeepSet& keep) {
            return keep.has(kNoPtx) ? " (no PTX)" : " (+newest PTX)";
        },
        {{kNoPtx, "With --keep-arch: drop PTX newer than the kept GPUs too (no JIT path for newer "
                  "GPUs)"}}};
}

unsigned sm_number(const std::string& target) {
    return target.starts_with("sm_") ? cuda_sm(target) : 0;
}

device_code::FileReport tailor_cuda(std::string& elf, const device_code::KeepSet& keep,
                                    const std::string& path, bool write) {
    device_code::FileReport r{.path = path, .vendor = "cuda", .file_size = elf.size()};
    if (keep.targets("cuda").empty()) return r;
    try {
        Tailor t(elf, keep, r);
        if (!t.run(write)) {
            device_code::FileReport refused; // nothing of a refused file's plan is reported as done
            refused.path = path;
            refused.vendor = "cuda";
            refused.file_size = elf.size();
            refused.outcome = device_code::FileReport::Outcome::refused;
            refused.refused = r.refused;
            return refused;
        }
    } catch (const std::exception& e) { // before any write (the rewrite catches its own)
        device_code::FileReport refused;
        refused.path = path;
        refused.vendor = "cuda";
        refused.file_size = elf.size();
        refused.outcome = device_code::FileReport::Outcome::refused;
        refused.refused = std::string("not tailored (nothing was written): ") + e.what();
        return refused;
    }
    return r;
}

} // namespace gantry::gpu_vendors::nvidia
