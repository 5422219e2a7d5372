// docker's --group-add NAME (engine/image_groups.hpp).
#include "engine/image_groups.hpp"

#include "engine/squashfs.hpp"
#include "lazy/tree_files.hpp"
#include "rootfs/dir_files.hpp"
#include "rootfs/image_files.hpp"
#include "sqsh/image_ref.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <charconv>
#include <optional>

namespace gantry::engine {

std::optional<std::uint32_t> group_id(std::string_view group_file, std::string_view name) {
    for (auto line : text::split(group_file, '\n')) {
        // name:password:GID:members
        auto fields = text::split(line, ':');
        if (fields.size() < 3 || fields[0] != name) continue;
        std::uint32_t gid = 0;
        auto f = fields[2];
        auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), gid);
        if (f.empty() || ec != std::errc{} || end != f.data() + f.size() || gid == 4294967295u)
            continue;
        return gid;
    }
    return std::nullopt;
}

void resolve_group_names(Prepared& p) {
    auto& names = p.options.group_add_names;
    if (names.empty()) return;
    std::string text;
    {
        rootfs::LayerFiles layers(*p.store, p.view.image.config.diff_ids);
        std::optional<sqsh::SquashFiles> squash;
        if (p.sqsh) squash.emplace(*p.sqsh, squashfs_confinement());
        std::optional<lazy::TreeFiles> lazy;
        if (auto tree = std::dynamic_pointer_cast<lazy::Tree>(p.lazy)) lazy.emplace(*tree);
        std::optional<rootfs::DirFiles> dir;
        if (!p.sandbox.empty()) dir.emplace(p.sandbox);
        const rootfs::ImageFiles& files = squash ? static_cast<const rootfs::ImageFiles&>(*squash)
                                          : lazy ? static_cast<const rootfs::ImageFiles&>(*lazy)
                                          : dir  ? static_cast<const rootfs::ImageFiles&>(*dir)
                                                 : layers;
        text = files.read("etc/group");
    }
    for (const auto& name : names) {
        auto gid = group_id(text, name);
        if (!gid)
            throw Error(Errc::usage,
                        "--group-add " + name + ": the image " + p.request.image +
                            " has no group " + name + " in its /etc/group",
                        "give the group's number (--group-add 1000), or a name its /etc/group "
                        "lists");
        p.options.group_add.push_back(*gid);
    }
    names.clear();
}

} // namespace gantry::engine
