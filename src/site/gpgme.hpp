// site/gpgme: GPGME (loaded by dlopen on first use) and a throwaway GnuPG home, shared by the
// signature checks (signature.cpp) and the signers (gpg_sign.cpp).
#pragma once

#include <gpgme.h>
#include <string>

namespace gantry::site {

struct Gpgme {
    decltype(&::gpgme_check_version) check_version = nullptr;
    decltype(&::gpgme_new) new_ctx = nullptr;
    decltype(&::gpgme_release) release = nullptr;
    decltype(&::gpgme_set_protocol) set_protocol = nullptr;
    decltype(&::gpgme_ctx_set_engine_info) set_engine_info = nullptr;
    decltype(&::gpgme_data_new) data_new = nullptr;
    decltype(&::gpgme_data_new_from_mem) data_new_from_mem = nullptr;
    decltype(&::gpgme_data_release) data_release = nullptr;
    decltype(&::gpgme_data_release_and_get_mem) data_release_and_get_mem = nullptr;
    decltype(&::gpgme_free) free = nullptr;
    decltype(&::gpgme_op_import) op_import = nullptr;
    decltype(&::gpgme_op_import_result) op_import_result = nullptr;
    decltype(&::gpgme_op_verify) op_verify = nullptr;
    decltype(&::gpgme_op_verify_result) op_verify_result = nullptr;
    decltype(&::gpgme_strerror) strerror = nullptr;
    // signing (push --sign-by), with the user's own GnuPG home
    decltype(&::gpgme_get_key) get_key = nullptr;
    decltype(&::gpgme_key_unref) key_unref = nullptr;
    decltype(&::gpgme_signers_add) signers_add = nullptr;
    decltype(&::gpgme_op_sign) op_sign = nullptr;
    decltype(&::gpgme_op_sign_result) op_sign_result = nullptr;
};

const Gpgme& gpgme();

// A GnuPG home of its own (in $TMPDIR), removed with its contents, and a context bound to it.
// With AGENT, gpg may start a gpg-agent there (importing and using secret keys needs one): it is
// stopped (gpgconf --kill) before the home is removed.
struct TempGpg {
    const Gpgme& g = gpgme();
    std::string home;
    gpgme_ctx_t ctx = nullptr;
    bool agent = false;
    explicit TempGpg(bool agent = false);
    ~TempGpg();
    TempGpg(const TempGpg&) = delete;
    TempGpg& operator=(const TempGpg&) = delete;
    [[noreturn]] void fail(const std::string& what, gpgme_error_t e) const;
};

// A GPGME data object, released at the end.
struct GpgData {
    const Gpgme& g;
    gpgme_data_t d = nullptr;
    explicit GpgData(const Gpgme& api) : g(api) {}
    ~GpgData() {
        if (d) g.data_release(d);
    }
    GpgData(const GpgData&) = delete;
    GpgData& operator=(const GpgData&) = delete;
    // The bytes written into it; the data object is released.
    std::string take();
};

} // namespace gantry::site
