// Blocking HTTP for plugins (rh_host.http_request), through libcurl. Called on worker threads.
#pragma once

#include <string>

#include <runhost/host.h>

namespace runhost::http {

// Performs the request; on failure returns the status and fills `error` with one line.
rh_status perform(const rh_http_request* request, rh_http_response* response, std::string& error) noexcept;

}  // namespace runhost::http
