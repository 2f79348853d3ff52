#include "event_printer.hpp"

#include <nlohmann/json.hpp>

#include "terminal.hpp"

namespace runhost::cli {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// One line of text: control characters shown, long text cut.
std::string one_line(std::string s, size_t max = 400) {
  for (auto& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (s.size() > max) s = s.substr(0, max) + "…";
  return s;
}

Colour colour_of(const std::string& type, const json& payload) {
  if (type == "run.failed") return Colour::red;
  if (type == "run.completed") return Colour::green;
  if (type == "run.cancelled" || type == "approval.required") return Colour::yellow;
  if (type == "command.output") return str(payload, "stream") == "stderr" ? Colour::yellow : Colour::none;
  if (type == "file.changed") return Colour::cyan;
  if (type == "preview.ready" || type == "deployment.ready") return Colour::magenta;
  if (type == "artifact.created") return Colour::blue;
  if (type == "runtime.unparsed") return Colour::dim;
  if (type == "policy.decision") return str(payload, "effect") == "allow" ? Colour::dim : Colour::yellow;
  return Colour::none;
}

std::string describe(const std::string& type, const json& p) {
  if (type == "run.started") {
    std::string argv;
    if (p.contains("argv")) {
      for (const auto& a : p["argv"]) argv += (argv.empty() ? "" : " ") + (a.is_string() ? a.get<std::string>() : a.dump());
    }
    return "pid " + str(p, "pid") + " in " + str(p, "cwd") + ": " + argv;
  }
  if (type == "command.output" || type == "message" || type == "reasoning") return str(p, "text");
  if (type == "file.changed") {
    std::string s = str(p, "change") + " " + str(p, "path");
    if (p.contains("from")) s += " (from " + str(p, "from") + ")";
    if (p.contains("size_bytes")) s += " (" + human_bytes(p["size_bytes"].get<long long>()) + ")";
    return s;
  }
  if (type == "preview.ready") return str(p, "url") + "  (pid " + str(p, "pid") + ")";
  if (type == "artifact.created") {
    const std::string sha = str(p, "sha256");
    return str(p, "path") + "  " + str(p, "content_type") + "  " + human_bytes(p.value("size_bytes", 0LL)) +
           (sha.empty() ? "" : "  sha256 " + sha.substr(0, 12) + "…");
  }
  if (type == "tool.started") return str(p, "name") + " " + (p.contains("input") ? p["input"].dump() : "");
  if (type == "tool.completed") return str(p, "name") + " " + str(p, "status");
  if (type == "run.completed") return p.contains("exit_code") ? "exit " + str(p, "exit_code") : "done";
  if (type == "run.failed" && p.contains("error")) {
    const json& e = p["error"];
    std::string s = str(e, "code") + ": " + str(e, "message");
    if (e.contains("recovery")) s += "  → " + str(e["recovery"], "action");
    return s;
  }
  if (type == "run.cancelled") return str(p, "reason");
  if (type == "runtime.unparsed") return str(p, "reason") + ": " + str(p, "line");
  if (type == "approval.required") {
    const std::string summary = p.contains("action") ? str(p["action"], "summary") : std::string();
    return str(p, "approval_id") + ": " + (summary.empty() ? std::string() : summary + " — ") + str(p, "reason");
  }
  if (type == "approval.resolved") return str(p, "approval_id") + ": " + str(p, "decision") + " (" + str(p, "source") + ")";
  if (type == "policy.decision") {
    const std::string name = p.contains("action") ? str(p["action"], "name") : std::string();
    std::string s = str(p, "effect") + " " + str(p, "phase") + (name.empty() ? std::string() : " " + name);
    if (p.contains("reason")) s += ": " + str(p, "reason");
    return s;
  }
  return p.dump();
}

}  // namespace

std::string human_bytes(long long bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

void EventPrinter::print(const Event& event) {
  if (json_) {
    std::fprintf(out_, "%s\n", event.json.c_str());
    std::fflush(out_);
    return;
  }
  const json e = json::parse(event.json, nullptr, false);
  const json payload = e.is_object() ? e.value("payload", json::object()) : json::object();
  const std::string time = e.is_object() ? str(e, "time") : std::string();
  const std::string clock = time.size() >= 23 ? time.substr(11, 12) : time;
  char seq[24];
  std::snprintf(seq, sizeof seq, "#%-4lld", static_cast<long long>(event.seq));
  std::string type = event.type;
  if (type.size() < 17) type.append(17 - type.size(), ' ');
  const Colour c = colour_of(event.type, payload);
  const bool emphasise = event.type.rfind("run.", 0) == 0;
  std::fprintf(out_, "%s %s %s %s\n", paint(out_, Colour::dim, clock).c_str(), paint(out_, Colour::dim, seq).c_str(),
               paint(out_, emphasise ? Colour::bold : c, type).c_str(),
               paint(out_, c, one_line(describe(event.type, payload))).c_str());
  std::fflush(out_);
}

}  // namespace runhost::cli
