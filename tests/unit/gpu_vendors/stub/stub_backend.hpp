// A third GPU vendor that exists only in the tests ("stub"): the proof that a vendor is a folder
// and one registration. It owns a host-root flag of its own (--stub-root), a device node
// (dev/stub0 under that root), an environment contract (STUB_VISIBLE_DEVICES), a CDI kind, a
// doctor rule, a --keep-arch target and a device-code format (stub_device_code.cpp), and reaches
// gantry only through gpu_vendors/backend.hpp.
#pragma once

#include "gpu_vendors/backend.hpp"

namespace stub_vendor {

// The stub backend; gantry::gpu_vendors::register_backend(stub_vendor::backend()) adds it to the
// registry.
const gantry::gpu_vendors::Backend& backend();
// Its device-code format ("stub": "STUBCODE:<target>:" and 16 bytes, anywhere in a file).
const gantry::device_code::Format& stub_format();

} // namespace stub_vendor
