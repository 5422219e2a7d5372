// dive's efficiency metrics and the merged (container) view of an image's layers.
#include "analyze/model.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

namespace gantry::analyze {

namespace {

std::string parent_of(const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos ? std::string() : p.substr(0, s);
}

// One node of a layer's dive file tree.
struct TreeNode {
    std::uint64_t size = 0;
    bool is_dir = false;
    bool whiteout = false; // the tree name is ".wh.<base>"; key is the hidden path
    bool leaf = true;
};

// The layer's tree as dive builds it: key = tree path (whiteouts keep their ".wh." name).
std::map<std::string, TreeNode> layer_tree(const LayerScan& l) {
    std::map<std::string, TreeNode> t;
    auto add_parents = [&](const std::string& path) {
        for (std::string p = parent_of(path); !p.empty(); p = parent_of(p)) {
            auto [it, fresh] = t.try_emplace(p);
            it->second.leaf = false;
            if (!fresh) break; // its own parents are in already
        }
    };
    for (auto& e : l.entries) {
        if (e.kind == Kind::opaque) { // dive drops the marker but creates its directory
            if (e.path.empty()) continue;
            add_parents(e.path);
            t.try_emplace(e.path);
            continue;
        }
        std::string key = e.path;
        if (e.kind == Kind::whiteout) {
            std::string par = parent_of(e.path);
            std::string base = e.path.substr(par.empty() ? 0 : par.size() + 1);
            key = par.empty() ? ".wh." + base : par + "/.wh." + base;
        }
        add_parents(key);
        auto& n = t[key]; // a repeated path replaces the payload, keeps the children
        n.size = e.kind == Kind::whiteout ? 0 : e.size;
        n.is_dir = e.kind == Kind::dir;
        n.whiteout = e.kind == Kind::whiteout;
    }
    return t;
}

std::string hidden_path(const std::string& tree_path) {
    std::string par = parent_of(tree_path);
    std::string base = tree_path.substr(par.empty() ? 0 : par.size() + 1);
    base = base.substr(4); // strip ".wh."
    return par.empty() ? base : par + "/" + base;
}

struct StackNode {
    std::uint64_t size = 0;
    bool is_dir = false;
};

void erase_subtree(std::map<std::string, StackNode>& s, const std::string& p) {
    s.erase(p);
    std::string pre = p + "/";
    auto it = s.lower_bound(pre);
    while (it != s.end() && it->first.starts_with(pre)) it = s.erase(it);
}

} // namespace

DiveMetrics dive_metrics(const std::vector<const LayerScan*>& layers) {
    DiveMetrics m;
    struct Acc {
        std::uint64_t cumulative = 0;
        std::uint64_t min = 0;
        std::uint64_t count = 0;
    };
    std::unordered_map<std::string, Acc> acc;
    std::map<std::string, StackNode> stack; // dive's stacked tree of the layers below
    for (std::size_t i = 0; i < layers.size(); ++i) {
        m.size_bytes += layers[i]->entry_bytes;
        if (i != 0) m.user_size_bytes += layers[i]->entry_bytes;
        auto tree = layer_tree(*layers[i]);
        for (auto& [tpath, n] : tree) {
            if (!n.leaf) continue;
            std::string key = n.whiteout ? hidden_path(tpath) : tpath;
            std::uint64_t size = n.size;
            if (n.whiteout) {
                size = 0;
                auto it = stack.find(key);
                if (it != stack.end() && it->second.is_dir) {
                    size = it->second.size;
                    std::string pre = key + "/";
                    for (auto c = stack.lower_bound(pre);
                         c != stack.end() && c->first.starts_with(pre); ++c)
                        size += c->second.size;
                }
            }
            auto& a = acc[key];
            if (a.count == 0 || size < a.min) a.min = size;
            a.cumulative += size;
            ++a.count;
        }
        // Stack this layer on top: whiteouts remove, every other node (implied ones too)
        // replaces the payload at its path.
        for (auto& [tpath, n] : tree)
            if (n.whiteout) erase_subtree(stack, hidden_path(tpath));
        for (auto& [tpath, n] : tree)
            if (!n.whiteout) stack[tpath] = StackNode{n.size, n.is_dir};
    }
    std::uint64_t min_sum = 0, cum_sum = 0;
    for (auto& [path, a] : acc) {
        min_sum += a.min;
        cum_sum += a.cumulative;
        if (a.count >= 2) {
            m.wasted_bytes += a.cumulative;
            m.inefficiencies.push_back({path, a.cumulative, a.count});
        }
    }
    m.efficiency = cum_sum == 0 ? 1.0 : static_cast<double>(min_sum) / static_cast<double>(cum_sum);
    std::sort(m.inefficiencies.begin(), m.inefficiencies.end(), [](auto& a, auto& b) {
        return a.cumulative != b.cumulative ? a.cumulative > b.cumulative : a.path < b.path;
    });
    if (m.user_size_bytes == 0)
        m.user_wasted_percent =
            m.wasted_bytes == 0 ? std::nan("") : std::numeric_limits<double>::infinity();
    else
        m.user_wasted_percent =
            static_cast<double>(m.wasted_bytes) / static_cast<double>(m.user_size_bytes);
    return m;
}

MergedView merge(const std::vector<const LayerScan*>& layers) {
    MergedView v;
    auto& fin = v.final;
    auto entry = [&](const Ref& r) -> const Entry& { return layers[r.layer]->entries[r.index]; };
    auto hide = [&](const std::string& p, bool self, std::uint32_t by, bool deleted) {
        auto record = [&](const Ref& r) {
            const Entry& e = entry(r);
            if (e.kind == Kind::file && e.size)
                (deleted ? v.deleted : v.overwritten).push_back({e.path, e.size, r.layer, by});
        };
        if (self)
            if (auto it = fin.find(p); it != fin.end()) {
                record(it->second);
                fin.erase(it);
            }
        std::string pre = p.empty() ? std::string() : p + "/";
        auto it = fin.lower_bound(pre);
        while (it != fin.end() && it->first.starts_with(pre)) {
            record(it->second);
            it = fin.erase(it);
        }
    };
    for (std::uint32_t i = 0; i < layers.size(); ++i) {
        auto& es = layers[i]->entries;
        for (auto& e : es) {
            if (e.kind == Kind::opaque) hide(e.path, false, i, true);
            if (e.kind == Kind::whiteout) hide(e.path, true, i, true);
        }
        for (std::uint32_t k = 0; k < es.size(); ++k) {
            const Entry& e = es[k];
            if (e.kind == Kind::whiteout || e.kind == Kind::opaque) continue;
            auto it = fin.find(e.path);
            if (it != fin.end()) {
                const Entry& old = entry(it->second);
                if (old.kind == Kind::file && old.size)
                    v.overwritten.push_back({old.path, old.size, it->second.layer, i});
                if (old.kind == Kind::dir && e.kind != Kind::dir) hide(e.path, false, i, true);
            }
            fin[e.path] = Ref{i, k};
        }
    }
    return v;
}

} // namespace gantry::analyze
