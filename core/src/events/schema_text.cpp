// docs/events.schema.json, embedded: core/CMakeLists.txt writes it into the generated
// events_schema_text.inc as one raw string literal when the build is configured.
#include "events/schema.hpp"

namespace runhost::events {

std::string_view event_schema_text() noexcept {
  static constexpr std::string_view kText =
#include "events_schema_text.inc"
      ;
  return kText;
}

}  // namespace runhost::events
