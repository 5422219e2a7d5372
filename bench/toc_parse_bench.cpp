// toc-parse-bench: the CPU of lazy::Toc::parse on a generated table of contents like the 5g
// benchmark image's small-files layer (bench/image_profiles.py's "pytree": packages of .py
// modules, __pycache__/*.pyc, data.json; ~57,000 entries), as gantry's eStargz writer writes it
// (nlohmann's dump: keys sorted, userName/groupName, a digest and a chunkDigest per file, a
// "chunk" entry per further 4 MiB of a large file) or zstd:chunked's (endOffset, no owner names).
//
//   toc-parse-bench [--entries N] [--format estargz|zstd] [--rounds R] [--write FILE]
//
// Prints the JSON's size and entries, then per round the parse's CPU time (CLOCK_THREAD_CPUTIME)
// and their median, min and max. The same source builds against any commit with Toc::parse
// (bench/toc_parse.py builds it for two and alternates them); for instruction counts run it
// under `valgrind --tool=callgrind --toggle-collect='*Toc::parse*' ... --rounds 1`.
#include "lazy/toc.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

std::string hex_digest(std::mt19937_64& rnd) {
    static const char* hex = "0123456789abcdef";
    std::string d = "sha256:";
    for (int i = 0; i < 64; ++i) d += hex[rnd() & 15];
    return d;
}

std::string make_toc(std::size_t max_entries, bool zstd, std::uint64_t& toc_offset) {
    std::mt19937_64 rnd(40);
    std::lognormal_distribution<double> sizes(8.5, 1.2);
    json entries = json::array();
    std::uint64_t offset = 512;
    auto dir = [&](const std::string& name) {
        json e = {{"name", name}, {"type", "dir"}, {"mode", 0755},
                  {"uid", 0},     {"gid", 0},      {"modtime", "2024-05-01T12:00:00Z"}};
        if (!zstd) e["userName"] = "root", e["groupName"] = "root";
        entries.push_back(std::move(e));
    };
    auto file = [&](const std::string& name, std::uint64_t size) {
        json e = {{"name", name}, {"type", "reg"}, {"mode", 0644},
                  {"uid", 0},     {"gid", 0},      {"modtime", "2024-05-01T12:00:00Z"},
                  {"size", size}};
        if (!zstd) e["userName"] = "root", e["groupName"] = "root";
        e["digest"] = hex_digest(rnd);
        const std::uint64_t chunk = 4u << 20;
        std::uint64_t done = 0;
        std::vector<json> parts;
        while (done < size) {
            std::uint64_t len = std::min(chunk, size - done);
            json c = done == 0 ? e : json{{"name", name}, {"type", "chunk"}};
            c["offset"] = offset;
            if (done > 0) c["chunkOffset"] = done;
            if (len < size) c["chunkSize"] = len;
            c["chunkDigest"] = hex_digest(rnd);
            offset += len / 3 + 64; // compressed
            parts.push_back(std::move(c));
            done += len;
        }
        if (size == 0) parts.push_back(std::move(e));
        if (zstd && size > 0) parts[0]["endOffset"] = offset - 16;
        for (auto& p : parts) entries.push_back(std::move(p));
    };
    const std::string base = "usr/lib/python3/site-packages";
    for (const char* d : {"usr", "usr/lib", "usr/lib/python3", "usr/lib/python3/site-packages"})
        dir(d);
    for (int pkg = 0; entries.size() < max_entries; ++pkg) {
        char top[64];
        std::snprintf(top, sizeof top, "%s/pkg%04d", base.c_str(), pkg);
        int subs = 1 + static_cast<int>(rnd() % 6);
        for (int sub = 0; sub < subs && entries.size() < max_entries; ++sub) {
            std::string d = sub == 0 ? top : std::string(top) + "/sub" + std::to_string(sub);
            dir(d);
            dir(d + "/__pycache__");
            int mods = 3 + static_cast<int>(rnd() % 14);
            for (int m = 0; m < mods && entries.size() < max_entries; ++m) {
                char name[32];
                std::snprintf(name, sizeof name, m == 0 ? "__init__" : "mod%02d", m);
                auto size = std::min<std::uint64_t>(static_cast<std::uint64_t>(sizes(rnd)), 400000);
                if (m == 1 && pkg % 97 == 0) size = 9u << 20; // a few large files: chunks
                file(d + "/" + name + ".py", size);
                if (m % 2 == 0)
                    file(d + "/__pycache__/" + name + ".cpython-311.pyc", size / 2 + 100);
            }
            if (sub == 0 && rnd() % 10 < 3) file(d + "/data.json", 100 + rnd() % 20000);
        }
    }
    toc_offset = offset + 1024;
    return json{{"version", 1}, {"entries", std::move(entries)}}.dump();
}

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

} // namespace

int main(int argc, char** argv) {
    std::size_t entries = 57000;
    int rounds = 10;
    bool zstd = false;
    const char* write = nullptr;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--entries"))
            entries = std::stoul(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--rounds"))
            rounds = std::stoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--format"))
            zstd = !std::strcmp(argv[i + 1], "zstd");
        else if (!std::strcmp(argv[i], "--write"))
            write = argv[i + 1];
        else
            return std::fprintf(stderr, "toc-parse-bench: unknown option %s\n", argv[i]), 2;
    }
    std::uint64_t toc_offset = 0;
    std::string text = make_toc(entries, zstd, toc_offset);
    if (write) std::ofstream(write, std::ios::binary) << text;
    const auto format =
        zstd ? gantry::lazy::TocFormat::zstd_chunked : gantry::lazy::TocFormat::estargz;
    std::vector<double> ms;
    std::size_t nodes = 0;
    for (int r = 0; r < rounds; ++r) {
        double t0 = cpu_seconds();
        {
            auto toc = gantry::lazy::Toc::parse(text, toc_offset, "bench", format);
            nodes = toc.nodes.size();
        } // the tree's destruction counted too, as a start pays it
        ms.push_back((cpu_seconds() - t0) * 1e3);
    }
    std::printf("toc: %zu bytes, %zu entries, %zu nodes (%s)\n", text.size(), entries, nodes,
                zstd ? "zstd:chunked" : "eStargz");
    if (ms.empty()) return 0;
    for (double m : ms) std::printf("parse cpu ms: %.2f\n", m);
    std::sort(ms.begin(), ms.end());
    std::printf("median %.2f ms, min %.2f, max %.2f (%d rounds)\n", ms[ms.size() / 2], ms.front(),
                ms.back(), rounds);
    return 0;
}
