#include "sif/container.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::sif {

namespace {

constexpr std::string_view kSifMagic("SIF_MAGIC\0", 10);
constexpr std::size_t kMagicAt = 32, kVersionAt = 42, kArchAt = 45, kIdAt = 48, kNumbersAt = 64;
constexpr std::uint32_t kGroupMask = 0xf0000000u;

std::uint32_t sif_u32(std::string_view b, std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i)
        v |= std::uint32_t{static_cast<unsigned char>(b[at + i])} << (8 * i);
    return v;
}
std::int64_t sif_i64(std::string_view b, std::size_t at) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i)
        v |= std::uint64_t{static_cast<unsigned char>(b[at + i])} << (8 * i);
    return static_cast<std::int64_t>(v);
}
// A fixed-size text field: up to its first NUL.
std::string sif_text(std::string_view b, std::size_t at, std::size_t len) {
    std::string_view f = b.substr(at, len);
    return std::string(f.substr(0, f.find('\0')));
}

[[noreturn]] void sif_refuse(const std::string& what, const std::string& why) {
    throw Error(Errc::invalid, what + " is not a usable SIF image: " + why,
                "check it with `siftool list " + what + "`, or build or pull it again");
}

std::string sif_uuid_text(std::string_view b) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        auto c = static_cast<unsigned char>(b[i]);
        out += hex[c >> 4], out += hex[c & 15];
    }
    return out;
}

// One descriptor of the table (B: its 585 bytes), or nullopt when unused. The layout is the
// reference's rawDescriptor, packed little-endian: type i32, used bool, id, group, link u32,
// offset, size, size with padding, created, modified, uid, gid i64, name [128], extra [384].
std::optional<Object> sif_descriptor(std::string_view b, std::size_t index, std::uint64_t file,
                                     const std::string& what) {
    if (b[4] == 0) return std::nullopt;
    Object o;
    o.type = static_cast<std::int32_t>(sif_u32(b, 0));
    o.id = sif_u32(b, 5);
    o.group = sif_u32(b, 9) & ~kGroupMask;
    o.linked = sif_u32(b, 13);
    std::int64_t offset = sif_i64(b, 17), size = sif_i64(b, 25);
    std::string which = "object " + std::to_string(o.id) + " (descriptor " + std::to_string(index) +
                        ", " + type_name(o.type) + ")";
    if (offset < 0 || size < 0 || static_cast<std::uint64_t>(offset) > file ||
        static_cast<std::uint64_t>(size) > file - static_cast<std::uint64_t>(offset))
        sif_refuse(what, which + " points outside the file (offset " + std::to_string(offset) +
                             ", " + std::to_string(size) + " bytes, the file has " +
                             std::to_string(file) + ")");
    o.offset = static_cast<std::uint64_t>(offset), o.size = static_cast<std::uint64_t>(size);
    o.name = sif_text(b, 73, 128);
    if (o.type == static_cast<std::int32_t>(DataType::partition)) {
        o.fs = static_cast<std::int32_t>(sif_u32(b, 201));
        o.part = static_cast<std::int32_t>(sif_u32(b, 205));
        o.arch = arch_name(b.substr(209, 3));
    }
    if (o.type == static_cast<std::int32_t>(DataType::oci_blob) ||
        o.type == static_cast<std::int32_t>(DataType::oci_root_index))
        o.digest = sif_text(b, 201, 384);
    return o;
}

} // namespace

std::string type_name(std::int32_t type) {
    switch (static_cast<DataType>(type)) {
    case DataType::deffile:
        return "Def.FILE";
    case DataType::env_vars:
        return "Env.Vars";
    case DataType::labels:
        return "JSON.Labels";
    case DataType::partition:
        return "FS";
    case DataType::signature:
        return "Signature";
    case DataType::generic_json:
        return "JSON.Generic";
    case DataType::generic:
        return "Generic/Raw";
    case DataType::crypto_message:
        return "Cryptographic Message";
    case DataType::sbom:
        return "SBOM";
    case DataType::oci_root_index:
        return "OCI.RootIndex";
    case DataType::oci_blob:
        return "OCI.Blob";
    }
    return "Unknown";
}

std::string fs_name(std::int32_t fs) {
    switch (static_cast<FsType>(fs)) {
    case FsType::squashfs:
        return "Squashfs";
    case FsType::ext3:
        return "Ext3";
    case FsType::archive:
        return "Archive";
    case FsType::raw:
        return "Raw";
    case FsType::encrypted:
        return "Encrypted squashfs";
    }
    return "Unknown (" + std::to_string(fs) + ")";
}

std::string part_name(std::int32_t part) {
    switch (static_cast<PartType>(part)) {
    case PartType::system:
        return "System";
    case PartType::primary:
        return "*System";
    case PartType::data:
        return "Data";
    case PartType::overlay:
        return "Overlay";
    }
    return "Unknown (" + std::to_string(part) + ")";
}

bool looks_like_sif(std::string_view head) {
    return head.size() >= kMagicAt + kSifMagic.size() &&
           head.substr(kMagicAt, kSifMagic.size()) == kSifMagic;
}

std::string arch_name(std::string_view code) {
    static const char* names[] = {"unknown",  "386",     "amd64",   "arm",    "arm64",
                                  "ppc64",    "ppc64le", "mips",    "mipsle", "mips64",
                                  "mips64le", "s390x",   "riscv64", "loong64"};
    if (code.size() != 3 || code[2] != '\0' || code[0] < '0' || code[0] > '9' || code[1] < '0' ||
        code[1] > '9')
        return "unknown";
    int n = (code[0] - '0') * 10 + (code[1] - '0');
    return n < static_cast<int>(std::size(names)) ? names[n] : "unknown";
}

Container parse(const ReadAt& read, std::uint64_t file, const std::string& what) {
    if (file < kHeaderSize)
        sif_refuse(what, "it is " + std::to_string(file) + " bytes, shorter than the " +
                             std::to_string(kHeaderSize) + "-byte SIF header (truncated?)");
    std::string head(kHeaderSize, '\0');
    read(0, head.data(), head.size());
    if (!looks_like_sif(head)) sif_refuse(what, "no SIF magic at byte 32");
    if (std::string_view(head).substr(kVersionAt, 3) != std::string_view("01\0", 3))
        sif_refuse(what, "SIF version \"" + sif_text(head, kVersionAt, 3) +
                             "\"; gantry reads version 01 (Singularity 3 and later, Apptainer)");
    Container c;
    c.arch = arch_name(std::string_view(head).substr(kArchAt, 3));
    c.id = sif_uuid_text(std::string_view(head).substr(kIdAt, 16));
    c.created = sif_i64(head, kNumbersAt), c.modified = sif_i64(head, kNumbersAt + 8);
    c.descriptors_free = sif_i64(head, kNumbersAt + 16);
    c.descriptors_total = sif_i64(head, kNumbersAt + 24);
    std::int64_t table_at = sif_i64(head, kNumbersAt + 32), table = sif_i64(head, kNumbersAt + 40);
    std::int64_t total = c.descriptors_total;
    if (total < 0 || total > kMaxDescriptors)
        sif_refuse(what, "its header counts " + std::to_string(total) + " descriptors (at most " +
                             std::to_string(kMaxDescriptors) + ")");
    if (c.descriptors_free < 0 || c.descriptors_free > total)
        sif_refuse(what, "its header counts " + std::to_string(c.descriptors_free) +
                             " free descriptors of " + std::to_string(total));
    auto want = static_cast<std::uint64_t>(total) * kDescriptorSize;
    if (table < 0 || static_cast<std::uint64_t>(table) != want)
        sif_refuse(what, "its descriptor table is " + std::to_string(table) + " bytes, not " +
                             std::to_string(total) + " x " + std::to_string(kDescriptorSize));
    if (table_at < static_cast<std::int64_t>(kHeaderSize) ||
        static_cast<std::uint64_t>(table_at) > file || want > file - std::uint64_t(table_at))
        sif_refuse(what, "its descriptor table (offset " + std::to_string(table_at) + ", " +
                             std::to_string(table) + " bytes) lies outside the file (" +
                             std::to_string(file) + " bytes: truncated?)");
    std::string bytes(want, '\0');
    if (want) read(static_cast<std::uint64_t>(table_at), bytes.data(), bytes.size());
    for (std::int64_t i = 0; i < total; ++i) {
        auto d = std::string_view(bytes).substr(static_cast<std::size_t>(i) * kDescriptorSize,
                                                kDescriptorSize);
        if (auto o = sif_descriptor(d, static_cast<std::size_t>(i), file, what)) {
            o->descriptor_at = std::uint64_t(table_at) + std::uint64_t(i) * kDescriptorSize;
            c.objects.push_back(std::move(*o));
        }
    }
    // no object over the header, the table or another object
    struct Span {
        std::uint64_t at, end;
        std::string name;
    };
    std::vector<Span> spans{
        {0, kHeaderSize, "the header"},
        {std::uint64_t(table_at), std::uint64_t(table_at) + want, "the descriptor table"}};
    for (auto& o : c.objects)
        if (o.size)
            spans.push_back({o.offset, o.offset + o.size, "object " + std::to_string(o.id)});
    std::sort(spans.begin(), spans.end(), [](auto& a, auto& b) { return a.at < b.at; });
    std::size_t last = 0; // the span reaching furthest so far
    for (std::size_t i = 1; i < spans.size(); ++i) {
        if (spans[i].at < spans[last].end)
            sif_refuse(what, spans[i].name + " overlaps " + spans[last].name);
        if (spans[i].end > spans[last].end) last = i;
    }
    return c;
}

Container parse(std::string_view bytes, const std::string& what) {
    return parse(
        [bytes](std::uint64_t offset, char* buf, std::size_t size) {
            std::memcpy(buf, bytes.data() + offset, size); // parse() bounds every read
        },
        bytes.size(), what);
}

ReadAt pread_reader(int fd, const std::string& what) {
    return [fd, what](std::uint64_t offset, char* buf, std::size_t size) {
        while (size > 0) {
            ssize_t n = ::pread(fd, buf, size, static_cast<off_t>(offset));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("cannot read " + what);
            if (n == 0) sif_refuse(what, "it ends early (truncated while being read?)");
            buf += n, size -= static_cast<std::size_t>(n);
            offset += static_cast<std::uint64_t>(n);
        }
    };
}

Container read(int fd, const std::string& what) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno("cannot stat " + what);
    return parse(pread_reader(fd, what), static_cast<std::uint64_t>(st.st_size), what);
}

void refuse_overlay(const Container& c, const std::string& what) {
    for (auto& o : c.objects)
        if (o.type == static_cast<std::int32_t>(DataType::partition) &&
            o.part == static_cast<std::int32_t>(PartType::overlay))
            throw Error(Errc::unsupported,
                        what + " holds an overlay partition (object " + std::to_string(o.id) +
                            ", " + fs_name(o.fs) +
                            "), which Apptainer writes into; gantry mounts SIF images read-only",
                        "drop it (`siftool del " + std::to_string(o.id) + " " + what +
                            "` on a copy), or run the image with Apptainer");
}

const Object& system_partition(const Container& c, const std::string& host,
                               const std::string& what) {
    auto is = [](const Object& o, PartType p) {
        return o.type == static_cast<std::int32_t>(DataType::partition) &&
               o.part == static_cast<std::int32_t>(p);
    };
    refuse_overlay(c, what);
    const Object* pick = nullptr;
    std::vector<std::string> archs;
    for (auto& o : c.objects)
        if (is(o, PartType::primary)) {
            archs.push_back(o.arch);
            if (o.arch == host || o.arch == "unknown") pick = &o;
        }
    if (!pick)
        for (auto& o : c.objects)
            if (is(o, PartType::system)) {
                archs.push_back(o.arch);
                if (o.arch == host && !pick) pick = &o;
            }
    if (!pick && archs.empty()) {
        bool oci = std::any_of(c.objects.begin(), c.objects.end(), [](const Object& o) {
            return o.type == static_cast<std::int32_t>(DataType::oci_root_index);
        });
        if (oci)
            throw Error(Errc::unsupported,
                        what + " is an OCI-SIF (an OCI image in SIF objects, as SingularityCE 4 "
                               "writes); gantry runs SIF files with a squashfs system partition",
                        "export it to an OCI layout and `gantry load` that, or rebuild it as a "
                        "classic SIF (`singularity build --oci=false`)");
        sif_refuse(what, "it has no system partition (no FS object of type *System or System)");
    }
    if (!pick) {
        std::string list;
        for (auto& a : archs) list += (list.empty() ? "" : ", ") + a;
        throw Error(Errc::unsupported,
                    what + " holds system partitions for " + list + " only; this host is " + host,
                    "use a SIF built for " + host);
    }
    if (pick->fs != static_cast<std::int32_t>(FsType::squashfs)) {
        std::string hint =
            pick->fs == static_cast<std::int32_t>(FsType::encrypted)
                ? "decrypt it with Apptainer (`apptainer build --pem-path`), or "
                  "build an unencrypted SIF"
                : "rebuild it as a squashfs SIF (`apptainer build NEW.sif " + what + "`)";
        throw Error(Errc::unsupported,
                    what + "'s system partition (object " + std::to_string(pick->id) + ") is " +
                        fs_name(pick->fs) + ", not squashfs: gantry runs squashfs partitions only",
                    hint);
    }
    return *pick;
}

const Object* labels_object(const Container& c) {
    for (auto& o : c.objects)
        if (o.type == static_cast<std::int32_t>(DataType::labels)) return &o;
    return nullptr;
}

} // namespace gantry::sif
