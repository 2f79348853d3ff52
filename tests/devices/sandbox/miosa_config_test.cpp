// MIOSA configuration as the SDK reads it: base URL normalisation, where the key, base URL
// and tenant come from, and the key's registration with the secret redactor.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "devices/sandbox/miosa_client.hpp"
#include "util/secrets.hpp"

namespace runhost::devices::sandbox {
namespace {

TEST(NormalizeBaseUrl, FollowsTheSdkRule) {
  const std::map<std::string, std::string> table = {
      {"https://api.miosa.ai", "https://api.miosa.ai/api/v1"},
      {"https://api.miosa.ai/", "https://api.miosa.ai/api/v1"},
      {"https://api.miosa.ai/api/v1", "https://api.miosa.ai/api/v1"},
      {"  https://api.miosa.ai/api/v1/  ", "https://api.miosa.ai/api/v1"},
      {"\thttp://127.0.0.1:8080\n", "http://127.0.0.1:8080/api/v1"},
      {"https://x.example///", "https://x.example/api/v1"},
      {"https://x.example/api/v2", "https://x.example/api/v2"},
      {"https://x.example/v10", "https://x.example/v10"},
      {"https://x.example/custom/v3", "https://x.example/custom/v3"},
      {"https://x.example/v", "https://x.example/v/api/v1"},
      {"https://x.example/api/v1beta", "https://x.example/api/v1beta/api/v1"},
      {"https://x.example/dev1", "https://x.example/dev1/api/v1"},
      {"https://x.example/V1", "https://x.example/V1/api/v1"},  // the SDK's regex is case-sensitive
      {"", ""},
      {"   ", ""},
      {"/", ""},
  };
  for (const auto& [raw, want] : table) EXPECT_EQ(normalize_base_url(raw), want) << "'" << raw << "'";
}

TEST(EscapePathSegment, EncodesLikePythonQuoteWithNothingSafe) {
  EXPECT_EQ(escape_path_segment("my box/1 ä?#%"), "my%20box%2F1%20%C3%A4%3F%23%25");
  EXPECT_EQ(escape_path_segment("A-z_0.9~"), "A-z_0.9~");
}

using Env = std::map<std::string, std::string>;

EnvLookup env_of(Env env) {
  return [env = std::move(env)](const char* name) -> std::optional<std::string> {
    const auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

TEST(MiosaConfig, NoKeyIsAClearDeviceUnavailableError) {
  const auto config = MiosaConfig::from_env_and_options({}, env_of({{"MIOSA_BASE_URL", "http://127.0.0.1:1"}}));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code, ErrorCode::device_unavailable);
  EXPECT_NE(config.error().message.find("MIOSA_API_KEY"), std::string::npos) << config.error().message;
  const auto recovery = nlohmann::json::parse(config.error().recovery_json);
  EXPECT_EQ(recovery["action"], "configure_device");
}

TEST(MiosaConfig, AnEmptyVariableCountsAsUnset) {
  const auto config = MiosaConfig::from_env_and_options({}, env_of({{"MIOSA_API_KEY", ""}}));
  EXPECT_FALSE(config.ok());
}

TEST(MiosaConfig, ReadsTheEnvironmentWithTheDefaultBaseUrl) {
  const auto config = MiosaConfig::from_env_and_options({}, env_of({{"MIOSA_API_KEY", "msk_env_key_0001"}}));
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->api_key, "msk_env_key_0001");
  EXPECT_EQ(config->base_url, "https://api.miosa.ai/api/v1");
  EXPECT_EQ(config->tenant, "");
  EXPECT_EQ(config->max_retries, 3);
  EXPECT_EQ(config->timeout, std::chrono::seconds(60));
}

TEST(MiosaConfig, AnAccessTokenWinsOverAnApiKeyAsInTheSdk) {
  const auto config = MiosaConfig::from_env_and_options(
      {}, env_of({{"MIOSA_API_KEY", "msk_env_key_0002"}, {"MIOSA_ACCESS_TOKEN", "mat_env_token_0002"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->api_key, "mat_env_token_0002");
}

TEST(MiosaConfig, OptionsComeBeforeTheEnvironment) {
  MiosaOptions options;
  options.api_key = "msk_option_key_0003";
  options.base_url = "http://127.0.0.1:9999/";
  options.tenant = "acme";
  const auto config =
      MiosaConfig::from_env_and_options(options, env_of({{"MIOSA_ACCESS_TOKEN", "mat_env_token_0003"},
                                                         {"MIOSA_BASE_URL", "https://elsewhere.example"},
                                                         {"MIOSA_TENANT", "other"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->api_key, "msk_option_key_0003");
  EXPECT_EQ(config->base_url, "http://127.0.0.1:9999/api/v1");
  EXPECT_EQ(config->tenant, "acme");
}

TEST(MiosaConfig, TheEnvironmentsBaseUrlAndTenantAreUsedAndNormalised) {
  const auto config = MiosaConfig::from_env_and_options({}, env_of({{"MIOSA_API_KEY", "msk_env_key_0004"},
                                                                    {"MIOSA_BASE_URL", " https://api.miosa.ai/ "},
                                                                    {"MIOSA_TENANT", "t_1"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->base_url, "https://api.miosa.ai/api/v1");
  EXPECT_EQ(config->tenant, "t_1");
}

TEST(MiosaConfig, BothCredentialsAsOptionsIsRefused) {
  MiosaOptions options;
  options.api_key = "msk_option_key_0005";
  options.access_token = "mat_option_token_0005";
  const auto config = MiosaConfig::from_env_and_options(options, env_of({}));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message.find("msk_option_key_0005"), std::string::npos);
}

TEST(MiosaConfig, ABaseUrlThatIsNotHttpIsRefused) {
  const auto config = MiosaConfig::from_env_and_options(
      {}, env_of({{"MIOSA_API_KEY", "msk_env_key_0006"}, {"MIOSA_BASE_URL", "ftp://api.miosa.ai"}}));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code, ErrorCode::device_unavailable);
  EXPECT_NE(config.error().message.find("MIOSA_BASE_URL"), std::string::npos);
}

TEST(MiosaConfig, AKeyWithALineBreakIsRefusedWithoutQuotingIt) {
  const auto config = MiosaConfig::from_env_and_options({}, env_of({{"MIOSA_API_KEY", "msk_bad\r\nX-Evil: 1"}}));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message.find("msk_bad"), std::string::npos);
}

TEST(MiosaConfig, TheKeyIsRegisteredForRedaction) {
  const auto config = MiosaConfig::from_env_and_options({}, env_of({{"MIOSA_API_KEY", "msk_redact_me_0007"}}));
  ASSERT_TRUE(config.ok());
  std::string line = "request failed with Authorization: Bearer msk_redact_me_0007";
  EXPECT_TRUE(util::secrets().redact(line));
  EXPECT_EQ(line.find("msk_redact_me_0007"), std::string::npos);
}

}  // namespace
}  // namespace runhost::devices::sandbox
