#include "host_core.hpp"

namespace runhost::python {

binding::HostRegistry& open_hosts() {
  static binding::HostRegistry registry;
  return registry;
}

}  // namespace runhost::python
