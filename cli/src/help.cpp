#include "help.hpp"

#include <algorithm>
#include <array>

namespace runhost::cli {
namespace {

constexpr const char* kHostFlags = R"(
Store and plugins (every command that opens the store):
  --store PATH            the SQLite store (default: $XDG_DATA_HOME/runhost/runhost.db)
  --plugin-dir DIR        an extra plugin directory (repeatable), searched first
  --workspace-root DIR    where local runs' cwd must lie (default: $RUNHOST_WORKSPACE_ROOT,
                          else the current directory)
  --plugin-config ID=JSON|ID=@FILE|ID=@-
                          a plugin's config inline, from FILE or from stdin; a config holding
                          a secret only from a file or stdin (every process can read argv)
  --limits FILE|JSON      budgets and quotas (docs/budgets.md): the JSON itself, or a file
                          holding it (default: $RUNHOST_LIMITS; none without either)
)";

constexpr const char* kTenant = R"(
  --tenant T              act as tenant T: another tenant's run is as missing as an unknown
                          one. Without it, the operator's view of every tenant.
)";

struct CommandHelp {
  std::string_view name;
  std::string_view synopsis;  // for the overview: the command line
  std::string_view summary;   // and what it does
  std::string_view body;      // for `runhost COMMAND --help`
  bool opens_store;
  bool takes_tenant;
};

constexpr std::array kCommands = {
    CommandHelp{"run",
                "runhost run [OPTIONS] [-- COMMAND ARGS...]", "dispatch one run and print its events live",
                R"(Usage: runhost run [--dispatch FILE|-] [--runtime ID] [--prompt TEXT] [--cwd DIR]
                   [--device local|sandbox] [--tenant T] [--workspace W] [--project P] [--user U]
                   [--device-id ID] [--approval-policy auto|confirm-risky|manual]
                   [--idempotency-key K] [--connector ID]... [--timeout SECONDS]
                   [--output-mode text|jsonl] [--resume SESSION] [--json] [--keep-raw]
                   [--artifact-pattern GLOB]... [--approval-timeout SECONDS] [-- COMMAND ARGS...]

Dispatch one run and print its events as they become durable (JSON lines with --json).

  --dispatch FILE|-       the DevicePromptDispatch as JSON (a file, or - for stdin); each
                          flag below sets one field on top of it
  --runtime ID            claude-code, codex, gemini-cli, opencode, custom, ... (runhost plugins)
  --prompt TEXT           the user's prompt
  --cwd DIR               the run's working directory (inside --workspace-root; in a
                          sandbox, inside /workspace)
  --device local|sandbox  deviceType (default local). sandbox: a MIOSA sandbox (needs
                          MIOSA_API_KEY; docs/devices.md)
  --device-id ID          local: this host's name (the default); sandbox: the sandbox to run
                          in, resumed if paused (default: the --project's current sandbox, or a
                          new one, created once per --idempotency-key)
  --tenant, --workspace, --project, --user    who the run is for (tenantId, workspaceId, ...)
  --approval-policy P     auto (default), confirm-risky or manual
  --idempotency-key K     the same key with the same request replays the run instead of
                          starting it again (default: a fresh key)
  --connector ID          a connector grant the run needs (repeatable)
  --timeout SECONDS       end the run (run.failed, timeout) after this long
  --output-mode M         the custom runtime's stdout: text lines or jsonl events
  --resume SESSION        continue the runtime's own session (an earlier run's session_id)
  --json                  print each event's JSON envelope, one per line
  --keep-raw              keep each event's native line in its `raw` field (stored, and
                          printed with --json): for debugging an adapter's mapping
  --artifact-pattern GLOB which files become artifact.created (repeatable; replaces the
                          defaults: *.pdf *.docx *.xlsx *.pptx *.png *.jpg *.jpeg *.gif *.svg
                          *.zip *.tar.gz *.html *.csv *.md; `*` also matches `/`)
  --approval-timeout S   an approval.required unanswered this long is denied (default 3600)
  -- COMMAND ARGS...      the custom runtime's argv (runtime defaults to custom)

Fields not given get local defaults: tenant "local", workspace "default", user $USER, device
local on this host, approval policy auto, a fresh idempotency key. Ctrl-C cancels the run and
waits for its last event; a second Ctrl-C leaves at once. It exits 1 when the run failed or
the store stopped taking its events, or was refused by a budget or quota (--limits:
budget_exceeded, quota_exceeded, the message naming the limit), 2 for an invalid dispatch,
130 when it was cancelled.
)",
                true, false},
    CommandHelp{"events",
                "runhost events RUN_ID [--after N] [--follow] [--json]", "print a run's events",
                R"(Usage: runhost events RUN_ID [--after N] [--follow] [--json] [--tenant T]

Print a run's stored events: any run of the store, this process's or another's, live or
finished.

  --after N               only events with seq > N (resume from a cursor)
  --follow                keep printing as events arrive, until the run's terminal event
  --json                  print each event's JSON envelope, one per line (with `raw` when the
                          run kept it: runhost run --keep-raw)
)",
                true, true},
    CommandHelp{"runs",
                "runhost runs [--status S] [--limit N] [--json]", "list runs, newest first",
                R"(Usage: runhost runs [--tenant T] [--status S] [--limit N] [--json]

List run records, newest first.

  --status S              only runs in status S: queued, running, succeeded, failed, cancelled
  --limit N               at most N runs
  --json                  a JSON array of records
)",
                true, true},
    CommandHelp{"cancel",
                "runhost cancel RUN_ID", "cancel a run",
                R"(Usage: runhost cancel RUN_ID [--tenant T]

Cancel a run: its own host stops its runtime and records run.cancelled (a run of another
process is cancelled through the store; its host acts within a second). A run that has ended
is left as it is.
)",
                true, true},
    CommandHelp{"approvals",
                "runhost approvals [--json]", "list the approvals waiting for an answer",
                R"(Usage: runhost approvals [--tenant T] [--json]

List the approval.required requests still waiting for an answer, oldest first, of runs in this
store whatever process runs them: the approval id, its run, when it was asked, its deadline (no
answer by then is a deny) and what it is about. Answer with runhost approve or runhost deny.

  --json                  each with its whole request (the approval.required payload)
)",
                true, true},
    CommandHelp{"approve",
                "runhost approve RUN_ID APPROVAL_ID [--reason TEXT]", "allow what a run waits for",
                R"(Usage: runhost approve RUN_ID APPROVAL_ID [--scope once|run] [--reason TEXT] [--by WHO] [--tenant T]

Answer a pending approval with allow, from any process sharing the store. The answer is
recorded at once (a second answer is refused, naming the first); the run's own host applies it
within milliseconds and records approval.resolved (decision, scope, reason, by, source human).
Exits 1 when the approval is not pending (already answered, settled by its deadline, unknown).

  --scope once|run        what the answer covers: this request (once, the default), or also the
                          run's later requests for the same action, policy and rule (run)
  --reason TEXT           recorded with the decision
  --by WHO                who answers, recorded as `by` (default: $USER)
)",
                true, true},
    CommandHelp{"deny",
                "runhost deny RUN_ID APPROVAL_ID [--reason TEXT]", "refuse what a run waits for",
                R"(Usage: runhost deny RUN_ID APPROVAL_ID [--reason TEXT] [--by WHO] [--tenant T]

Answer a pending approval with deny, from any process sharing the store: the run's host records
approval.resolved. A run that waits to start ends run.failed (policy_denied, with the reason); a
runtime that asked about an action (a live approval) is told no, with the reason, and goes on
without it. Exits 1 when the approval is not pending.

  --reason TEXT           recorded with the decision and in the run's failure
  --by WHO                who answers, recorded as `by` (default: $USER)
)",
                true, true},
    CommandHelp{"grants",
                "runhost grants add|list|revoke ...", "keep connector grants: add, list, revoke",
                R"(Usage: runhost grants add --connector C (--code CODE | --token-stdin) [--user U] [--tenant T]
                          [--scopes A,B] [--expires-in SECONDS] [--metadata JSON] [--json]
       runhost grants list [--user U] [--connector C] [--all] [--json] [--tenant T]
       runhost grants revoke GRANT_ID [--tenant T]

Keep the connector grants of this store: what a user let a connector do for them. A run that
names the connector (runhost run --connector C) gets the newest active grant of its tenant and
user; without one it fails with connector_authorization_missing and the connect URL, and once a
grant is added the same dispatch, retried, runs. The secret material is stored apart from
everything else and never printed, logged or put in an event.

add: records a grant for user U (default: $USER) of tenant T (default: local).
  --connector C           a loaded connector's id (runhost plugins)
  --code CODE             an authorization code from the connect page; the connector exchanges it
                          with its provider (for oauth2, at its token_url)
  --token-stdin           the secret material on stdin: a JSON object, or a bare token stored as
                          {"access_token": TOKEN}; a token never goes on the command line
  --scopes A,B            the scopes asked for (--code) or granted (--token-stdin)
  --expires-in SECONDS    when a --token-stdin grant expires (default: never; a code's exchange
                          says its own)
  --metadata JSON         a JSON object kept with the grant, never secret (an account name)
  --json                  print the grant as JSON
  Exits 2 for an invalid grant (the message names the field), 1 when the provider refused
  the code or the connector failed.

list: the active grants, newest first (--all: revoked and expired ones too); never a secret.
  --user U, --connector C only those

revoke: the grant is marked revoked and its secret deleted; runs dispatched from then on do not
  get it. Exits 1 for a grant that does not exist or is another tenant's.
)",
                true, true},
    CommandHelp{"usage",
                "runhost usage [--user U] [--since DATE] [--json]", "add up what runs spent, per usage source",
                R"(Usage: runhost usage [--tenant T] [--user U] [--workspace W] [--run RUN_ID]
                     [--since DATE] [--until DATE] [--json]

Add up the usage events of every run in the store, whatever process ran it, per usage source
(anthropic, openai, ...): cost in USD, input, output and cached input tokens, and how many
events. The same ledger budgets are counted from (see --limits).

  --user U, --workspace W, --run RUN_ID    only those runs' usage
  --since DATE, --until DATE              only usage at or after / before DATE: today, month
                          (the current UTC day or month, as budgets count them), YYYY-MM-DD
                          (UTC midnight) or YYYY-MM-DDTHH:MM[:SS]Z
  --json                  {"sources": [...], "total": {...}}
)",
                true, true},
    CommandHelp{"plugins",
                "runhost plugins [--plugin-dir DIR]... [--json] [--strict]", "list plugins and refusals",
                R"(Usage: runhost plugins [--plugin-dir DIR]... [--no-env] [--no-bundled] [--json] [--strict]

List the plugins found on the search path, and every library refused, with why. The search
path: each --plugin-dir, then RUNHOST_PLUGIN_PATH (':'-separated, unless --no-env), then the
bundled directory (unless --no-bundled).

  --json                  the directories, plugins and refusals as JSON
  --strict                exit 1 when anything was refused
)",
                false, false},
    CommandHelp{"plugin",
                "runhost plugin check PATH [--json]", "check a plugin library",
                R"(Usage: runhost plugin check PATH [--json] [--no-isolate] [--timeout SECONDS]

Run the conformance checks on one plugin library (its manifest beside it), in a child process
that is killed after --timeout seconds (default 60), so a plugin that crashes or hangs is
reported, not fatal. Exits 1 naming each failed check.

  --json                  each check and its outcome as JSON
  --no-isolate            check in this process (a crash then ends the command)
)",
                false, false},
    CommandHelp{"version",
                "runhost version", "the version and plugin ABI",
                "Usage: runhost version\n\nPrint runhost's version and the plugin ABI it speaks.\n", false, false},
    CommandHelp{"help",
                "runhost help [COMMAND]", "this help, or a command's",
                "Usage: runhost help [COMMAND]\n\nPrint the overview, or COMMAND's help (as runhost COMMAND --help).\n",
                false, false},
};

constexpr const char* kExitCodes = R"(
Exit status (every command): 0 success, 1 the run or the check failed, 2 usage error,
3 no such run (or not the --tenant's), 70 the store or the plugins could not be opened,
130 the run was cancelled (runhost run).
)";

constexpr const char* kEnvironment = R"(
Environment:
  RUNHOST_PLUGIN_PATH     extra plugin directories, ':'-separated
  RUNHOST_WORKSPACE_ROOT  the default --workspace-root
  RUNHOST_LIMITS          the default --limits (a file, or the JSON itself)
  MIOSA_BASE_URL          the MIOSA API for --device sandbox (default https://api.miosa.ai;
                          /api/v1 is appended as the SDK does)
  MIOSA_API_KEY           its key (or MIOSA_ACCESS_TOKEN); a secret, never printed or stored
  MIOSA_TENANT            sent as X-MIOSA-Tenant
  RUNHOST_MIOSA_TEMPLATE  the template of the sandboxes runhost creates (default miosa-sandbox)
  RUNHOST_LOG             log level on stderr: trace, debug, info, warn (default), error, off
  NO_COLOR                disable colour on a terminal
)";

}  // namespace

std::optional<std::string> command_help(std::string_view command) {
  for (const auto& c : kCommands) {
    if (c.name != command) continue;
    std::string out(c.body);
    if (c.takes_tenant) out += kTenant;
    if (c.opens_store) out += kHostFlags;
    out += kExitCodes;
    out += kEnvironment;
    return out;
  }
  return std::nullopt;
}

std::string overview() {
  std::string out = "runhost — run AI agent runtimes under policy, stream unified events\n\nUsage:\n";
  size_t width = 0;
  for (const auto& c : kCommands) width = std::max(width, c.synopsis.size());
  for (const auto& c : kCommands) {
    out += "  ";
    out += c.synopsis;
    out.append(width + 3 - c.synopsis.size(), ' ');
    out += c.summary;
    out += "\n";
  }
  out += "\nrunhost COMMAND --help (or runhost help COMMAND) describes a command and its options.\n";
  out += kExitCodes;
  out += kEnvironment;
  return out;
}

bool asks_for_help(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--") return false;  // the custom runtime's argv: its --help is its own
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

}  // namespace runhost::cli
