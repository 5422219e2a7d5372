// ocirt/lazy_root: the root of a bundle that `gantry bundle --pull lazy` wrote (its
// io.gantry.lazy.* annotations, oci/runtime_spec.hpp): an image whose files are fetched from its
// registry on first read, served over FUSE as `gantry run --pull lazy` serves it. `gantry oci
// create` returns while the container lives on, so the serving process needs a parent that
// lives as long as the container: a monitor process, forked by create, in its own session,
// holding nothing of the caller's (as `gantry run -d`'s monitor). It forks the confined serving
// process (fuse::Server), watches the container's first process (a pidfd), and once that has
// exited stops the server, publishes the image's working set and exits; the container's record
// names it, and `delete` waits for its exit. What the run made local stays in the store's lazy
// cache: no store layer is made (a later `gantry pull` completes the image).
#pragma once

#include "lazy/tree.hpp"
#include "oci/runtime_spec.hpp"
#include "runtime/launcher.hpp"
#include "util/fd.hpp"

#include <map>
#include <memory>
#include <string>
#include <sys/types.h>

namespace gantry::ocirt {

// Error(invalid) naming an io.gantry.* annotation gantry does not know, or a lazy one without
// the others it needs: a bundle's gantry annotations are honoured or refused, never ignored.
void check_gantry_annotations(const std::map<std::string, std::string>& annotations);

class LazyRoot {
  public:
    // The bundle's lazy image, its record read from the store the annotations name, opened;
    // null when SPEC has no io.gantry.lazy.image.
    static std::unique_ptr<LazyRoot> open(const oci::RuntimeSpec& spec);
    // A monitor never told of a container (the create failed) ends, and is reaped.
    ~LazyRoot();
    LazyRoot(const LazyRoot&) = delete;
    LazyRoot& operator=(const LazyRoot&) = delete;

    // Forks the monitor, and makes L's root the served tree (the overlay's lower dir) under an
    // in-memory writable layer; L.spec must be final (its id maps are the server's view).
    void prepare(runtime::Launch& l);
    // The container's first process PID, started at START, waits at the gate: the monitor
    // watches it from now on. Returns the monitor's pid.
    pid_t watch(pid_t pid, unsigned long long start);

  private:
    explicit LazyRoot(std::shared_ptr<lazy::Tree> tree) : tree_(std::move(tree)) {}
    std::shared_ptr<lazy::Tree> tree_;
    Fd sock_; // to the monitor
    pid_t monitor_ = -1;
    bool watching_ = false;
};

} // namespace gantry::ocirt
