// The one copy of nlohmann::json's templates that tools/json_extern.hpp declares (the sanitizer
// build's gantry_util; CMakeLists.txt).
#include "json_extern.hpp"

GANTRY_JSON_INSTANCES()
