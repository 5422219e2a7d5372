#include "site/gpgme.hpp"

#include "site/signature.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/library.hpp"
#include "util/log.hpp"
#include "util/spawn.hpp"

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <unistd.h>

namespace gantry::site {

namespace stdfs = std::filesystem;

const Gpgme& gpgme() {
    static Gpgme api;
    static std::once_flag once;
    std::call_once(once, [] {
        static Library lib("libgpgme.so.11", "policy.json's signedBy (GPG signatures) needs GPGME",
                           "apt-get install libgpgme11 gnupg");
        lib.bind(api.check_version, "gpgme_check_version");
        lib.bind(api.new_ctx, "gpgme_new");
        lib.bind(api.release, "gpgme_release");
        lib.bind(api.set_protocol, "gpgme_set_protocol");
        lib.bind(api.set_engine_info, "gpgme_ctx_set_engine_info");
        lib.bind(api.data_new, "gpgme_data_new");
        lib.bind(api.data_new_from_mem, "gpgme_data_new_from_mem");
        lib.bind(api.data_release, "gpgme_data_release");
        lib.bind(api.data_release_and_get_mem, "gpgme_data_release_and_get_mem");
        lib.bind(api.free, "gpgme_free");
        lib.bind(api.op_import, "gpgme_op_import");
        lib.bind(api.op_import_result, "gpgme_op_import_result");
        lib.bind(api.op_verify, "gpgme_op_verify");
        lib.bind(api.op_verify_result, "gpgme_op_verify_result");
        lib.bind(api.strerror, "gpgme_strerror");
        lib.bind(api.get_key, "gpgme_get_key");
        lib.bind(api.key_unref, "gpgme_key_unref");
        lib.bind(api.signers_add, "gpgme_signers_add");
        lib.bind(api.op_sign, "gpgme_op_sign");
        lib.bind(api.op_sign_result, "gpgme_op_sign_result");
        api.check_version(nullptr); // initialises the library
    });
    return api;
}

TempGpg::TempGpg(bool with_agent) : agent(with_agent) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/gantry-gpg-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw_errno("creating a GnuPG home in " + tmpl);
    home = tmpl;
    // verifying needs no secret key: gpg must not start a gpg-agent that outlives the home;
    // signing does (stopped in the destructor), never asking for a passphrase on a terminal
    fs::write_atomic(stdfs::path(home) / "gpg.conf",
                     agent ? "pinentry-mode loopback\ndigest-algo SHA256\n" : "no-autostart\n",
                     0600);
    if (auto e = g.new_ctx(&ctx); e) fail("gpgme_new", e);
    g.set_protocol(ctx, GPGME_PROTOCOL_OpenPGP);
    if (auto e = g.set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str()); e)
        fail("setting the GnuPG home", e);
}

TempGpg::~TempGpg() {
    if (ctx) g.release(ctx);
    if (agent) {
        std::string gpgconf = fs::find_program("gpgconf");
        if (!gpgconf.empty()) {
            try {
                Spawned kill({gpgconf, "--homedir", home, "--kill", "gpg-agent"}, {}, {1, 2});
                kill.wait();
            } catch (const Error&) {
                // the agent then exits by itself once its socket is gone
            }
        }
    }
    // after a failed verify, gpg may still be writing into the home as it exits (its
    // trustdb, a lock): a few tries, else the empty directory was left in TMPDIR
    for (int i = 0; i < 20; ++i) {
        std::error_code ec;
        stdfs::remove_all(home, ec);
        if (!stdfs::exists(home, ec)) break;
        ::usleep(5000);
    }
}

void TempGpg::fail(const std::string& what, gpgme_error_t e) const {
    throw Error(Errc::internal, "GPGME: " + what + ": " + g.strerror(e),
                "check that gnupg (gpg) is installed: apt-get install gnupg");
}

std::string GpgData::take() {
    std::size_t n = 0;
    char* mem = g.data_release_and_get_mem(d, &n);
    d = nullptr;
    std::string bytes(mem ? mem : "", mem ? n : 0);
    if (mem) g.free(mem);
    return bytes;
}

namespace {

// Whether SIGNED, which this context made just now, verifies with the keys it holds.
bool own_signature_verifies(const Gpgme& g, gpgme_ctx_t ctx, const std::string& signed_data) {
    GpgData in(g), out(g);
    if (g.data_new_from_mem(&in.d, signed_data.data(), signed_data.size(), 0) != 0 ||
        g.data_new(&out.d) != 0 || g.op_verify(ctx, in.d, nullptr, out.d) != 0)
        return false;
    auto* vr = g.op_verify_result(ctx);
    int count = 0;
    bool good = true;
    for (auto* s = vr ? vr->signatures : nullptr; s; s = s->next, ++count)
        good = good && gpgme_err_code(s->status) == GPG_ERR_NO_ERROR;
    return count == 1 && good;
}

// TEXT signed in MODE by the context's signer, and checked before anyone sees it: an RSA
// signature computed wrong (the Chinese remainder step, on a machine that miscomputes) must never
// be given out, as one gives the key's factors away (Boneh, DeMillo and Lipton, 1997); gpg made
// one in ~60 under CPU load on this project's CI machine (a fresh GnuPG home each time, the
// same key and text; none without the load). Signed again, three tries in all. FAIL(what, error)
// throws: on a GPGME error, and when no try verifies.
template <class Fail>
std::string sign_checked(const Gpgme& g, gpgme_ctx_t ctx, const std::string& text,
                         gpgme_sig_mode_t mode, Fail&& fail) {
    for (int attempt = 0; attempt < 3; ++attempt) {
        GpgData in(g), out(g);
        if (auto e = g.data_new_from_mem(&in.d, text.data(), text.size(), 0); e)
            fail("gpgme_data_new_from_mem", e);
        if (auto e = g.data_new(&out.d); e) fail("gpgme_data_new", e);
        if (auto e = g.op_sign(ctx, in.d, out.d, mode); e) fail("signing", e);
        auto* res = g.op_sign_result(ctx);
        if (!res || res->invalid_signers || !res->signatures)
            fail("the key cannot sign", GPG_ERR_UNUSABLE_SECKEY);
        std::string signed_data = out.take();
        if (own_signature_verifies(g, ctx, signed_data)) return signed_data;
        log::warn("GnuPG made a signature that does not verify with its own key (a machine "
                  "that miscomputes?): it is not used; signing again");
    }
    fail("three signatures in a row did not verify with the key that made them",
         GPG_ERR_BAD_SIGNATURE);
    return {}; // not reached: FAIL throws
}

} // namespace

GpgSigned gpg_clearsign_with_key(const std::string& text, const std::string& secret_key,
                                 const std::string& origin) {
    TempGpg gpg(true);
    const Gpgme& g = gpg.g;
    auto bad = [&origin](const std::string& why) {
        throw Error(Errc::invalid, origin + ": " + why,
                    "give an unprotected OpenPGP secret key (gpg --export-secret-keys KEYID > "
                    "FILE, from a key without a passphrase), or sign from your keyring with "
                    "--sign-by FINGERPRINT");
    };
    {
        GpgData d(g);
        if (auto e = g.data_new_from_mem(&d.d, secret_key.data(), secret_key.size(), 0); e)
            gpg.fail("reading a key", e);
        if (auto e = g.op_import(gpg.ctx, d.d); e)
            bad(std::string("not imported (") + g.strerror(e) + ")");
    }
    auto* res = g.op_import_result(gpg.ctx);
    if (!res || res->secret_imported < 1) bad("it holds no OpenPGP secret key");
    gpgme_key_t key = nullptr;
    for (auto* s = res->imports; s && !key; s = s->next) {
        if (s->result || !s->fpr) continue;
        gpgme_key_t k = nullptr;
        if (g.get_key(gpg.ctx, s->fpr, &k, 1) == 0 && k && k->can_sign)
            key = k;
        else if (k)
            g.key_unref(k);
    }
    if (!key) bad("none of its secret keys can sign");
    struct Unref {
        const Gpgme& g;
        gpgme_key_t k;
        ~Unref() { g.key_unref(k); }
    } unref{g, key};
    if (auto e = g.signers_add(gpg.ctx, key); e) gpg.fail("selecting the key", e);
    GpgSigned r;
    r.text = sign_checked(g, gpg.ctx, text, GPGME_SIG_MODE_CLEAR,
                          [&](const std::string& what, gpgme_error_t e) {
                              if (what == "signing")
                                  bad(std::string("signing failed (") + g.strerror(e) +
                                      "; a key protected by a passphrase cannot be used from a "
                                      "file)");
                              if (what == "the key cannot sign") bad("its key cannot sign");
                              if (e == GPG_ERR_BAD_SIGNATURE) bad(what);
                              gpg.fail(what, e);
                          });
    r.fingerprint = key->fpr ? key->fpr : "";
    if (key->uids && key->uids->uid) r.user_id = key->uids->uid;
    return r;
}

namespace {

// TEXT signed in MODE with the secret key KEY_ID of the user's GnuPG home: the signed output,
// the key's fingerprint and first user ID.
GpgSigned sign_with_gpgme(const std::string& text, const std::string& key_id,
                          gpgme_sig_mode_t mode) {
    const Gpgme& g = gpgme();
    struct Ctx {
        const Gpgme& g;
        gpgme_ctx_t ctx = nullptr;
        gpgme_key_t key = nullptr;
        ~Ctx() {
            if (key) g.key_unref(key);
            if (ctx) g.release(ctx);
        }
    } c{g};
    auto fail = [&](const std::string& what, gpgme_error_t e) {
        throw Error(Errc::invalid,
                    "signing with GPG key " + key_id + ": " + what + ": " + g.strerror(e),
                    "list the secret keys with gpg --list-secret-keys (GNUPGHOME selects the "
                    "keyring) and give its fingerprint to --sign-by");
    };
    if (auto e = g.new_ctx(&c.ctx); e) fail("gpgme_new", e);
    g.set_protocol(c.ctx, GPGME_PROTOCOL_OpenPGP);
    if (auto e = g.get_key(c.ctx, key_id.c_str(), &c.key, 1); e || !c.key)
        fail("no such secret key", e);
    if (auto e = g.signers_add(c.ctx, c.key); e) fail("selecting the key", e);
    GpgSigned r;
    r.text = sign_checked(g, c.ctx, text, mode, fail);
    r.fingerprint = c.key->fpr ? c.key->fpr : "";
    if (c.key->uids && c.key->uids->uid) r.user_id = c.key->uids->uid;
    return r;
}

} // namespace

GpgSigned gpg_clearsign(const std::string& text, const std::string& key_id) {
    return sign_with_gpgme(text, key_id, GPGME_SIG_MODE_CLEAR);
}

std::string gpg_sign(const std::string& payload, const std::string& key_id) {
    return sign_with_gpgme(payload, key_id, GPGME_SIG_MODE_NORMAL).text;
}

} // namespace gantry::site
