#include "engine/labels.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <sys/stat.h>

namespace gantry::engine {

namespace {

constexpr std::size_t kMaxLabelFile = 1 << 20;
constexpr std::size_t kMaxLabelBytes = 64 << 10;

void add_label_word(std::map<std::string, std::string>& out, const std::string& word,
                    const std::string& where) {
    auto eq = word.find('=');
    std::string key = word.substr(0, eq);
    if (key.empty() || key.find_first_of(" \t") != std::string::npos)
        throw Error(
            Errc::usage, where + ": label \"" + word + "\" has no key",
            "write KEY=VALUE (or KEY alone for an empty value), e.g. -l com.example.tier=web");
    out[key] = eq == std::string::npos ? "" : word.substr(eq + 1);
}

} // namespace

std::map<std::string, std::string> container_labels(const nlohmann::json& image_labels,
                                                    const std::vector<std::string>& labels,
                                                    const std::vector<std::string>& files) {
    std::map<std::string, std::string> out;
    if (image_labels.is_object())
        for (auto it = image_labels.begin(); it != image_labels.end(); ++it)
            if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
    for (auto& f : files) {
        struct stat st {};
        if (::stat(f.c_str(), &st) != 0)
            throw Error(Errc::not_found, "--label-file " + f + ": no such file",
                        "name a file of KEY=VALUE lines");
        if (!S_ISREG(st.st_mode) || static_cast<std::size_t>(st.st_size) > kMaxLabelFile)
            throw Error(Errc::usage, "--label-file " + f + ": not a regular file of at most 1 MiB",
                        "name a file of KEY=VALUE lines");
        std::string text = fs::read_file(f);
        std::size_t n = 0;
        for (std::size_t p = 0; p < text.size();) {
            auto q = std::min(text.find('\n', p), text.size());
            std::string line = text.substr(p, q - p);
            p = q + 1;
            ++n;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            auto first = line.find_first_not_of(" \t");
            if (first == std::string::npos || line[first] == '#') continue;
            add_label_word(out, line.substr(first), "--label-file " + f + ":" + std::to_string(n));
        }
    }
    for (auto& l : labels) add_label_word(out, l, "--label");
    std::size_t bytes = 0;
    for (auto& [k, v] : out) bytes += k.size() + v.size();
    if (bytes > kMaxLabelBytes)
        throw Error(Errc::usage,
                    "the container's labels hold " + std::to_string(bytes) +
                        " bytes: the limit is 65536",
                    "keep labels short; put data in a file bind-mounted into the container");
    return out;
}

} // namespace gantry::engine
