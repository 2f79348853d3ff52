#include "devices/local/artifact_rules.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <utility>

namespace runhost::devices::local {
namespace {

// Longest suffix first where one ends another (".tar.gz" before ".gz").
constexpr std::pair<std::string_view, std::string_view> kContentTypes[] = {
    {".tar.gz", "application/gzip"},
    {".pdf", "application/pdf"},
    {".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".svg", "image/svg+xml"},
    {".zip", "application/zip"},
    {".gz", "application/gzip"},
    {".html", "text/html"},
    {".htm", "text/html"},
    {".csv", "text/csv"},
    {".md", "text/markdown"},
    {".json", "application/json"},
    {".txt", "text/plain"},
};

bool ends_with_ignoring_case(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), s.end() - static_cast<std::ptrdiff_t>(suffix.size()),
                    [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
}

}  // namespace

bool matches_any(const std::vector<std::string>& patterns, const std::string& relative_path) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return ::fnmatch(p.c_str(), relative_path.c_str(), 0) == 0; });
}

std::string_view content_type_for(std::string_view path) {
  for (const auto& [suffix, type] : kContentTypes) {
    if (ends_with_ignoring_case(path, suffix)) return type;
  }
  return "application/octet-stream";
}

}  // namespace runhost::devices::local
