// A shared library loaded with dlopen on first use: what gantry must not link, because every
// linked library is start-up time at each `gantry run` (mmaps, relocations, constructors).
#pragma once

#include <string>

namespace gantry {

class Library {
  public:
    // Loads SONAME (RTLD_NOW | RTLD_LOCAL; it stays loaded for the life of the process). Throws
    // Error(unsupported) "NEED, which cannot be loaded: <why>" with HINT, where NEED says what
    // needs the library ("gzip layers need ISA-L").
    Library(const char* soname, const char* need, std::string hint);

    // Points FN at the symbol NAME; throws Error(unsupported) when the library lacks it.
    template <class F>
    void bind(F& fn, const char* name) const {
        fn = reinterpret_cast<F>(symbol(name));
    }

  private:
    void* symbol(const char* name) const;
    const char* soname_;
    std::string hint_;
    void* handle_;
};

} // namespace gantry
