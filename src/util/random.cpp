#include "util/random.hpp"

#include "util/error.hpp"

#include <sys/random.h>
#include <sys/types.h>
#include <vector>

namespace gantry::random {

std::string hex_id(std::size_t bytes) {
    static const char* hex = "0123456789abcdef";
    std::vector<unsigned char> b(bytes);
    std::size_t got = 0;
    while (got < bytes) {
        ssize_t n = ::getrandom(b.data() + got, bytes - got, 0);
        if (n <= 0) throw_errno("cannot get random bytes for an identifier");
        got += static_cast<std::size_t>(n);
    }
    std::string id;
    id.reserve(bytes * 2);
    for (auto c : b) {
        id += hex[c >> 4];
        id += hex[c & 15];
    }
    return id;
}

} // namespace gantry::random
