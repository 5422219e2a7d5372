// std::optional as JSON, for nlohmann::json (3.11.2 has no support of its own): nullopt is null,
// a value is that value. With it, NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE takes optional members.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

namespace nlohmann {

template <class T>
struct adl_serializer<std::optional<T>> {
    static void to_json(json& j, const std::optional<T>& v) {
        if (v)
            j = *v;
        else
            j = nullptr;
    }
    static void from_json(const json& j, std::optional<T>& v) {
        if (j.is_null())
            v.reset();
        else
            v = j.get<T>();
    }
};

} // namespace nlohmann
