// The Container Device Interface (CDI) spec: what a vendor's /etc/cdi/*.yaml or *.json file says a
// container needs for a device. This header gathers its parts, for callers that use several:
//   spec_model.hpp     the model and the CDI name rules
//   spec_read.hpp      text in (strict, every message a field path), and validation
//   spec_versions.hpp  which content needs which cdiVersion, and the lowest that carries a spec
//   spec_write.hpp     text out (JSON, block YAML) in the Go field order
// Field names, order and versions follow the CDI Go types (specs-go/config.go, version.go;
// reference nvidia-driver.md §2).
#pragma once

#include "cdi/spec_model.hpp"
#include "cdi/spec_read.hpp"
#include "cdi/spec_versions.hpp"
#include "cdi/spec_write.hpp"
