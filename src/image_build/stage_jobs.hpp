// Independent stages of a build, several at once: each stage runs after the stages it reads,
// and up to JOBS ready stages run at the same time, each in a forked child process (the
// runtime makes containers with raw clone(2), so gantry stays single-threaded: no threads).
// A stage that is the only one ready, with nothing else running, runs in this process. A child
// hands its result back as text through a pipe; an error in one stage lets the others that
// are running finish, then is rethrown (code, message and hint kept).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace gantry::image_build {

struct StageJobs {
    std::vector<int> order;                    // the stages to build, dependencies first
    std::function<std::vector<int>(int)> deps; // the stages one reads
    unsigned jobs = 1;
    std::function<std::string(int)> build;             // builds one stage, returns its result
    std::function<void(int, const std::string&)> done; // takes a result, in this process
};

void run_stage_jobs(const StageJobs& j);

} // namespace gantry::image_build
