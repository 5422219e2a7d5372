// A fourth GPU vendor that exists only in the tests ("stub"): the proof that a vendor is a folder
// and one registration. It owns a host-root flag of its own (--stub-root), a device node
// (dev/stub0 under that root), an environment contract (STUB_VISIBLE_DEVICES), a CDI kind, a
// doctor rule, a --keep-arch target and keep option (--no-stub-spare), a
// device-code format (stub_device_code.cpp), a toolkit compiler (stubcc), the variable Slurm
// numbers its GPUs in (STUB_DEVICE_ORDINAL), a lint rule and an analyze finding
// (stub_rules.cpp), and reaches gantry only through gpu_vendors/backend.hpp (and lint's rule
// model, lint/rules.hpp).
#pragma once

#include "gpu_vendors/backend.hpp"
#include "lint/lint.hpp"

#include <memory>

namespace stub_vendor {

// The stub backend; gantry::gpu_vendors::register_backend(stub_vendor::backend()) adds it to the
// registry.
const gantry::gpu_vendors::Backend& backend();
// Its lint rules (GL901, STUB_VISIBLE_DEVICES for GL016) and analyze findings (STUB-CODE):
// stub_rules.cpp.
const gantry::lint::RuleSet& stub_lint_rules();
// Its software stack ("STUB": stub/sdk images, +stXY wheels) for the rules that compare stacks.
const gantry::lint::Stack& stub_stack();
std::unique_ptr<gantry::gpu_vendors::ImageFindings> stub_analyze_findings();
// Its device-code format ("stub": "STUBCODE:<target>:" and 16 bytes, anywhere in a file).
const gantry::device_code::Format& stub_format();

} // namespace stub_vendor
