// EXPOSE's port specifications read as BuildKit reads them (dockerfile2llb's parsePort):
// [[IP:]HOSTPORT:]PORT[-END][/PROTO], the protocol tcp, udp or sctp (any case, tcp when left
// out), every port a decimal number in 0..65535, a range expanded into one port each. What the
// image config's ExposedPorts keys become: "80/tcp".
#pragma once

#include <string>
#include <vector>

namespace gantry::image_build {

// The "PORT/proto" keys of one EXPOSE word (already expanded). Throws Error(invalid) naming the
// word and what is wrong with it (a port out of range, an unknown protocol, a bad range).
std::vector<std::string> exposed_ports(const std::string& word);

} // namespace gantry::image_build
