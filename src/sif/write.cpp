#include "sif/write.hpp"

#include "sif/container.hpp"
#include "util/error.hpp"

#include <cstring>

namespace gantry::sif {

namespace {

void sif_put(std::string& b, std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
        b[at + static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
}

} // namespace

std::string arch_code(const std::string& arch) {
    for (int n = 1; n < 100; ++n) {
        std::string code{static_cast<char>('0' + n / 10), static_cast<char>('0' + n % 10), '\0'};
        std::string name = arch_name(code);
        if (name == "unknown") break;
        if (name == arch) return code;
    }
    return std::string("00\0", 3);
}

std::string layout(std::uint64_t partition_size, const std::string& arch, std::string_view id,
                   std::int64_t now) {
    if (id.size() != 16) throw Error(Errc::internal, "a SIF id is 16 bytes");
    constexpr std::uint64_t table_at = 4096;
    constexpr std::uint64_t table = kWriteCapacity * kDescriptorSize;
    constexpr std::uint64_t data_at = table_at + table; // the data section starts after it
    std::string b(kPartitionOffset, '\0');
    const char launch[] = "#!/usr/bin/env run-singularity\n";
    std::memcpy(b.data(), launch, sizeof launch - 1);
    std::memcpy(b.data() + 32, "SIF_MAGIC", 10);
    std::memcpy(b.data() + 42, "01", 3);
    std::string code = arch_code(arch);
    std::memcpy(b.data() + 45, code.data(), 3);
    std::memcpy(b.data() + 48, id.data(), 16);
    auto t = static_cast<std::uint64_t>(now);
    sif_put(b, 64, t, 8);
    sif_put(b, 72, t, 8);
    sif_put(b, 80, kWriteCapacity - 1, 8); // free descriptors
    sif_put(b, 88, kWriteCapacity, 8);
    sif_put(b, 96, table_at, 8);
    sif_put(b, 104, table, 8);
    sif_put(b, 112, data_at, 8);
    sif_put(b, 120, kPartitionOffset + partition_size - data_at, 8);
    // descriptor 1: the primary system partition, squashfs, in the primary group
    std::size_t d = table_at;
    sif_put(b, d, static_cast<std::uint32_t>(DataType::partition), 4);
    b[d + 4] = 1;                      // used
    sif_put(b, d + 5, 1, 4);           // id
    sif_put(b, d + 9, 0xf0000001u, 4); // group 1
    sif_put(b, d + 17, kPartitionOffset, 8);
    sif_put(b, d + 25, partition_size, 8);
    sif_put(b, d + 33, kPartitionOffset - data_at + partition_size, 8); // with the alignment
    sif_put(b, d + 41, t, 8);
    sif_put(b, d + 49, t, 8);
    std::memcpy(b.data() + d + 73, "rootfs.squashfs", 15);
    sif_put(b, d + 201, static_cast<std::uint32_t>(FsType::squashfs), 4);
    sif_put(b, d + 205, static_cast<std::uint32_t>(PartType::primary), 4);
    std::memcpy(b.data() + d + 209, code.data(), 3);
    return b;
}

} // namespace gantry::sif
