#include "engine/limits.hpp"

#include <ctime>
#include <vector>

#include <nlohmann/json.hpp>

namespace runhost::engine {
namespace {

using nlohmann::json;

// Each key of "budgets" and "quotas", and where it goes.
struct Key {
  const char* section;
  const char* name;
  std::optional<double> LimitSet::*member;
  bool whole;  // a count of runs: a whole number
};

constexpr Key kKeys[] = {
    {"budgets", "run_usd", &LimitSet::run_usd, false},
    {"budgets", "run_tokens", &LimitSet::run_tokens, true},
    {"budgets", "user_day_usd", &LimitSet::user_day_usd, false},
    {"budgets", "user_day_tokens", &LimitSet::user_day_tokens, true},
    {"budgets", "tenant_month_usd", &LimitSet::tenant_month_usd, false},
    {"budgets", "tenant_month_tokens", &LimitSet::tenant_month_tokens, true},
    {"quotas", "concurrent_per_tenant", &LimitSet::concurrent_per_tenant, true},
    {"quotas", "concurrent_per_user", &LimitSet::concurrent_per_user, true},
    {"quotas", "concurrent_per_workspace", &LimitSet::concurrent_per_workspace, true},
    {"quotas", "runs_per_tenant_per_hour", &LimitSet::runs_per_tenant_per_hour, true},
    {"quotas", "runs_per_user_per_day", &LimitSet::runs_per_user_per_day, true},
};

Error bad(const std::string& where, const std::string& problem) {
  return Error{ErrorCode::invalid_dispatch, "limits: " + where + " " + problem};
}

std::string known_in(const char* section) {
  std::string out;
  for (const auto& k : kKeys) {
    if (std::string_view(k.section) == section) out += (out.empty() ? "" : ", ") + std::string(k.name);
  }
  return out;
}

// Applies one {"budgets": {...}, "quotas": {...}} object onto `into`. `prefix` names it in
// errors ("" or "tenants.acme."); under a tenant (a prefix) null lifts a limit.
Status apply(const json& doc, const std::string& prefix, bool allow_tenants, LimitSet& into) {
  for (const auto& [section, members] : doc.items()) {
    if (section == "tenants" && allow_tenants) continue;
    if (section != "budgets" && section != "quotas") {
      return bad(prefix + section,
                 std::string("is not a limits section (budgets, quotas") + (allow_tenants ? ", tenants)" : ")"));
    }
    if (!members.is_object()) return bad(prefix + section, "must be an object");
    for (const auto& [name, value] : members.items()) {
      const Key* key = nullptr;
      for (const auto& k : kKeys) {
        if (section == k.section && name == k.name) key = &k;
      }
      const std::string where = prefix + section + "." + name;
      if (key == nullptr)
        return bad(where, "is not a known limit (" + known_in(section == "budgets" ? "budgets" : "quotas") + ")");
      if (value.is_null() && !prefix.empty()) {
        into.*(key->member) = std::nullopt;
        continue;
      }
      if (!value.is_number() || value.get<double>() < 0) return bad(where, "must be a number >= 0");
      const double number = value.get<double>();
      if (key->whole && !value.is_number_integer() && !value.is_number_unsigned() &&
          number != static_cast<double>(static_cast<int64_t>(number))) {
        return bad(where, "must be a whole number >= 0");
      }
      into.*(key->member) = number;
    }
  }
  return {};
}

int64_t to_us(std::tm& utc) {
  return static_cast<int64_t>(timegm(&utc)) * 1'000'000;
}

std::tm utc_of(int64_t unix_us) {
  const std::time_t seconds = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return utc;
}

}  // namespace

bool LimitSet::any_budget() const noexcept {
  return run_usd || run_tokens || user_day_usd || user_day_tokens || tenant_month_usd || tenant_month_tokens;
}

Result<Limits> Limits::parse(std::string_view text) {
  Limits limits;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return limits;
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return bad("the configuration", "is not a JSON object");
  if (auto st = apply(doc, "", true, limits.defaults_); !st) return std::move(st).error();
  if (auto tenants = doc.find("tenants"); tenants != doc.end()) {
    if (!tenants->is_object()) return bad("tenants", "must be an object of tenant id -> {budgets, quotas}");
    for (const auto& [tenant, entry] : tenants->items()) {
      if (!entry.is_object()) return bad("tenants." + tenant, "must be an object {budgets, quotas}");
      LimitSet own = limits.defaults_;
      if (auto st = apply(entry, "tenants." + tenant + ".", false, own); !st) return std::move(st).error();
      limits.tenants_.emplace(tenant, own);
    }
  }
  return limits;
}

const LimitSet& Limits::for_tenant(const std::string& tenant_id) const {
  auto it = tenants_.find(tenant_id);
  return it == tenants_.end() ? defaults_ : it->second;
}

int64_t utc_day_start(int64_t unix_us) {
  std::tm utc = utc_of(unix_us);
  utc.tm_hour = utc.tm_min = utc.tm_sec = 0;
  return to_us(utc);
}

int64_t utc_next_day_start(int64_t unix_us) {
  std::tm utc = utc_of(unix_us);
  utc.tm_hour = utc.tm_min = utc.tm_sec = 0;
  ++utc.tm_mday;  // timegm normalises the 32nd into the next month
  return to_us(utc);
}

int64_t utc_month_start(int64_t unix_us) {
  std::tm utc = utc_of(unix_us);
  utc.tm_mday = 1;
  utc.tm_hour = utc.tm_min = utc.tm_sec = 0;
  return to_us(utc);
}

int64_t utc_next_month_start(int64_t unix_us) {
  std::tm utc = utc_of(unix_us);
  utc.tm_mday = 1;
  utc.tm_hour = utc.tm_min = utc.tm_sec = 0;
  ++utc.tm_mon;
  return to_us(utc);
}

}  // namespace runhost::engine
