// runhost grants add / list / revoke: the connector grants kept in the store.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "host_flags.hpp"
#include "terminal.hpp"
// Internal: a token read from stdin joins the host's redaction before anything could print it.
#include "util/secrets.hpp"

namespace runhost::cli {
namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "usage: runhost grants add --connector C (--code CODE | --token-stdin) [--user U] [--tenant T] "
    "[--scopes A,B] [--expires-in SECONDS] [--json] | runhost grants list [--user U] [--connector C] [--all] "
    "[--json] [--tenant T] | runhost grants revoke GRANT_ID [--tenant T]";

std::vector<std::string> split_scopes(const std::string& text) {
  std::vector<std::string> scopes;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    if (comma > at) scopes.push_back(text.substr(at, comma - at));
    at = comma + 1;
  }
  return scopes;
}

int64_t parse_seconds(const std::string& text) {
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || v <= 0) {
    throw UsageError{"--expires-in takes whole seconds > 0, got '" + text + "'"};
  }
  return v;
}

// The secret material on stdin: a JSON object as it is, or a bare token as
// {"access_token": TOKEN}. Never repeated in a message.
std::string read_secret_from_stdin() {
  std::string text(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>{});
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw UsageError{"--token-stdin: stdin is empty"};
  text = text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
  json secret;
  if (text[0] == '{') {
    secret = json::parse(text, nullptr, false);
    if (!secret.is_object()) throw UsageError{"--token-stdin: stdin starts with '{' but is not a JSON object"};
  } else {
    secret = json{{"access_token", text}};
  }
  for (const auto& [key, value] : secret.items()) {
    if (value.is_string()) util::secrets().add(value.get<std::string>());
  }
  return secret.dump();
}

json grant_json(const GrantInfo& g) {
  const json metadata = json::parse(g.metadata_json, nullptr, false);
  return {{"id", g.id},
          {"tenant_id", g.tenant_id},
          {"user_id", g.user_id},
          {"connector", g.connector},
          {"scopes", g.scopes},
          {"state", g.state},
          {"created_us", g.created_us},
          {"expires_us", g.expires_us > 0 ? json(g.expires_us) : json(nullptr)},
          {"revoked_us", g.revoked_us > 0 ? json(g.revoked_us) : json(nullptr)},
          {"metadata", metadata.is_object() ? metadata : json::object()}};
}

std::string joined(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : separator) + i;
  return out;
}

// A failed host call: its message, and the exit status its code calls for.
int failed(const char* command, const Error& error) {
  std::cerr << "runhost grants " << command << ": " << error.message << "\n";
  if (error.code == ErrorCode::invalid_dispatch && std::string_view(command) != "revoke") return exit_status::usage;
  return error.code == ErrorCode::store_unavailable ? exit_status::no_host : exit_status::failed;
}

int add(const std::vector<std::string>& argv) {
  const auto args = parse_args(
      argv, with_host_flags({{"--token-stdin", "--json"},
                             {"--tenant", "--user", "--connector", "--code", "--scopes", "--expires-in", "--metadata"}}));
  if (!args.positionals.empty()) throw UsageError{"unexpected argument '" + args.positionals.front() + "'"};
  const auto connector = args.value("--connector");
  if (!connector || connector->empty()) throw UsageError{"grants add needs --connector C"};
  if (args.has("--token-stdin") == args.value("--code").has_value()) {
    throw UsageError{"grants add takes one of --code CODE (the connector exchanges it) or --token-stdin"};
  }
  for (const auto& flag : args.values("--plugin-config")) {
    if (args.has("--token-stdin") && flag.size() >= 3 && flag.compare(flag.size() - 3, 3, "=@-") == 0) {
      throw UsageError{"--plugin-config " + flag + ": stdin is read by --token-stdin already (one reader only)"};
    }
  }
  const Scope scope = scope_of(args);
  GrantInput input;
  input.tenant_id = scope.tenant_id.value_or("local");  // runhost run's default tenant
  input.user_id = args.value("--user").value_or(default_actor());
  input.connector = *connector;
  input.code = args.value("--code");
  if (args.has("--token-stdin")) input.secret_json = read_secret_from_stdin();
  if (auto scopes = args.value("--scopes")) input.scopes = split_scopes(*scopes);
  if (auto expires = args.value("--expires-in")) input.expires_in_s = parse_seconds(*expires);
  input.metadata_json = args.value("--metadata").value_or("");
  auto host = open_host(args);
  if (!host) return exit_status::no_host;
  auto grant = host->add_grant(input, scope);
  if (!grant) return failed("add", grant.error());
  if (args.has("--json")) {
    std::cout << grant_json(*grant).dump(2) << "\n";
    return exit_status::ok;
  }
  std::cout << "added " << grant->id << ": connector " << grant->connector << " for user " << grant->user_id
            << " of tenant " << grant->tenant_id << ", scopes "
            << (grant->scopes.empty() ? std::string("(none)") : joined(grant->scopes, " ")) << ", "
            << (grant->expires_us > 0 ? "expires " + local_time(grant->expires_us) : std::string("does not expire"))
            << "\n";
  return exit_status::ok;
}

int list(const std::vector<std::string>& argv) {
  const auto args = parse_args(argv, with_host_flags({{"--all", "--json"}, {"--tenant", "--user", "--connector"}}));
  if (!args.positionals.empty()) throw UsageError{"unexpected argument '" + args.positionals.front() + "'"};
  const Scope scope = scope_of(args);
  GrantQuery query;
  query.user_id = args.value("--user");
  query.connector = args.value("--connector");
  query.include_revoked = query.include_expired = args.has("--all");
  query.limit = 1000;
  auto host = open_host(args);
  if (!host) return exit_status::no_host;
  auto grants = host->grants(query, scope);
  if (!grants) return failed("list", grants.error());
  if (args.has("--json")) {
    json out = json::array();
    for (const auto& g : *grants) out.push_back(grant_json(g));
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return exit_status::ok;
  }
  std::FILE* o = stdout;
  char header[160];
  std::snprintf(header, sizeof header, "%-30s %-12s %-12s %-12s %-8s %-19s  %-19s  %s", "GRANT", "TENANT", "USER",
                "CONNECTOR", "STATE", "CREATED", "EXPIRES", "SCOPES");
  std::fprintf(o, "%s\n", paint(o, Colour::dim, header).c_str());
  for (const auto& g : *grants) {
    const Colour state = g.state == "active" ? Colour::green : g.state == "expired" ? Colour::yellow : Colour::red;
    const std::string padded = g.state + std::string(8 - std::min<size_t>(8, g.state.size()), ' ');
    std::fprintf(o, "%-30s %-12s %-12s %-12s %s %-19s  %-19s  %s\n", g.id.c_str(), g.tenant_id.c_str(),
                 g.user_id.c_str(), g.connector.c_str(), paint(o, state, padded).c_str(), local_time(g.created_us).c_str(),
                 g.expires_us > 0 ? local_time(g.expires_us).c_str() : "-", joined(g.scopes, " ").c_str());
  }
  return exit_status::ok;
}

int revoke(const std::vector<std::string>& argv) {
  const auto args = parse_args(argv, with_host_flags({{}, {"--tenant"}}));
  if (args.positionals.size() != 1) throw UsageError{"usage: runhost grants revoke GRANT_ID [--tenant T]"};
  const Scope scope = scope_of(args);
  auto host = open_host(args);
  if (!host) return exit_status::no_host;
  if (auto st = host->revoke_grant(args.positionals[0], scope); !st) return failed("revoke", st.error());
  std::cout << "revoked " << args.positionals[0] << " (runs dispatched from now on no longer get it)\n";
  return exit_status::ok;
}

}  // namespace

int cmd_grants(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].rfind("--", 0) == 0) throw UsageError{kUsage};
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (argv[0] == "add") return add(rest);
  if (argv[0] == "list") return list(rest);
  if (argv[0] == "revoke") return revoke(rest);
  throw UsageError{"unknown subcommand '" + argv[0] + "' (add, list, revoke)"};
}

}  // namespace runhost::cli
