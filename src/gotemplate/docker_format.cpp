#include "gotemplate/docker_format.hpp"

#include "util/error.hpp"

#include <cctype>

namespace gantry::gotemplate {

namespace {

// docker's replacer: the two characters \t and \n become a tab and a newline.
std::string docker_unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 't' || s[i + 1] == 'n')) {
            out += s[i + 1] == 't' ? '\t' : '\n';
            ++i;
        } else
            out += s[i];
    }
    return out;
}

std::size_t cell_width(std::string_view s) {
    std::size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
    return n;
}

struct TabWriter {
    std::vector<std::vector<std::string>> lines; // cells; the last one is not tab-terminated
    std::vector<std::size_t> widths;
    std::size_t minwidth, padding, max_output;
    std::string out;

    void append(std::string_view s, std::size_t pad) {
        if (out.size() + s.size() + pad > max_output)
            throw Error(Errc::usage,
                        "the aligned table is over " + std::to_string(max_output) + " bytes");
        out += s;
        out.append(pad, ' ');
    }

    void write_lines(std::size_t line0, std::size_t line1) {
        for (std::size_t i = line0; i < line1; ++i) {
            const auto& line = lines[i];
            for (std::size_t j = 0; j < line.size(); ++j) {
                auto w = cell_width(line[j]);
                append(line[j], j < widths.size() && w < widths[j] ? widths[j] - w : 0);
            }
            if (i + 1 < lines.size()) append("\n", 0);
        }
    }

    // Go's tabwriter.Writer.format: a column block is the run of lines that have a cell in it
    void format(std::size_t line0, std::size_t line1) {
        std::size_t column = widths.size();
        for (std::size_t cur = line0; cur < line1; ++cur) {
            if (column + 1 >= lines[cur].size()) continue;
            write_lines(line0, cur);
            line0 = cur;
            std::size_t width = minwidth;
            for (; cur < line1; ++cur) {
                const auto& line = lines[cur];
                if (column + 1 >= line.size()) break;
                width = std::max(width, cell_width(line[column]) + padding);
            }
            widths.push_back(width);
            format(line0, cur);
            widths.pop_back();
            line0 = cur;
        }
        write_lines(line0, line1);
    }
};

} // namespace

std::string tabwrite(std::string_view text, std::size_t max_output, std::size_t minwidth,
                     std::size_t padding) {
    TabWriter w;
    w.max_output = max_output;
    w.minwidth = minwidth;
    w.padding = padding;
    w.lines.emplace_back(1);
    for (char c : text) {
        if (c == '\t')
            w.lines.back().emplace_back();
        else if (c == '\n')
            w.lines.emplace_back(1);
        else
            w.lines.back().back() += c;
    }
    w.format(0, w.lines.size());
    return w.out;
}

Format Format::parse(std::string_view format, const Listing& listing, Limits limits) {
    Format f;
    f.listing_ = &listing;
    f.limits_ = limits;
    std::string text;
    std::string_view trimmed = format;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())))
        trimmed.remove_prefix(1);
    if (trimmed == "json") {
        text = "{{json .}}";
    } else if (!listing.headers.is_null() && trimmed.starts_with("table") &&
               (trimmed.size() == 5 || std::isspace(static_cast<unsigned char>(trimmed[5])))) {
        f.table_ = true;
        auto rest = trimmed.substr(5);
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
        text = docker_unescape(rest.empty() ? std::string_view(listing.default_table) : rest);
    } else {
        text = docker_unescape(format);
    }
    try {
        f.tmpl_ = Template::parse(text, limits);
    } catch (const Error& e) {
        throw Error(Errc::usage, "--format: " + e.message(),
                    "docker's Go template syntax: --format '{{.ID}}', '{{json .}}', "
                    "'table {{.ID}}\\t{{.Names}}'");
    }
    return f;
}

std::string Format::render(const std::vector<json>& rows) const {
    std::string body;
    try {
        for (auto& r : rows) {
            body += tmpl_.execute(r, listing_->data) + "\n";
            if (body.size() > limits_.max_output)
                throw Error(Errc::usage, "template output over " +
                                             std::to_string(limits_.max_output) + " bytes");
        }
        if (!table_) return body;
        // the header: the template run over the headers, docker's functions passing them on
        json headers = listing_->headers;
        if (!rows.empty())
            for (auto it = rows[0].begin(); rows[0].is_object() && it != rows[0].end(); ++it)
                if (!headers.contains(it.key())) {
                    std::string h;
                    for (char c : it.key())
                        h += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                    headers[it.key()] = h;
                }
        for (auto& [m, fn] : listing_->data.methods)
            if (!headers.contains(m)) headers[m] = m;
        std::string head = tmpl_.execute(headers, listing_->data, true);
        return tabwrite(head + "\n" + body, limits_.max_output);
    } catch (const Error& e) {
        throw Error(Errc::usage, "--format: " + e.message(),
                    "`--format '{{json .}}'` prints every field a row has");
    }
}

} // namespace gantry::gotemplate
