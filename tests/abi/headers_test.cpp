// The ABI headers compiled as C++ (built twice: -std=c++17 and -std=c++20, -Wall -Wextra
// -pedantic -Werror), with the same layout assertions as the C build, plus type traits that
// make the structs safe to share with C.
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "layout_asserts.h"

template <class T>
constexpr bool c_compatible = std::is_standard_layout_v<T> && std::is_trivially_copyable_v<T>;

static_assert(c_compatible<rh_str> && c_compatible<rh_writer> && c_compatible<rh_event> && c_compatible<rh_host> &&
              c_compatible<rh_plugin_desc> && c_compatible<rh_plugin_entry> && c_compatible<rh_runtime_adapter> &&
              c_compatible<rh_runtime_context> && c_compatible<rh_exit> && c_compatible<rh_policy_plugin> &&
              c_compatible<rh_connector_plugin> && c_compatible<rh_http_request> && c_compatible<rh_http_response>,
              "ABI structs must be standard-layout and trivially copyable");
static_assert(std::is_same_v<rh_status, int32_t>, "rh_status is a fixed-width integer, not an enum");
static_assert(std::is_same_v<decltype(&runhost_plugin_entry_v1), rh_plugin_entry_fn>, "entry declaration and typedef agree");

int main() {
  int failed = 0;
  constexpr rh_str lit = RH_STR_LIT("abc");
  if (lit.len != 3 || std::strncmp(lit.data, "abc", 3) != 0) ++failed;
  std::printf("abi_headers_cxx%ld: %d passed, %d failed\n", __cplusplus / 100 % 100, 1 - failed, failed);
  return failed;
}
