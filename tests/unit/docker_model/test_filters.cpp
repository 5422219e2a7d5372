// docker's --filter semantics for ps and images (moby's daemon/list.go and images.go): values
// of one key are alternatives, label values must all match, keys must all match.
#include "docker_model/containers.hpp"
#include "docker_model/filters.hpp"
#include "docker_model/images.hpp"
#include "docker_model/words.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace docker_filters_test {

using gantry::Errc;
using gantry::Error;
using gantry::records::ContainerState;
using namespace gantry::docker_model;

ContainerState make_state(const std::string& name, const std::string& id, const std::string& image,
                          const std::string& status, int code, const std::string& created,
                          std::map<std::string, std::string> labels = {}) {
    ContainerState s;
    s.name = name;
    s.id = id;
    s.image = image;
    s.status = status;
    s.exit_code = code;
    s.created = created;
    s.labels = std::move(labels);
    s.manifest = "sha256:" + std::string(64, image == "busybox" ? 'b' : 'd');
    return s;
}

const std::vector<ContainerState> kAll{
    make_state("web", "aaaa11112222", "busybox", "running", 0, "2026-01-01T00:00:01Z",
               {{"tier", "front"}, {"devcontainer.local_folder", "/src"}}),
    make_state("db", "bbbb11112222", "debian:12", "exited", 3, "2026-01-01T00:00:02Z",
               {{"tier", "back"}}),
    make_state("web-2", "cccc11112222", "docker.io/library/busybox:latest", "exited", 0,
               "2026-01-01T00:00:03Z")};

// The names of kAll's containers WORDS keep; the first one runs.
std::string kept(const std::vector<std::string>& words) {
    ContainerFilter f(words, kAll, [](const std::string& ref) -> std::optional<std::string> {
        if (ref == "bbbbbbbbbbbb") return "sha256:" + std::string(64, 'b');
        return std::nullopt;
    });
    std::string out;
    for (std::size_t i = 0; i < kAll.size(); ++i)
        if (f.matches(kAll[i], i == 0)) out += (out.empty() ? "" : " ") + kAll[i].name;
    return out;
}

Errc filter_error(const std::vector<std::string>& words, std::string* message = nullptr) {
    try {
        kept(words);
    } catch (const Error& e) {
        if (message) *message = e.message() + " | " + e.hint();
        return e.code();
    }
    return Errc::internal;
}

TEST(DockerFilters, ContainerKeysRepeatedAreAlternativesLabelsAreAll) {
    EXPECT_EQ(kept({}), "web db web-2");
    EXPECT_EQ(kept({"label=tier"}), "web db");
    EXPECT_EQ(kept({"label=tier=front"}), "web");
    // the Dev Containers CLI's probe: several labels, all of them
    EXPECT_EQ(kept({"label=tier=front", "label=devcontainer.local_folder=/src"}), "web");
    EXPECT_EQ(kept({"label=tier=back", "label=devcontainer.local_folder=/src"}), "");
    EXPECT_EQ(kept({"status=exited"}), "db web-2");
    EXPECT_EQ(kept({"status=running", "status=exited"}), "web db web-2");
    EXPECT_EQ(kept({"status=exited", "label=tier"}), "db");
    EXPECT_EQ(kept({"exited=3"}), "db");
    EXPECT_EQ(kept({"exited=0"}), "web-2");     // a running container has not exited
    EXPECT_EQ(kept({"name=web"}), "web web-2"); // a regular expression, as docker's
    EXPECT_EQ(kept({"name=^/web$"}), "web");
    EXPECT_EQ(kept({"name=db", "name=web-2"}), "db web-2");
    EXPECT_EQ(kept({"id=bbbb"}), "db");
    EXPECT_EQ(kept({"ancestor=busybox"}), "web web-2"); // by name, normalised
    EXPECT_EQ(kept({"ancestor=bbbbbbbbbbbb"}), "web");  // by the image it resolves to
    EXPECT_EQ(kept({"before=web-2"}), "web db");
    EXPECT_EQ(kept({"since=web"}), "db web-2");
    EXPECT_EQ(kept({"since=web", "before=web-2"}), "db");
}

TEST(DockerFilters, ContainerFiltersRefusedByName) {
    std::string m;
    EXPECT_EQ(filter_error({"colour=red"}, &m), Errc::usage);
    EXPECT_NE(m.find("invalid filter 'colour' for ps"), std::string::npos) << m;
    EXPECT_NE(m.find("ancestor, before, exited, id, label, name, since, status"), std::string::npos)
        << m;
    EXPECT_EQ(filter_error({"network=host"}), Errc::usage); // docker's, not gantry's
    EXPECT_EQ(filter_error({"status"}, &m), Errc::usage);
    EXPECT_NE(m.find("expected name=value"), std::string::npos) << m;
    EXPECT_EQ(filter_error({"status=sleeping"}, &m), Errc::usage);
    EXPECT_NE(m.find("invalid filter 'status=sleeping'"), std::string::npos) << m;
    EXPECT_EQ(filter_error({"exited=x"}), Errc::usage);
    EXPECT_EQ(filter_error({"name=("}), Errc::usage);
    EXPECT_EQ(filter_error({"before=nosuch"}), Errc::not_found);
    EXPECT_EQ(filter_error({"before=web", "before=db"}), Errc::usage);
}

TEST(DockerFilters, ContainerPruneUntilLabelAndNotLabel) {
    // 2026-01-01T00:00:02Z is 1767225602
    auto pruned = [](const std::vector<std::string>& words, std::int64_t now = 1767225602) {
        PruneFilter f(words, now);
        std::string out;
        for (auto& s : kAll)
            if (f.matches(s)) out += (out.empty() ? "" : " ") + s.name;
        return out;
    };
    EXPECT_EQ(pruned({}), "web db web-2");
    EXPECT_EQ(pruned({"label=tier"}), "web db");
    EXPECT_EQ(pruned({"label=tier=back"}), "db");
    EXPECT_EQ(pruned({"label!=tier"}), "web-2");
    EXPECT_EQ(pruned({"label!=tier=front"}), "db web-2");
    EXPECT_EQ(pruned({"label=tier", "label!=tier=front"}), "db");
    // until: created strictly before now minus the duration
    EXPECT_EQ(pruned({"until=1s"}), "");
    EXPECT_EQ(pruned({"until=0s"}), "web");
    EXPECT_EQ(pruned({"until=1s"}, 1767225604), "web db");
    EXPECT_EQ(pruned({"until=1s"}, 1767225605), "web db web-2");
    EXPECT_EQ(pruned({"until=1h"}, 1767225604), "");
    auto code = [&](const std::vector<std::string>& words) {
        try {
            pruned(words);
        } catch (const Error& e) {
            return e.code();
        }
        return Errc::internal;
    };
    EXPECT_EQ(code({"status=exited"}), Errc::usage);
    EXPECT_EQ(code({"until=soon"}), Errc::usage);
    EXPECT_EQ(code({"until=1h", "until=2h"}), Errc::usage);
}

TEST(DockerFilters, ImagesByReferenceLabelDanglingAndTime) {
    std::vector<ImageFacts> all{{"docker.io/library/busybox:latest",
                                 "sha256:" + std::string(64, '1'),
                                 "",
                                 "2026-01-01T00:00:01Z",
                                 {}},
                                {"docker.io/library/debian:12",
                                 "sha256:" + std::string(64, '2'),
                                 "",
                                 "2026-01-01T00:00:02Z",
                                 {{"org.opencontainers.image.vendor", "debian"}}},
                                {"ghcr.io/acme/tool:1.0",
                                 "sha256:" + std::string(64, '3'),
                                 "",
                                 "2026-01-01T00:00:03Z",
                                 {}}};
    auto kept_images = [&](const std::vector<std::string>& words) {
        ImageFilter f(words, all);
        std::string out;
        for (auto& i : all)
            if (f.matches(i))
                out += (out.empty() ? "" : " ") + i.reference.substr(i.reference.rfind('/') + 1);
        return out;
    };
    EXPECT_EQ(kept_images({}), "busybox:latest debian:12 tool:1.0");
    EXPECT_EQ(kept_images({"reference=busybox"}), "busybox:latest");
    EXPECT_EQ(kept_images({"reference=deb*"}), "debian:12");
    EXPECT_EQ(kept_images({"reference=*:12", "reference=busybox:latest"}),
              "busybox:latest debian:12");
    EXPECT_EQ(kept_images({"reference=ghcr.io/acme/*"}), "tool:1.0");
    EXPECT_EQ(kept_images({"label=org.opencontainers.image.vendor=debian"}), "debian:12");
    EXPECT_EQ(kept_images({"dangling=true"}), "");
    EXPECT_EQ(kept_images({"dangling=false"}), "busybox:latest debian:12 tool:1.0");
    EXPECT_EQ(kept_images({"before=ghcr.io/acme/tool:1.0"}), "busybox:latest debian:12");
    EXPECT_EQ(kept_images({"since=busybox"}), "debian:12 tool:1.0");
    EXPECT_EQ(kept_images({"since=2222"}), "tool:1.0"); // an ID prefix
    EXPECT_THROW(kept_images({"dangling=maybe"}), Error);
    EXPECT_THROW(kept_images({"until=1h"}), Error);
    EXPECT_THROW(kept_images({"since=nosuch"}), Error);
}

TEST(DockerModel, PsRowHasDockersFieldsAndLabelMethod) {
    auto s = kAll[0];
    s.command = {"sh", "-c", "sleep 1000000 && echo a long command"};
    auto row = ps_row(s, true, false);
    EXPECT_EQ(row["ID"], "aaaa11112222");
    EXPECT_EQ(row["Names"], "web");
    EXPECT_EQ(row["State"], "running");
    EXPECT_EQ(row["Command"], "\"sh -c sleep 1000000\xe2\x80\xa6\""); // 19 + "…", docker's Ellipsis
    EXPECT_EQ(ps_row(s, true, true)["Command"], "\"sh -c sleep 1000000 && echo a long command\"");
    EXPECT_EQ(row["Labels"], "devcontainer.local_folder=/src,tier=front");
    EXPECT_EQ(row["Networks"], "host");
    EXPECT_TRUE(row["Status"].get<std::string>().starts_with("Up")) << row["Status"];
    auto f = gantry::gotemplate::Format::parse("{{.Label \"tier\"}} {{.Names}}", ps_listing());
    EXPECT_EQ(f.render({row}), "front web\n");
    EXPECT_EQ(ps_row(kAll[1], false, false)["State"], "exited");
}

TEST(DockerModel, ContainerInspectHasTheFieldsToolsRead) {
    auto s = kAll[1];
    s.command = {"/bin/sh", "-c", "exit 3"};
    s.spec.env = {"PATH=/bin"};
    s.spec.cwd = "/work";
    s.spec.uid = 1000;
    s.spec.gid = 100;
    s.spec.mounts.push_back({"/work", "bind", "/home/u/src", {"rbind", "ro"}});
    s.spec.mounts.push_back({"/proc", "proc", "proc", {}});
    s.user_mounts = {"/work"};
    auto j = inspect_container(s, false);
    EXPECT_EQ(j["Id"], "bbbb11112222");
    EXPECT_EQ(j["Name"], "/db");
    EXPECT_EQ(j["Path"], "/bin/sh");
    EXPECT_EQ(j["Args"], json::array({"-c", "exit 3"}));
    EXPECT_EQ(j["State"]["Status"], "exited");
    EXPECT_EQ(j["State"]["ExitCode"], 3);
    EXPECT_EQ(j["State"]["Running"], false);
    EXPECT_EQ(j["Config"]["Labels"], json({{"tier", "back"}}));
    EXPECT_EQ(j["Config"]["User"], "1000:100");
    EXPECT_EQ(j["Config"]["WorkingDir"], "/work");
    EXPECT_EQ(j["Config"]["Image"], "debian:12");
    ASSERT_EQ(j["Mounts"].size(), 1u); // the run's bind, not /proc
    EXPECT_EQ(j["Mounts"][0]["Source"], "/home/u/src");
    EXPECT_EQ(j["Mounts"][0]["RW"], false);
    EXPECT_EQ(j["HostConfig"]["NetworkMode"], "host");
    EXPECT_EQ(j["HostConfig"]["Binds"], json::array({"/home/u/src:/work:ro"}));
}

TEST(DockerModel, ImagesRowAndSizes) {
    ImageListing i{{"docker.io/library/busybox:latest",
                    "sha256:" + std::string(64, 'a'),
                    "sha256:" + std::string(64, 'f'),
                    "2026-01-01T00:00:00Z",
                    {}},
                   4261550,
                   1200000};
    auto row = images_row(i, false);
    EXPECT_EQ(row["Repository"], "busybox");
    EXPECT_EQ(row["Tag"], "latest");
    EXPECT_EQ(row["ID"], std::string(12, 'a'));
    EXPECT_EQ(row["Size"], "4.26MB");          // docker's: unpacked
    EXPECT_EQ(row["CompressedSize"], "1.2MB"); // gantry's: the blobs
    EXPECT_EQ(images_row(i, true)["ID"], "sha256:" + std::string(64, 'a'));
    i.facts.reference = "localhost:5000/team/app:v2";
    row = images_row(i, false);
    EXPECT_EQ(row["Repository"], "localhost:5000/team/app");
    EXPECT_EQ(row["Tag"], "v2");
    EXPECT_EQ(docker_size(512), "512B");
    EXPECT_EQ(docker_size(1000), "1kB");
}

} // namespace docker_filters_test
