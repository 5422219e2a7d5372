#include "sif/dsse.hpp"

#include "sif/signature.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/nettle.hpp"

#include <algorithm>

namespace gantry::sif {

using json = nlohmann::json;

namespace {

[[noreturn]] void dsse_refuse(const std::string& what, const std::string& why) {
    throw Error(Errc::policy, what + ": " + why);
}

// Standard or URL-safe base64, padded or not (the spec accepts both alphabets).
std::string dsse_b64(const json& v, const std::string& what, const std::string& field) {
    if (!v.is_string()) dsse_refuse(what, "its " + field + " is not a string");
    std::string s = v.get<std::string>();
    for (char& c : s) {
        if (c == '-') c = '+';
        if (c == '_') c = '/';
    }
    while (s.size() % 4) s += '=';
    auto d = nettle::base64_decode(s);
    if (!d) dsse_refuse(what, "its " + field + " is not base64");
    return *d;
}

void dsse_fields(const json& v, std::initializer_list<const char*> keys,
                 std::initializer_list<const char*> required, const std::string& what,
                 const std::string& where) {
    if (!v.is_object()) dsse_refuse(what, "its " + where + " is not a JSON object");
    for (auto& item : v.items()) {
        const std::string& k = item.key();
        if (std::none_of(keys.begin(), keys.end(), [&k](const char* key) { return k == key; }))
            dsse_refuse(what,
                        "its " + where + " has the unknown field \"" + k.substr(0, 64) + "\"");
    }
    for (const char* key : required)
        if (!v.contains(key)) dsse_refuse(what, "its " + where + " lacks \"" + key + "\"");
}

} // namespace

bool looks_like_envelope(std::string_view data) {
    auto at = data.find_first_not_of(" \t\r\n");
    return at != std::string_view::npos && data[at] == '{';
}

Envelope parse_envelope(std::string_view data, const std::string& what) {
    if (data.size() > kMaxSignatureBytes)
        dsse_refuse(what, "it is " + std::to_string(data.size()) + " bytes (at most " +
                              std::to_string(kMaxSignatureBytes) + ")");
    json v = safe_json::parse_or_discarded(data, 4);
    if (v.is_discarded())
        dsse_refuse(what, "it is not a DSSE envelope (not JSON, or nested deeper than 4 levels)");
    dsse_fields(v, {"payloadType", "payload", "signatures"},
                {"payloadType", "payload", "signatures"}, what, "DSSE envelope");
    Envelope e;
    if (!v["payloadType"].is_string()) dsse_refuse(what, "its payloadType is not a string");
    e.payload_type = v["payloadType"].get<std::string>();
    e.payload = dsse_b64(v["payload"], what, "payload");
    const json& sigs = v["signatures"];
    if (!sigs.is_array() || sigs.empty())
        dsse_refuse(what, "its signatures are not a non-empty array");
    if (sigs.size() > kMaxDsseSignatures)
        dsse_refuse(what, "it has " + std::to_string(sigs.size()) + " signatures (at most " +
                              std::to_string(kMaxDsseSignatures) + ")");
    for (std::size_t i = 0; i < sigs.size(); ++i) {
        std::string where = "signature " + std::to_string(i + 1);
        dsse_fields(sigs[i], {"keyid", "sig"}, {"sig"}, what, where);
        DsseSignature s;
        if (sigs[i].contains("keyid")) {
            if (!sigs[i]["keyid"].is_string())
                dsse_refuse(what, "its " + where + "'s keyid is not a string");
            s.key_id = sigs[i]["keyid"].get<std::string>();
        }
        s.sig = dsse_b64(sigs[i]["sig"], what, where + "'s sig");
        if (s.sig.empty()) dsse_refuse(what, "its " + where + "'s sig is empty");
        e.signatures.push_back(std::move(s));
    }
    return e;
}

std::string pae(std::string_view type, std::string_view body) {
    std::string s = "DSSEv1 " + std::to_string(type.size()) + " ";
    s += type;
    s += " " + std::to_string(body.size()) + " ";
    s += body;
    return s;
}

std::string encode_envelope(std::string_view payload, const std::vector<DsseSignature>& sigs) {
    // the fields' order and the trailing newline as Go's json.Encoder writes sif's struct
    std::string s = "{\"payloadType\":" + json(kDssePayloadType).dump() +
                    ",\"payload\":" + json(nettle::base64_encode(std::string(payload))).dump() +
                    ",\"signatures\":[";
    for (std::size_t i = 0; i < sigs.size(); ++i)
        s += std::string(i ? "," : "") + "{\"keyid\":" + json(sigs[i].key_id).dump() +
             ",\"sig\":" + json(nettle::base64_encode(sigs[i].sig)).dump() + "}";
    return s + "]}\n";
}

} // namespace gantry::sif
