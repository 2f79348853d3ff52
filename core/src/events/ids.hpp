// Identifiers: ULIDs (48-bit millisecond time + 80 random bits, Crockford base32, 26 chars),
// prefixed by what they name: run_…, evt_…, art_…. Sortable by creation time, unique without
// coordination between hosts.
#pragma once

#include <string>
#include <string_view>

namespace runhost::events {

std::string new_ulid();
std::string new_id(std::string_view prefix);  // prefix + "_" + ULID

}  // namespace runhost::events
