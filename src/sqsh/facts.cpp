#include "sqsh/facts.hpp"

#include "sqsh/image.hpp"
#include "sqsh/server.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/inherited_fds.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace gantry::sqsh {

namespace {

constexpr std::size_t kMaxPasswd = 4u << 20;
constexpr std::size_t kMaxAnswer = kMaxHeader + kMaxPasswd + 4096;
constexpr rlim_t kReaderMemory = rlim_t{1} << 30;
constexpr int kReaderSeconds = 60;

// The answer, as the reading process writes it: fields of a u32 length and the bytes.
//   ok:    "header" and the header xattr's value, or "ok" (a squashfs without one); passwd
//   error: "error", the Errc number, the message, the hint
void put(std::string& out, std::string_view field) {
    auto n = static_cast<std::uint32_t>(field.size());
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    out.append(field);
}

bool take(std::string_view& in, std::string& field) {
    std::uint32_t n = 0;
    if (in.size() < sizeof n) return false;
    std::memcpy(&n, in.data(), sizeof n);
    in.remove_prefix(sizeof n);
    if (n > in.size()) return false;
    field.assign(in.substr(0, n));
    in.remove_prefix(n);
    return true;
}

void write_answer(int fd, const std::string& answer) {
    std::size_t done = 0;
    while (done < answer.size()) {
        ssize_t n = ::write(fd, answer.data() + done, answer.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ::_exit(126);
        done += static_cast<std::size_t>(n);
    }
}

// The reading process: confined, then everything libsquashfs parses.
[[noreturn]] void reader(Image& image, int out, bool want_passwd,
                         const std::function<void()>& confine) {
    std::string answer;
    try {
        rlimit mem{kReaderMemory, kReaderMemory};
        ::setrlimit(RLIMIT_AS, &mem);
        confine();
        image.open_tables();
        // the header's raw value: the caller parses and verifies it (parse_header)
        auto h = image.root_xattr(kHeaderXattr, kMaxHeader);
        put(answer, h ? "header" : "ok");
        if (h) put(answer, *h);
        put(answer, want_passwd ? image.read_file("etc/passwd", kMaxPasswd).value_or("") : "");
    } catch (const Error& e) {
        answer.clear();
        put(answer, "error");
        put(answer, std::to_string(static_cast<int>(e.code())));
        put(answer, e.message());
        put(answer, e.hint());
    } catch (const std::exception& e) {
        answer.clear();
        put(answer, "error");
        put(answer, std::to_string(static_cast<int>(Errc::invalid)));
        put(answer, image.path() + ": cannot read it: " + e.what());
        put(answer, "");
    }
    write_answer(out, answer);
    ::_exit(0);
}

// Reads the reader's answer (at most kMaxAnswer bytes, within the deadline); false on timeout.
bool read_answer(int fd, std::string& answer, const std::string& path) {
    timespec start{};
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    char buf[65536];
    for (;;) {
        timespec now{};
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        long left = kReaderSeconds * 1000L - ((now.tv_sec - start.tv_sec) * 1000L +
                                              (now.tv_nsec - start.tv_nsec) / 1000000L);
        if (left <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw_errno("cannot read what the squashfs reader found in " + path);
        if (r == 0) return false;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("cannot read what the squashfs reader found in " + path);
        if (n == 0) return true;
        if (answer.size() + static_cast<std::size_t>(n) > kMaxAnswer)
            throw Error(Errc::invalid, path + ": the squashfs reader sent more than it may",
                        "check the file with `rdsquashfs -l / " + path + "`");
        answer.append(buf, static_cast<std::size_t>(n));
    }
}

[[noreturn]] void damaged(const std::string& path, const std::string& why) {
    throw Error(Errc::invalid, path + ": " + why + " (a damaged or hostile squashfs image)",
                "check the file with `rdsquashfs -l / " + path + "`, or write it again");
}

} // namespace

std::shared_ptr<Image> open_deferred(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + path);
    if (!S_ISREG(st.st_mode))
        throw Error(Errc::invalid, path + " is not a regular file",
                    "give the path of a .sqsh file");
    return std::make_shared<Image>(std::move(fd), path, Image::Deferred{});
}

Facts read_facts(Image& image, bool want_passwd, const std::function<void()>& confine) {
    const std::string& path = image.path();
    struct stat st {};
    if (::fstat(image.fd(), &st) != 0) throw_errno("cannot stat " + path);
    Facts facts;
    char head[kSuperblockSize] = {};
    ssize_t got = ::pread(image.fd(), head, sizeof head, 0);
    if (got < 0) throw_errno("cannot read " + path);
    facts.super = check_superblock(std::string_view(head, static_cast<std::size_t>(got)),
                                   static_cast<std::uint64_t>(st.st_size), path);

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("cannot start the squashfs reader");
    Fd in(pipe_fds[0]), out(pipe_fds[1]);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("cannot start the squashfs reader");
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(0);
        // only the image and the answer's pipe stay open (and stderr, for a failed confinement)
        int keep[] = {2, image.fd(), out.get()};
        close_fds_except(keep);
        reader(image, out.get(), want_passwd, confine);
    }
    out.reset();
    std::string answer;
    bool finished = false;
    try {
        finished = read_answer(in.get(), answer, path);
    } catch (...) {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        throw;
    }
    if (!finished) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!finished)
        damaged(path, "reading it took longer than " + std::to_string(kReaderSeconds) + " s");
    if (WIFSIGNALED(status))
        damaged(path, std::string("reading it stopped the confined reader (") +
                          ::strsignal(WTERMSIG(status)) + ")");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error(Errc::run_failed,
                    "the squashfs reader for " + path + " could not start (exit " +
                        std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
    std::string_view rest(answer);
    std::string kind;
    if (!take(rest, kind)) damaged(path, "the confined reader's answer is cut short");
    if (kind == "error") {
        std::string code, message, hint;
        if (!take(rest, code) || !take(rest, message) || !take(rest, hint))
            damaged(path, "the confined reader's answer is cut short");
        int c = std::atoi(code.c_str());
        bool known = c == static_cast<int>(Errc::not_found) ||
                     c == static_cast<int>(Errc::invalid) ||
                     c == static_cast<int>(Errc::unsupported) || c == static_cast<int>(Errc::io);
        throw Error(known ? static_cast<Errc>(c) : Errc::run_failed, message, hint);
    }
    std::string header, passwd;
    if ((kind != "ok" && kind != "header") || (kind == "header" && !take(rest, header)) ||
        !take(rest, passwd) || !rest.empty())
        damaged(path, "the confined reader's answer is malformed");
    if (kind == "header") facts.header = parse_header(header, path);
    if (passwd.size() > kMaxPasswd) damaged(path, "its etc/passwd is over 4 MiB");
    facts.passwd = std::move(passwd);
    return facts;
}

} // namespace gantry::sqsh
