#include "image_build/options.hpp"

#include "dockerfile/words.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace gantry::image_build {

void add_build_arg(std::map<std::string, std::string>& args, std::string_view value,
                   const std::map<std::string, std::string>& environment) {
    auto eq = value.find('=');
    std::string name(value.substr(0, eq));
    if (!dockerfile::is_var_name(name))
        throw Error(Errc::usage, "--build-arg " + std::string(value) + ": invalid name",
                    "use --build-arg NAME=VALUE (or NAME to take it from the environment)");
    if (eq != std::string_view::npos) {
        args[name] = std::string(value.substr(eq + 1));
    } else if (auto it = environment.find(name); it != environment.end()) {
        args[name] = it->second;
    }
}

Secret parse_secret(std::string_view value) {
    Secret s;
    std::string_view rest = value;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view kv = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        auto eq = kv.find('=');
        std::string_view k = kv.substr(0, eq);
        std::string v(eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1));
        if (eq == std::string_view::npos || v.empty())
            throw Error(Errc::usage,
                        "--secret " + std::string(value) + ": '" + std::string(kv) +
                            "' is not KEY=VALUE",
                        "use --secret id=ID,src=PATH or --secret id=ID,env=NAME");
        if (k == "id")
            s.id = v;
        else if (k == "src" || k == "source")
            s.src = v;
        else if (k == "env")
            s.env = v;
        else if (k != "type")
            throw Error(Errc::usage,
                        "--secret " + std::string(value) + ": unknown key '" + std::string(k) + "'",
                        "use --secret id=ID,src=PATH or --secret id=ID,env=NAME");
    }
    if (s.src.empty() && s.env.empty())
        throw Error(Errc::usage, "--secret " + std::string(value) + ": no src= or env=",
                    "use --secret id=ID,src=PATH or --secret id=ID,env=NAME");
    if (s.id.empty())
        s.id = s.src.empty() ? s.env : std::filesystem::path(s.src).filename().string();
    return s;
}

std::pair<std::string, std::string> parse_label(std::string_view value) {
    auto eq = value.find('=');
    if (eq == 0 || eq == std::string_view::npos)
        throw Error(Errc::usage, "--label " + std::string(value) + ": expected KEY=VALUE");
    return {std::string(value.substr(0, eq)), std::string(value.substr(eq + 1))};
}

std::string check_choice(std::string_view flag, std::string_view value,
                         std::initializer_list<std::string_view> allowed) {
    std::string list;
    for (auto a : allowed) {
        if (a == value) return std::string(value);
        list += (list.empty() ? "" : ", ") + std::string(a);
    }
    throw Error(Errc::usage,
                std::string(flag) + " " + std::string(value) + ": expected one of " + list);
}

void require_utf8(std::string_view text, const std::string& file,
                  const std::map<std::string, std::string>& build_args,
                  const std::map<std::string, std::string>& labels) {
    if (auto bad = text::first_non_utf8(text)) {
        std::size_t line_start = text.rfind('\n', *bad);
        line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
        std::size_t line =
            1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + line_start, '\n'));
        char byte[8];
        std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[*bad]));
        throw Error(Errc::invalid,
                    file + ":" + std::to_string(line) + ":" +
                        std::to_string(*bad - line_start + 1) + ": the byte " + byte +
                        " is not UTF-8; an image's config and history are JSON, which holds "
                        "UTF-8 only",
                    "save the file as UTF-8 (iconv -f latin1 -t utf-8 " + file + ")");
    }
    auto check = [](const std::map<std::string, std::string>& values, const char* flag) {
        for (const auto& [k, v] : values)
            if (text::first_non_utf8(k) || text::first_non_utf8(v))
                throw Error(
                    Errc::invalid,
                    std::string(flag) + " " + safe_json::lossy_utf8(k) +
                        ": its name or value holds bytes that are not UTF-8; an image's config "
                        "and history are JSON, which holds UTF-8 only",
                    "give it as UTF-8");
    };
    check(build_args, "--build-arg");
    check(labels, "--label");
}

} // namespace gantry::image_build
