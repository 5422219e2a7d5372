#include "records/events.hpp"

#include "util/error.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <string_view>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace gantry::records {

using nlohmann::json;

namespace {

constexpr const char* kJournal = "events.jsonl";
constexpr const char* kRotated = "events.jsonl.1";

bool same_file(const struct stat& a, dev_t dev, ino_t ino) {
    return a.st_ino == ino && a.st_dev == dev;
}

// S as a JSON string, escaped by nlohmann's serializer as dump() does (invalid UTF-8 replaced)
void put_json_string(std::string& out, std::string_view s) {
    out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

std::int64_t realtime_nanos() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t process_started_nanos() {
    return process_started_nanos(::getpid());
}

std::int64_t process_started_nanos(pid_t pid) {
    std::int64_t now = realtime_nanos();
    unsigned long long ticks = process_start_time(pid);
    long hz = ::sysconf(_SC_CLK_TCK);
    timespec boot{};
    if (ticks == 0 || hz <= 0 || ::clock_gettime(CLOCK_BOOTTIME, &boot) != 0) return now;
    std::int64_t since_boot = std::int64_t(boot.tv_sec) * 1'000'000'000 + boot.tv_nsec;
    std::int64_t tick = 1'000'000'000 / hz;
    std::int64_t age = since_boot - std::int64_t(ticks) * tick;
    if (age < 0 || age > since_boot) return now;
    return now - age - tick;
}

json event_message(const ContainerEvent& e) {
    json attributes = json::object();
    for (const auto& [k, v] : e.attributes) attributes[k] = v;
    if (e.type != "container") { // docker's status, id and from are its containers' only
        attributes["name"] = e.name;
        return {{"Type", e.type},
                {"Action", e.action},
                {"Actor", {{"ID", e.id}, {"Attributes", std::move(attributes)}}},
                {"scope", "local"},
                {"time", e.time_nano / 1'000'000'000},
                {"timeNano", e.time_nano}};
    }
    attributes["image"] = e.image;
    attributes["name"] = e.name;
    return {
        {"status", e.action},     {"id", e.id},
        {"from", e.image},        {"Type", "container"},
        {"Action", e.action},     {"Actor", {{"ID", e.id}, {"Attributes", std::move(attributes)}}},
        {"scope", "local"},       {"time", e.time_nano / 1'000'000'000},
        {"timeNano", e.time_nano}};
}

std::string event_line(const ContainerEvent& e) {
    if (e.type != "container")
        return event_message(e).dump(-1, ' ', false, json::error_handler_t::replace);
    // event_message's object as dump() writes it: keys in std::map's order (bytewise), no
    // spaces; image and name take the place of labels of those names
    std::vector<std::pair<std::string_view, std::string_view>> attributes;
    attributes.reserve(e.attributes.size() + 2);
    for (const auto& [k, v] : e.attributes)
        if (k != "image" && k != "name") attributes.emplace_back(k, v);
    attributes.emplace_back("image", e.image);
    attributes.emplace_back("name", e.name);
    std::sort(attributes.begin(), attributes.end());
    std::string out;
    out.reserve(320);
    out += "{\"Action\":";
    put_json_string(out, e.action);
    out += ",\"Actor\":{\"Attributes\":{";
    for (std::size_t i = 0; i < attributes.size(); ++i) {
        if (i) out += ',';
        put_json_string(out, attributes[i].first);
        out += ':';
        put_json_string(out, attributes[i].second);
    }
    out += "},\"ID\":";
    put_json_string(out, e.id);
    out += "},\"Type\":\"container\",\"from\":";
    put_json_string(out, e.image);
    out += ",\"id\":";
    put_json_string(out, e.id);
    out += ",\"scope\":\"local\",\"status\":";
    put_json_string(out, e.action);
    out += ",\"time\":" + std::to_string(e.time_nano / 1'000'000'000);
    out += ",\"timeNano\":" + std::to_string(e.time_nano) + "}";
    return out;
}

ContainerEvent network_event(const std::string& action, const std::string& id,
                             const std::string& name, const std::string& container) {
    ContainerEvent e{action, id, name, "", {{"type", "bridge"}}, 0, "network"};
    if (!container.empty()) e.attributes["container"] = container;
    return e;
}

ContainerEvent container_event(const ContainerState& s, const std::string& action,
                               std::map<std::string, std::string> extra) {
    ContainerEvent e{action, s.id, s.name, s.image, s.labels, 0};
    for (auto& [k, v] : extra) e.attributes[k] = std::move(v);
    return e;
}

EventJournal::EventJournal() = default;

EventJournal::EventJournal(std::filesystem::path dir)
    : dir_(std::move(dir)), file_(dir_ / kJournal) {}

void EventJournal::append(ContainerEvent e) noexcept {
    append_all(std::span<ContainerEvent>(&e, 1));
}

void EventJournal::append_all(std::span<ContainerEvent> events) noexcept {
    if (failed_ || events.empty()) return; // said once
    try {
        if (dir_.empty()) dir_ = runtime_dir();
        if (file_.empty()) file_ = dir_ / kJournal;
        std::string lines;
        for (auto& e : events) {
            if (e.time_nano == 0) e.time_nano = realtime_nanos();
            lines += event_line(e);
            lines += '\n';
        }
        write_lines(lines);
    } catch (const std::exception& ex) {
        failed_ = true;
        try {
            log::warn("container " + events.front().name + "'s " + events.front().action +
                      " event is not in `gantry events`: " + ex.what());
        } catch (...) {
        }
    }
}

void EventJournal::write_lines(const std::string& lines) {
    // a rotation between open and lock leaves this fd on the renamed file: opened again
    for (int attempt = 0; attempt < 8; ++attempt) {
        Fd fd(::open(file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd) throw_errno("cannot open " + file_.string());
        if (::flock(fd.get(), LOCK_SH) != 0) throw_errno("cannot lock " + file_.string());
        struct stat at_fd {
        }, at_path{};
        if (::fstat(fd.get(), &at_fd) != 0) throw_errno("cannot stat " + file_.string());
        if (::stat(file_.c_str(), &at_path) != 0 || !same_file(at_path, at_fd.st_dev, at_fd.st_ino))
            continue;
        if (std::uint64_t(at_fd.st_size) >= kRotateBytes) {
            // no append is under way while the exclusive lock is held: the renamed file is
            // whole when a reader turns from it to the new one
            if (::flock(fd.get(), LOCK_EX) != 0) throw_errno("cannot lock " + file_.string());
            if (::stat(file_.c_str(), &at_path) == 0 &&
                same_file(at_path, at_fd.st_dev, at_fd.st_ino) &&
                ::rename(file_.c_str(), (dir_ / kRotated).c_str()) != 0)
                throw_errno("cannot rotate " + file_.string());
            continue;
        }
        ssize_t n = ::write(fd.get(), lines.data(), lines.size());
        if (n < 0) throw_errno("cannot write " + file_.string());
        if (std::size_t(n) != lines.size())
            throw Error(Errc::io, "a short write to " + file_.string() + " (a full disk?)");
        return;
    }
    throw Error(Errc::io, file_.string() + " was rotated under every attempt to append");
}

EventReader::EventReader(std::filesystem::path dir) : dir_(std::move(dir)) {
    // watched before the first read: an event appended between a read and the first wait()
    // still wakes it
    inotify_.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (inotify_ && ::inotify_add_watch(inotify_.get(), dir_.c_str(),
                                        IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
        inotify_.reset();
}

std::vector<json> EventReader::read_from(int fd, std::uint64_t& offset, const std::string& name) {
    std::vector<json> out;
    std::string data;
    char buf[65536];
    for (;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, off_t(offset + data.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("cannot read " + name);
        if (n == 0) break;
        data.append(buf, std::size_t(n));
    }
    std::size_t start = 0;
    for (std::size_t nl; (nl = data.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(data.data() + start, nl - start);
        if (line.empty()) continue;
        json msg = json::parse(line, nullptr, false);
        if (msg.is_object())
            out.push_back(std::move(msg));
        else
            log::warn(name + " at byte " + std::to_string(offset + start) +
                      ": a line that is not an event was skipped");
    }
    offset += start; // a line still being written is read whole next time
    return out;
}

std::vector<json> EventReader::next() {
    std::vector<json> out;
    auto take = [&out](std::vector<json> more) {
        for (auto& m : more) out.push_back(std::move(m));
    };
    const auto current = dir_ / kJournal, rotated = dir_ / kRotated;
    if (!started_) {
        started_ = true;
        Fd old(::open(rotated.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        struct stat st {};
        if (old && ::fstat(old.get(), &st) == 0) {
            dev_ = st.st_dev, ino_ = st.st_ino, offset_ = 0;
            take(read_from(old.get(), offset_, rotated.string()));
        }
    }
    Fd cur(::open(current.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat st {};
    bool have = cur && ::fstat(cur.get(), &st) == 0;
    if (have && ino_ != 0 && same_file(st, dev_, ino_)) {
        take(read_from(cur.get(), offset_, current.string()));
        return out;
    }
    if (ino_ != 0) { // the file read last was rotated since: the rest of it first
        Fd old(::open(rotated.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        struct stat ost {};
        if (old && ::fstat(old.get(), &ost) == 0 && same_file(ost, dev_, ino_))
            take(read_from(old.get(), offset_, rotated.string()));
    }
    if (have) {
        dev_ = st.st_dev, ino_ = st.st_ino, offset_ = 0;
        take(read_from(cur.get(), offset_, current.string()));
    }
    return out;
}

bool EventReader::wait(int timeout_ms) {
    if (!inotify_) { // no watch to be had (inotify's limits): the journal read every 100 ms
        int ms = timeout_ms < 0 ? 100 : std::min(timeout_ms, 100);
        ::usleep(useconds_t(ms) * 1000);
        return ms == 100 || timeout_ms < 0;
    }
    pollfd p{inotify_.get(), POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r <= 0) return false;
    alignas(inotify_event) char buf[4096];
    while (::read(inotify_.get(), buf, sizeof buf) > 0) {
    }
    return true;
}

} // namespace gantry::records
