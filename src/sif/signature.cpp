#include "sif/signature.hpp"

#include "util/error.hpp"
#include "util/json.hpp"
#include "util/nettle.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace gantry::sif {

using json = nlohmann::json;

namespace {

constexpr std::uint32_t kSigGroupMask = 0xf0000000u;
constexpr std::size_t kSigEntityLen = 256, kSigFingerprintLen = 20;
constexpr std::size_t kSigHashChunk = 1u << 20;

[[noreturn]] void sig_refuse(const std::string& what, const std::string& why) {
    throw Error(Errc::policy, what + ": " + why);
}

std::string sig_hex(std::string_view b, bool upper) {
    static constexpr char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
    const char* d = upper ? up : lo;
    std::string s;
    s.reserve(b.size() * 2);
    for (unsigned char c : b) s += d[c >> 4], s += d[c & 15];
    return s;
}

int sig_nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The digest size of a metadata algorithm, 0 for names the reference does not define.
std::size_t sig_digest_size(const std::string& alg) {
    if (alg == "sha256" || alg == "sha512_256") return 32;
    if (alg == "sha224" || alg == "sha512_224") return 28;
    if (alg == "sha384") return 48;
    if (alg == "sha512") return 64;
    return 0;
}

// A streaming digest of one of the metadata algorithms (Nettle).
class SigHasher {
  public:
    explicit SigHasher(const std::string& alg) : alg_(alg), size_(sig_digest_size(alg)) {
        const auto& n = nettle::api();
        if (alg == "sha256")
            n.sha256_init(&s256_);
        else if (alg == "sha224")
            n.sha224_init(&s256_);
        else if (alg == "sha512")
            n.sha512_init(&s512_);
        else if (alg == "sha384")
            n.sha384_init(&s512_);
        else if (alg == "sha512_224")
            n.sha512_224_init(&s512_);
        else if (alg == "sha512_256")
            n.sha512_256_init(&s512_);
        else
            throw Error(Errc::internal, "digest algorithm " + alg + " is not known");
    }
    void update(std::string_view b) {
        const auto& n = nettle::api();
        auto* p = reinterpret_cast<const std::uint8_t*>(b.data());
        if (alg_ == "sha256" || alg_ == "sha224")
            n.sha256_update(&s256_, b.size(), p);
        else
            n.sha512_update(&s512_, b.size(), p);
    }
    std::string digest() {
        const auto& n = nettle::api();
        std::string out(size_, '\0');
        auto* p = reinterpret_cast<std::uint8_t*>(out.data());
        if (alg_ == "sha256")
            n.sha256_digest(&s256_, size_, p);
        else if (alg_ == "sha224")
            n.sha224_digest(&s256_, size_, p);
        else if (alg_ == "sha512")
            n.sha512_digest(&s512_, size_, p);
        else if (alg_ == "sha384")
            n.sha384_digest(&s512_, size_, p);
        else if (alg_ == "sha512_224")
            n.sha512_224_digest(&s512_, size_, p);
        else
            n.sha512_256_digest(&s512_, size_, p);
        return out;
    }

  private:
    std::string alg_;
    std::size_t size_;
    sha256_ctx s256_{};
    sha512_ctx s512_{};
};

Digest sig_parse_digest(const json& v, const std::string& what, const std::string& field) {
    if (!v.is_string()) sig_refuse(what, "its " + field + " is not a string");
    const auto& s = v.get_ref<const std::string&>();
    auto colon = s.find(':');
    if (colon == std::string::npos || s.find(':', colon + 1) != std::string::npos)
        sig_refuse(what, "its " + field + " is not ALGORITHM:HEX");
    Digest d{s.substr(0, colon), {}};
    std::size_t size = sig_digest_size(d.algorithm);
    if (!size)
        sig_refuse(what, "its " + field + " uses the digest algorithm \"" +
                             s.substr(0, std::min<std::size_t>(colon, 32)) +
                             "\" (the reference's are sha224, sha256, sha384, sha512, "
                             "sha512_224, sha512_256)");
    std::string_view hex = std::string_view(s).substr(colon + 1);
    if (hex.size() != size * 2)
        sig_refuse(what, "its " + field + " has " + std::to_string(hex.size()) +
                             " hex digits, not the " + std::to_string(size * 2) + " of " +
                             d.algorithm);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        int a = sig_nibble(hex[i]), b = sig_nibble(hex[i + 1]);
        if (a < 0 || b < 0) sig_refuse(what, "its " + field + " is not hexadecimal");
        d.value += static_cast<char>(a * 16 + b);
    }
    return d;
}

const json& sig_object(const json& v, std::initializer_list<const char*> keys,
                       const std::string& what, const std::string& where) {
    if (!v.is_object()) sig_refuse(what, "its " + where + " is not a JSON object");
    for (auto& item : v.items()) {
        const std::string& k = item.key();
        if (std::none_of(keys.begin(), keys.end(), [&k](const char* key) { return k == key; }))
            sig_refuse(what, "its " + where + " has the unknown field \"" + k.substr(0, 64) + "\"");
    }
    for (const char* key : keys)
        if (!v.contains(key)) sig_refuse(what, "its " + where + " lacks \"" + key + "\"");
    return v;
}

std::uint32_t sig_u32(std::string_view b, std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v |= std::uint32_t(std::uint8_t(b[at + i])) << (8 * i);
    return v;
}

std::string sig_which(const Object& o) {
    return "object " + std::to_string(o.id) + " (" + type_name(o.type) + ")";
}

std::string sig_read(const ReadAt& read, std::uint64_t at, std::size_t size) {
    std::string b(size, '\0');
    if (size) read(at, b.data(), size);
    return b;
}

std::string sig_digest_object(const ReadAt& read, const Object& o, const std::string& alg) {
    SigHasher h(alg);
    std::string buf;
    for (std::uint64_t done = 0; done < o.size;) {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kSigHashChunk, o.size - done));
        buf.resize(n);
        read(o.offset + done, buf.data(), n);
        h.update(buf);
        done += n;
    }
    return h.digest();
}

std::string sig_mismatch(const std::string& whose, const Digest& want, const std::string& got) {
    return whose + " does not match the signature: its " + want.algorithm + " is " +
           sig_hex(got, false) + ", the signed one " + sig_hex(want.value, false) +
           " (modified after signing)";
}

// Checks a legacy signature's TEXT ("SIFHASH:\n" HEX) against the data of OBJS (in table
// order) by the descriptor's hash, as sif's legacy verifiers do.
void sig_check_legacy(const ReadAt& read, const SignatureResult& r, const std::string& what,
                      const std::vector<const Object*>& objs) {
    std::string_view t = r.signer.text;
    if (t.substr(0, 9) == "SIFHASH:\n")
        t.remove_prefix(9);
    else if (t.substr(0, 10) == "SIFHASH:\r\n")
        t.remove_prefix(10);
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' '))
        t.remove_suffix(1);
    const std::string& alg = r.info.hash;
    if (alg != "sha256" && alg != "sha384" && alg != "sha512")
        sig_refuse(what, "its descriptor names the hash " + alg +
                             " (a legacy signature's is SHA-256, SHA-384 or SHA-512)");
    std::string want;
    if (t.size() != sig_digest_size(alg) * 2)
        sig_refuse(what, "its signed text is not SIFHASH and a " + alg + " digest");
    for (std::size_t i = 0; i < t.size(); i += 2) {
        int a = sig_nibble(t[i]), b = sig_nibble(t[i + 1]);
        if (a < 0 || b < 0) sig_refuse(what, "its signed digest is not hexadecimal");
        want += static_cast<char>(a * 16 + b);
    }
    SigHasher h(alg);
    std::string buf;
    for (auto* o : objs)
        for (std::uint64_t done = 0; done < o->size;) {
            auto n =
                static_cast<std::size_t>(std::min<std::uint64_t>(kSigHashChunk, o->size - done));
            buf.resize(n);
            read(o->offset + done, buf.data(), n);
            h.update(buf);
            done += n;
        }
    std::string got = h.digest();
    if (got != want)
        sig_refuse(what, sig_mismatch(objs.size() == 1
                                          ? "the data of " + sig_which(*objs[0])
                                          : "the data of object group " + std::to_string(r.group),
                                      Digest{alg, want}, got));
}

// The signed text of signature SIG, by its form: a DSSE envelope, an OpenPGP clear-signed message
// (current or, with CHECKS.legacy, legacy); sets R's form and signer. Throws Error(policy).
void sig_open(const ReadAt& read, const Checks& checks, SignatureResult& r, const Object& sig,
              const std::string& what) {
    if (sig.size > kMaxSignatureBytes)
        sig_refuse(what, "it is " + std::to_string(sig.size) + " bytes (at most " +
                             std::to_string(kMaxSignatureBytes) + ")");
    std::string message = sig_read(read, sig.offset, static_cast<std::size_t>(sig.size));
    if (looks_like_envelope(message)) {
        r.form = "DSSE";
        Envelope e = parse_envelope(message, what);
        if (e.payload_type != kDssePayloadType)
            sig_refuse(what, "its DSSE payload type is \"" + e.payload_type.substr(0, 64) +
                                 "\", not sif's " + kDssePayloadType);
        if (r.info.hash != "sha256")
            sig_refuse(what, "its descriptor names the hash " + r.info.hash +
                                 " (DSSE signatures are checked over SHA-256, sif's default)");
        if (!r.group)
            sig_refuse(what, "it is a DSSE signature linked to object " +
                                 std::to_string(r.linked_object) + " rather than to a group");
        if (!checks.dsse)
            sig_refuse(what, "it is a DSSE envelope, and no PEM public key was given to check it");
        try {
            r.signer.fingerprint = checks.dsse(pae(e.payload_type, e.payload), e.signatures);
        } catch (const Error& err) {
            if (err.code() != Errc::policy) throw;
            sig_refuse(what, "its DSSE envelope does not verify: " + err.message());
        }
        r.signer.text = std::move(e.payload);
        return;
    }
    bool legacy = is_legacy_message(message);
    r.form = legacy ? "legacy OpenPGP" : "OpenPGP";
    if (legacy && !checks.legacy)
        sig_refuse(what, "it is a legacy signature (SIFHASH: the objects' data only, not their "
                         "descriptors nor the header, from Singularity before 3.6), which "
                         "gantry checks only with --legacy-insecure (as apptainer verify "
                         "--legacy-insecure); re-sign the image with gantry sign or apptainer "
                         "sign");
    if (!legacy && !r.group)
        sig_refuse(what, "it is linked to object " + std::to_string(r.linked_object) +
                             " rather than to an object group, which only legacy signatures "
                             "are; re-sign the image with gantry sign or apptainer sign");
    if (r.info.fingerprint.empty())
        sig_refuse(what, "its descriptor names no signing key fingerprint");
    if (!checks.openpgp)
        sig_refuse(what, "it is an OpenPGP signature, and no OpenPGP public key was given");
    try {
        r.signer = checks.openpgp(message);
    } catch (const Error& e) {
        if (e.code() != Errc::policy) throw;
        sig_refuse(what, e.message());
    }
    if (r.signer.fingerprint != r.info.fingerprint)
        sig_refuse(what, "it was made by key " + r.signer.fingerprint +
                             ", but its descriptor names key " + r.info.fingerprint);
}

// Checks one signature covering OBJS (a group's, least ID MIN_ID, or the one object a legacy
// signature is linked to); throws Error(policy) saying why it fails.
void sig_check(const ReadAt& read, const Checks& checks, SignatureResult& r, const Object& sig,
               const std::vector<const Object*>& objs, std::uint32_t min_id) {
    std::string what = "signature object " + std::to_string(sig.id);
    sig_open(read, checks, r, sig, what);
    if (r.form == "legacy OpenPGP") return sig_check_legacy(read, r, what, objs);
    SignedMetadata md = parse_metadata(r.signer.text, what + "'s signed metadata");
    std::set<std::uint64_t> signed_ids, group_ids;
    for (auto& om : md.objects) signed_ids.insert(std::uint64_t(min_id) + om.relative_id);
    for (auto* o : objs) group_ids.insert(o->id);
    for (auto* o : objs)
        if (!signed_ids.count(o->id))
            sig_refuse(what, "it does not cover " + sig_which(*o) + " of object group " +
                                 std::to_string(r.group) + " (added after signing)");
    for (auto id : signed_ids)
        if (!group_ids.count(id))
            sig_refuse(what, "it covers object " + std::to_string(id) + ", which object group " +
                                 std::to_string(r.group) + " does not hold (removed or moved)");
    std::string head = sig_read(read, 0, kHeaderSize);
    std::string got = digest_bytes(md.header.algorithm, header_integrity_bytes(head));
    if (got != md.header.value) sig_refuse(what, sig_mismatch("the SIF header", md.header, got));
    for (auto* o : objs) {
        const ObjectDigests* om = nullptr;
        for (auto& m : md.objects)
            if (std::uint64_t(min_id) + m.relative_id == o->id) om = &m;
        std::string d = sig_read(read, o->descriptor_at, kDescriptorSize);
        got = digest_bytes(om->descriptor.algorithm, descriptor_integrity_bytes(d, o->id - min_id));
        if (got != om->descriptor.value)
            sig_refuse(what,
                       sig_mismatch("the descriptor of " + sig_which(*o), om->descriptor, got));
        got = sig_digest_object(read, *o, om->data.algorithm);
        if (got != om->data.value)
            sig_refuse(what, sig_mismatch("the data of " + sig_which(*o), om->data, got));
    }
}

} // namespace

bool Report::ok() const {
    if (!problems.empty() || signatures.empty()) return false;
    return std::all_of(signatures.begin(), signatures.end(), [](auto& s) { return s.verified; });
}

SignatureInfo signature_info(std::string_view extra) {
    SignatureInfo i;
    if (extra.size() < 4 + kSigEntityLen) return i;
    switch (sig_u32(extra, 0)) {
    case 1:
        i.hash = "sha256";
        break;
    case 2:
        i.hash = "sha384";
        break;
    case 3:
        i.hash = "sha512";
        break;
    case 4:
        i.hash = "blake2s_256";
        break;
    case 5:
        i.hash = "blake2b_256";
        break;
    default:
        i.hash = "unknown (" + std::to_string(sig_u32(extra, 0)) + ")";
    }
    auto fp = extra.substr(4, kSigFingerprintLen);
    if (fp.find_first_not_of('\0') != std::string_view::npos) i.fingerprint = sig_hex(fp, true);
    return i;
}

SignedMetadata parse_metadata(std::string_view text, const std::string& what) {
    if (text.size() > kMaxSignatureBytes)
        sig_refuse(what, "it is " + std::to_string(text.size()) + " bytes (at most " +
                             std::to_string(kMaxSignatureBytes) + ")");
    json v = safe_json::parse_or_discarded(text, 8);
    if (v.is_discarded()) sig_refuse(what, "it is not JSON (or nests deeper than 8 levels)");
    sig_object(v, {"version", "header", "objects"}, what, "metadata");
    if (!v["version"].is_number_integer() || v["version"].get<std::int64_t>() != 1)
        sig_refuse(what, "its version is not 1 (the only one the reference writes)");
    SignedMetadata md;
    md.header = sig_parse_digest(sig_object(v["header"], {"digest"}, what, "header")["digest"],
                                 what, "header digest");
    const json& objs = v["objects"];
    if (!objs.is_array() || objs.empty()) sig_refuse(what, "its objects are not a non-empty array");
    if (objs.size() > std::size_t(kMaxDescriptors))
        sig_refuse(what, "it lists " + std::to_string(objs.size()) + " objects (at most " +
                             std::to_string(kMaxDescriptors) + ")");
    std::set<std::uint32_t> seen;
    for (std::size_t i = 0; i < objs.size(); ++i) {
        std::string where = "object " + std::to_string(i + 1);
        const json& o =
            sig_object(objs[i], {"relativeId", "descriptorDigest", "objectDigest"}, what, where);
        const json& id = o["relativeId"];
        if (!id.is_number_unsigned() || id.get<std::uint64_t>() > 0xffffffffu)
            sig_refuse(what, "its " + where + "'s relativeId is not a 32-bit unsigned number");
        ObjectDigests od;
        od.relative_id = id.get<std::uint32_t>();
        if (!seen.insert(od.relative_id).second)
            sig_refuse(what, "it lists relativeId " + std::to_string(od.relative_id) + " twice");
        od.descriptor =
            sig_parse_digest(o["descriptorDigest"], what, where + "'s descriptorDigest");
        od.data = sig_parse_digest(o["objectDigest"], what, where + "'s objectDigest");
        md.objects.push_back(std::move(od));
    }
    return md;
}

bool is_legacy_message(std::string_view message) {
    // the text follows the armor headers' blank line
    auto at = message.find("\n\n");
    if (at == std::string_view::npos) return false;
    std::string_view text = message.substr(at + 2);
    return text.substr(0, 9) == "SIFHASH:\n" || text.substr(0, 10) == "SIFHASH:\r\n";
}

std::string digest_bytes(const std::string& algorithm, std::string_view bytes) {
    SigHasher h(algorithm);
    h.update(bytes);
    return h.digest();
}

std::string digest_object(const ReadAt& read, const Object& o, const std::string& algorithm) {
    return sig_digest_object(read, o, algorithm);
}

std::string descriptor_integrity_bytes(std::string_view d, std::uint32_t relative_id) {
    // rawDescriptor: type 0, used 4, id 5, group 9, linked 13, offset 17, size 25, size with
    // padding 33, created 41, modified 49, uid 57, gid 65, name 73, extra 201
    std::string b(d.substr(0, 5));
    for (int i = 0; i < 4; ++i) b += static_cast<char>((relative_id >> (8 * i)) & 0xff);
    b += d.substr(13, 4);
    b += d.substr(25, 8);
    b += d.substr(41, 8);
    b += d.substr(57, 16);
    b += d.substr(73, 128 + 384);
    return b;
}

std::string header_integrity_bytes(std::string_view h) {
    // launch script [32], magic [10], version [3] (then arch [3]), id [16]
    return std::string(h.substr(0, 45)) + std::string(h.substr(48, 16));
}

std::vector<SignatureResult> list_signatures(const Container& c) {
    std::vector<SignatureResult> out;
    for (auto& o : c.objects) {
        if (o.type != std::int32_t(DataType::signature)) continue;
        SignatureResult r;
        r.id = o.id;
        if (o.linked & kSigGroupMask)
            r.group = o.linked & ~kSigGroupMask;
        else
            r.linked_object = o.linked;
        out.push_back(std::move(r));
    }
    return out;
}

Report verify(const Container& c, const ReadAt& read, const Checks& checks,
              const std::string& what) {
    Report rep;
    rep.signatures = list_signatures(c);
    if (rep.signatures.empty()) return rep;
    std::map<std::uint32_t, std::vector<const Object*>> groups;
    for (auto& o : c.objects) {
        if (o.group)
            groups[o.group].push_back(&o);
        else if (o.type != std::int32_t(DataType::signature))
            rep.problems.push_back(sig_which(o) + " belongs to no object group, so no signature "
                                                  "covers it");
    }
    std::set<std::uint32_t> signed_groups, signed_objects;
    for (auto& r : rep.signatures) {
        const Object* sig = nullptr;
        for (auto& o : c.objects)
            if (o.id == r.id && o.type == std::int32_t(DataType::signature)) sig = &o;
        std::string d = sig_read(read, sig->descriptor_at, kDescriptorSize);
        r.info = signature_info(std::string_view(d).substr(201, 384));
        try {
            std::string name = "signature object " + std::to_string(r.id);
            std::vector<const Object*> objs;
            if (!r.group) {
                for (auto& o : c.objects)
                    if (o.id == r.linked_object && o.type != std::int32_t(DataType::signature))
                        objs.push_back(&o);
                if (objs.empty())
                    sig_refuse(name, "it is linked to object " + std::to_string(r.linked_object) +
                                         ", which " + what + " does not hold");
            } else {
                auto g = groups.find(r.group);
                if (g == groups.end())
                    sig_refuse(name, "it is linked to object group " + std::to_string(r.group) +
                                         ", which " + what + " does not hold");
                objs = g->second;
            }
            r.covers.clear();
            for (auto* o : objs) r.covers.push_back(*o);
            std::uint32_t min_id = 0xffffffffu;
            for (auto* o : objs) min_id = std::min(min_id, o->id);
            sig_check(read, checks, r, *sig, objs, min_id);
            r.verified = true;
            if (r.group)
                signed_groups.insert(r.group);
            else
                signed_objects.insert(r.linked_object);
        } catch (const Error& e) {
            if (e.code() != Errc::policy && e.code() != Errc::invalid) throw;
            r.error = e.message();
        }
    }
    for (auto& kv : groups) {
        std::uint32_t id = kv.first; // no structured binding: clang before 16 captures none
        const std::vector<const Object*>& objs = kv.second;
        if (signed_groups.count(id)) continue;
        // legacy signatures linked to each of the group's objects sign it too
        bool each = std::all_of(objs.begin(), objs.end(),
                                [&](const Object* o) { return signed_objects.count(o->id) > 0; });
        if (each) continue;
        bool any = std::any_of(rep.signatures.begin(), rep.signatures.end(), [&](auto& s) {
            return s.group == id || std::any_of(objs.begin(), objs.end(), [&](const Object* o) {
                       return !s.group && s.linked_object == o->id;
                   });
        });
        if (!any)
            rep.problems.push_back("object group " + std::to_string(id) + " (" +
                                   std::to_string(objs.size()) + " objects) has no signature");
    }
    return rep;
}

Report verify(const Container& c, const ReadAt& read, const CheckMessage& check,
              const std::string& what) {
    Checks checks;
    checks.openpgp = check;
    return verify(c, read, checks, what);
}

bool group_verified(const Report& rep, std::uint32_t group) {
    return std::any_of(rep.signatures.begin(), rep.signatures.end(), [group](auto& s) {
        return s.verified && s.group == group && s.form != "legacy OpenPGP";
    });
}

} // namespace gantry::sif
