// Fuzzes the checks of a SIF's signatures (sif/signature): the input is a SIF file whose
// signature objects are clear-signed messages, their OpenPGP part replaced by a stand-in that
// returns the text between the armor headers and the signature (as GPGME would after a good
// signature) and the fingerprint the descriptor names; or, when the input is no SIF, the signed
// metadata JSON itself, or a DSSE envelope (sif/dsse.hpp) when it is a JSON object with
// "payloadType". DSSE signatures are checked by a stand-in that accepts any, legacy signatures
// are checked (Checks::legacy). Every refusal is an Error; a verified signature covers exactly
// its group's objects (a legacy one linked to an object: that object), all inside the input.
#include "fuzz_support.hpp"
#include "sif/container.hpp"
#include "sif/dsse.hpp"
#include "sif/signature.hpp"

#include <cstring>

using namespace gantry;

GANTRY_FUZZ_TARGET(sif_signature) {
    auto in = fuzz::bytes(data, size);
    if (!sif::looks_like_sif(in) && in.find("\"payloadType\"") != std::string::npos) {
        fuzz::expect_error([&] {
            auto e = sif::parse_envelope(in, "fuzz envelope");
            FUZZ_CHECK(!e.signatures.empty() && e.signatures.size() <= sif::kMaxDsseSignatures);
            for (auto& s : e.signatures) FUZZ_CHECK(!s.sig.empty());
            auto p = sif::pae(e.payload_type, e.payload);
            FUZZ_CHECK(p.size() > e.payload.size() + e.payload_type.size());
            auto again = sif::parse_envelope(sif::encode_envelope(e.payload, e.signatures), "x");
            FUZZ_CHECK(again.payload == e.payload &&
                       again.signatures.size() == e.signatures.size());
        });
        return 0;
    }
    if (!sif::looks_like_sif(in)) {
        fuzz::expect_error([&] {
            auto md = sif::parse_metadata(in, "fuzz metadata");
            FUZZ_CHECK(!md.objects.empty() && md.header.value.size() >= 28);
        });
        return 0;
    }
    fuzz::expect_error([&] {
        auto c = sif::parse(in, "fuzz.sif");
        std::string fpr;
        sif::CheckMessage check = [&fpr](const std::string& m) {
            auto at = m.find("\n\n"), end = m.find("\n-----BEGIN PGP SIGNATURE-----");
            if (at == std::string::npos || end == std::string::npos || end < at)
                throw Error(Errc::policy, "not a clear-signed message");
            return sif::SignedText{m.substr(at + 2, end - at - 2), fpr, ""};
        };
        auto read = [&in](std::uint64_t at, char* buf, std::size_t n) {
            FUZZ_CHECK(at <= in.size() && n <= in.size() - at);
            std::memcpy(buf, in.data() + at, n);
        };
        // the stand-in signer is the one the first signature descriptor names
        for (auto& o : c.objects)
            if (o.type == static_cast<std::int32_t>(sif::DataType::signature) && fpr.empty())
                fpr = sif::signature_info(std::string_view(in).substr(o.descriptor_at + 201, 384))
                          .fingerprint;
        sif::Checks checks;
        checks.openpgp = check;
        checks.dsse = [](const std::string& pae, const std::vector<sif::DsseSignature>& sigs) {
            FUZZ_CHECK(pae.starts_with("DSSEv1 ") && !sigs.empty());
            return std::string("fuzz");
        };
        checks.legacy = true;
        auto rep = sif::verify(c, read, checks, "fuzz.sif");
        for (auto& s : rep.signatures) {
            if (!s.verified) continue;
            FUZZ_CHECK(s.error.empty() && !s.covers.empty());
            for (auto& o : s.covers)
                FUZZ_CHECK((s.group ? o.group == s.group : o.id == s.linked_object) &&
                           o.offset + o.size <= in.size());
        }
    });
    return 0;
}
