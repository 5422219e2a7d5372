// fuzz/fuzz_support: what the libFuzzer harnesses (fuzz_<target>.cpp) share. A harness feeds the
// fuzzer's bytes to one parser of untrusted input; gantry::Error is the parser's expected way to
// refuse input and is swallowed by expect_error(); anything else (another exception, a sanitizer
// report, a failed FUZZ_CHECK) is a finding and aborts, so libFuzzer saves the input.
// Harnesses that need files work under a scratch directory in /dev/shm (tmpfs: no disk I/O),
// one per process, removed at exit.
// Every harness is a GANTRY_FUZZ_TARGET(name) in one executable, gantry_fuzz (compiled as
// unity batches: a third of the compile time of one executable per harness); gantry_fuzz_main.cpp
// runs the target its name says (build-san/fuzz/fuzz_NAME is a link to it) or GANTRY_FUZZ_TARGET
// names. A harness keeps its helpers in an anonymous namespace or static, named for itself.
#pragma once

#include "layer/stream.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <unistd.h>

namespace gantry::fuzz {

using TargetFn = int (*)(const std::uint8_t* data, std::size_t size);
// Registers a harness (GANTRY_FUZZ_TARGET) or what it needs done once before its first input
// (GANTRY_FUZZ_INIT); true, for a static's initialiser.
bool add_target(const char* name, TargetFn fn);
bool add_init(const char* name, void (*init)());

// Defines harness NAME: GANTRY_FUZZ_TARGET(dockerfile) { ... data, size ... return 0; }
#define GANTRY_FUZZ_TARGET(NAME)                                                                   \
    static int gantry_fuzz_##NAME(const std::uint8_t* data, std::size_t size);                     \
    [[maybe_unused]] static const bool gantry_fuzz_added_##NAME =                                  \
        ::gantry::fuzz::add_target(#NAME, gantry_fuzz_##NAME);                                     \
    static int gantry_fuzz_##NAME(const std::uint8_t* data, std::size_t size)

// Code run once before NAME's first input (libFuzzer's LLVMFuzzerInitialize, for that target).
#define GANTRY_FUZZ_INIT(NAME)                                                                     \
    static void gantry_fuzz_init_##NAME();                                                         \
    [[maybe_unused]] static const bool gantry_fuzz_init_added_##NAME =                             \
        ::gantry::fuzz::add_init(#NAME, gantry_fuzz_init_##NAME);                                  \
    static void gantry_fuzz_init_##NAME()

// Aborts (a finding) with the condition's text when cond is false.
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);    \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

inline std::string_view bytes(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Runs fn; a gantry::Error (the parser refusing the input) is fine and its message must name
// something. Returns true when fn completed without one.
template <typename Fn>
bool expect_error(Fn&& fn) {
    try {
        fn();
        return true;
    } catch (const gantry::Error& e) {
        FUZZ_CHECK(!e.message().empty());
        return false;
    }
}

// Splits the input at the first occurrence of sep: the part before it, and the rest (empty when
// sep is absent). Lets one input carry two values (e.g. an expression and a fact).
inline std::pair<std::string_view, std::string_view> split_once(std::string_view in,
                                                                std::string_view sep) {
    auto at = in.find(sep);
    if (at == std::string_view::npos) return {in, {}};
    return {in.substr(0, at), in.substr(at + sep.size())};
}

// A layer::Reader over bytes in memory, served in chunks of at most `chunk` bytes (odd sizes
// exercise the readers' buffer boundaries).
class MemReader final : public layer::Reader {
  public:
    explicit MemReader(std::string_view data, std::size_t chunk = 4093)
        : data_(data), chunk_(chunk) {}
    std::size_t read(void* buf, std::size_t n) override {
        n = std::min({n, chunk_, data_.size() - pos_});
        std::memcpy(buf, data_.data() + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    std::string_view data_;
    std::size_t chunk_;
    std::size_t pos_ = 0;
};

// A per-process directory under /dev/shm, removed at exit.
class Scratch {
  public:
    static const std::filesystem::path& dir() {
        static Scratch s;
        return s.path_;
    }
    ~Scratch() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }

  private:
    Scratch() {
        path_ = std::filesystem::path("/dev/shm") / ("gantry-fuzz-" + std::to_string(::getpid()));
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
        std::filesystem::create_directories(path_);
    }
    std::filesystem::path path_;
};

// Writes data to a file in the scratch directory (replacing it) and returns its path.
inline std::string write_scratch_file(const std::string& name, std::string_view data) {
    std::string path = (Scratch::dir() / name).string();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    FUZZ_CHECK(f != nullptr);
    FUZZ_CHECK(std::fwrite(data.data(), 1, data.size(), f) == data.size());
    FUZZ_CHECK(std::fclose(f) == 0);
    return path;
}

} // namespace gantry::fuzz
