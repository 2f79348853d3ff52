// Which files are artifacts, and what they are: glob patterns on the relative path, and the
// content type a small table gives for the extension.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace runhost::devices::local {

// fnmatch without FNM_PATHNAME: "*.pdf" matches "out/report.pdf" too.
bool matches_any(const std::vector<std::string>& patterns, const std::string& relative_path);

// "application/pdf", "text/html", ...; application/octet-stream when the extension is unknown.
std::string_view content_type_for(std::string_view path);

}  // namespace runhost::devices::local
