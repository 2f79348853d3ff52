/* Layout of every public ABI struct on LP64 (x86_64, aarch64), asserted at compile time from C
 * and from C++. A change here is an ABI break: only appending fields (and growing the size)
 * is allowed within major 1. Included by layout_test.c and headers_test.cpp. */
#ifndef RUNHOST_TESTS_LAYOUT_ASSERTS_H
#define RUNHOST_TESTS_LAYOUT_ASSERTS_H

#include <runhost/runhost.h>

#ifdef __cplusplus
#include <cstddef>
#else
#include <assert.h>
#include <stddef.h>
#endif

#if UINTPTR_MAX == 0xffffffffffffffffu

#define RH_ASSERT_AT(type, field, offset) \
  static_assert(offsetof(type, field) == (offset), #type "." #field " moved")
#define RH_ASSERT_SIZE(type, size) static_assert(sizeof(type) == (size), "sizeof(" #type ") changed")

RH_ASSERT_SIZE(rh_abi_version, 8);
RH_ASSERT_SIZE(rh_str, 16);
RH_ASSERT_AT(rh_str, len, 8);

RH_ASSERT_SIZE(rh_writer, 24);
RH_ASSERT_AT(rh_writer, host_data, 8);
RH_ASSERT_AT(rh_writer, write, 16);

RH_ASSERT_SIZE(rh_event, 56);
RH_ASSERT_AT(rh_event, type, 8);
RH_ASSERT_AT(rh_event, payload_json, 24);
RH_ASSERT_AT(rh_event, raw, 40);

RH_ASSERT_SIZE(rh_http_header, 32);
RH_ASSERT_SIZE(rh_http_request, 80);
RH_ASSERT_AT(rh_http_request, method, 8);
RH_ASSERT_AT(rh_http_request, url, 24);
RH_ASSERT_AT(rh_http_request, headers, 40);
RH_ASSERT_AT(rh_http_request, header_count, 48);
RH_ASSERT_AT(rh_http_request, body, 56);
RH_ASSERT_AT(rh_http_request, timeout_ms, 72);
RH_ASSERT_SIZE(rh_http_response, 16);
RH_ASSERT_AT(rh_http_response, status, 4);
RH_ASSERT_AT(rh_http_response, body, 8);

RH_ASSERT_SIZE(rh_host, 112);
RH_ASSERT_AT(rh_host, abi, 4);
RH_ASSERT_AT(rh_host, name, 16);
RH_ASSERT_AT(rh_host, version, 24);
RH_ASSERT_AT(rh_host, host_data, 32);
RH_ASSERT_AT(rh_host, log, 40);
RH_ASSERT_AT(rh_host, set_error, 48);
RH_ASSERT_AT(rh_host, last_error, 56);
RH_ASSERT_AT(rh_host, now_us, 64);
RH_ASSERT_AT(rh_host, monotonic_ns, 72);
RH_ASSERT_AT(rh_host, get_extension, 80);
RH_ASSERT_AT(rh_host, emit, 88);
RH_ASSERT_AT(rh_host, http_request, 96);
RH_ASSERT_AT(rh_host, send_input, 104);
RH_ASSERT_SIZE(rh_host_info_ext, 24);
RH_ASSERT_SIZE(rh_process_sink, 32);
RH_ASSERT_AT(rh_process_sink, user, 8);
RH_ASSERT_AT(rh_process_sink, output, 16);
RH_ASSERT_AT(rh_process_sink, exit, 24);
RH_ASSERT_SIZE(rh_processes_ext, 32);
RH_ASSERT_AT(rh_processes_ext, available, 8);
RH_ASSERT_AT(rh_processes_ext, start, 16);
RH_ASSERT_AT(rh_processes_ext, kill, 24);

RH_ASSERT_SIZE(rh_plugin_desc, 64);
RH_ASSERT_AT(rh_plugin_desc, kind, 4);
RH_ASSERT_AT(rh_plugin_desc, id, 8);
RH_ASSERT_AT(rh_plugin_desc, name, 16);
RH_ASSERT_AT(rh_plugin_desc, version, 24);
RH_ASSERT_AT(rh_plugin_desc, vendor, 32);
RH_ASSERT_AT(rh_plugin_desc, description, 40);
RH_ASSERT_AT(rh_plugin_desc, iface, 48);
RH_ASSERT_AT(rh_plugin_desc, get_extension, 56);

RH_ASSERT_SIZE(rh_plugin_entry, 48);
RH_ASSERT_AT(rh_plugin_entry, abi, 4);
RH_ASSERT_AT(rh_plugin_entry, init, 16);
RH_ASSERT_AT(rh_plugin_entry, deinit, 24);
RH_ASSERT_AT(rh_plugin_entry, plugin_count, 32);
RH_ASSERT_AT(rh_plugin_entry, plugins, 40);

RH_ASSERT_SIZE(rh_runtime_context, 136);
RH_ASSERT_AT(rh_runtime_context, host, 8);
RH_ASSERT_AT(rh_runtime_context, run, 16);
RH_ASSERT_AT(rh_runtime_context, run_id, 24);
RH_ASSERT_AT(rh_runtime_context, dispatch_json, 40);
RH_ASSERT_AT(rh_runtime_context, constraints_json, 56);
RH_ASSERT_AT(rh_runtime_context, config_json, 72);
RH_ASSERT_AT(rh_runtime_context, resume_id, 88);
RH_ASSERT_AT(rh_runtime_context, cwd, 104);  /* 1.1 */
RH_ASSERT_AT(rh_runtime_context, mcp_servers_json, 120);  /* 1.2 */
RH_ASSERT_SIZE(rh_exit, 20);
RH_ASSERT_AT(rh_exit, kind, 4);
RH_ASSERT_AT(rh_exit, code, 8);
RH_ASSERT_AT(rh_exit, signal, 12);
RH_ASSERT_AT(rh_exit, flags, 16);
RH_ASSERT_SIZE(rh_runtime_adapter, 72);
RH_ASSERT_AT(rh_runtime_adapter, protocol, 4);
RH_ASSERT_AT(rh_runtime_adapter, capabilities, 8);
RH_ASSERT_AT(rh_runtime_adapter, create, 16);
RH_ASSERT_AT(rh_runtime_adapter, launch, 24);
RH_ASSERT_AT(rh_runtime_adapter, feed, 32);
RH_ASSERT_AT(rh_runtime_adapter, respond, 40);
RH_ASSERT_AT(rh_runtime_adapter, finish, 48);
RH_ASSERT_AT(rh_runtime_adapter, destroy, 56);
RH_ASSERT_AT(rh_runtime_adapter, cancel, 64);

RH_ASSERT_SIZE(rh_policy_plugin, 32);
RH_ASSERT_AT(rh_policy_plugin, create, 8);
RH_ASSERT_AT(rh_policy_plugin, evaluate, 16);
RH_ASSERT_AT(rh_policy_plugin, destroy, 24);

RH_ASSERT_SIZE(rh_connector_plugin, 64);
RH_ASSERT_AT(rh_connector_plugin, create, 8);
RH_ASSERT_AT(rh_connector_plugin, describe, 16);
RH_ASSERT_AT(rh_connector_plugin, check, 24);
RH_ASSERT_AT(rh_connector_plugin, materialize, 32);
RH_ASSERT_AT(rh_connector_plugin, invoke, 40);
RH_ASSERT_AT(rh_connector_plugin, destroy, 48);
RH_ASSERT_AT(rh_connector_plugin, exchange, 56); /* since 1.2 */

/* Enum values are part of the ABI too. */
static_assert(RH_OK == 0 && RH_ERR_FAILED == 9, "status codes moved");
static_assert(RH_PLUGIN_KIND_RUNTIME == 1 && RH_PLUGIN_KIND_POLICY == 2 && RH_PLUGIN_KIND_CONNECTOR == 3, "kinds moved");
static_assert(RH_STREAM_STDOUT == 1 && RH_STREAM_STDERR == 2, "streams moved");
static_assert(RH_EXIT_EXITED == 1 && RH_EXIT_SPAWN_FAILED == 4, "exit kinds moved");
static_assert(RH_ABI_VERSION_MAJOR == 1, "this file describes ABI major 1");

#define RH_LAYOUT_CHECKED 1
#else
#define RH_LAYOUT_CHECKED 0 /* not LP64: the layouts above do not apply */
#endif

#endif /* RUNHOST_TESTS_LAYOUT_ASSERTS_H */
