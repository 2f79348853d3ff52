"""How to launch each real agent CLI headless against the scripted model server: the one place.

Everything a launch needs — argv, environment, config files — for Claude Code, Codex, Gemini
CLI and OpenCode, pointed at a model server on 127.0.0.1 and cut off from the internet
(telemetry, auto-update and other non-essential traffic disabled; API keys are dummies).
The recorder (record.py), the end-to-end suite and the adapters' documentation all use it.

    from runtimes import RUNTIMES
    launch = RUNTIMES["codex"].launch(port=8123, home=Path("/var/tmp/h"), prompt="hi")
    launch.write_files()
    subprocess.run(launch.argv, env=launch.env, cwd=work_dir)

``python3 tests/e2e/runtimes.py [RUNTIME]`` prints the recipes as JSON, with the port as the
placeholder {PORT} and HOME as {HOME}.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN_DIR = REPO / "tools" / "runtimes" / "node_modules" / ".bin"

# A dummy credential: every CLI insists on one, the scripted server ignores it. Recorded
# fixtures never contain it (record.py checks).
DUMMY_KEY = "x-e2e-dummy-key"

# Retries are capped so a scripted HTTP failure ends the run in seconds: first attempt, then
# one retry. The scripted 500-then-429 scenario relies on exactly this.
MAX_RETRIES = 1


@dataclass
class Launch:
    """One ready-to-run invocation. `files` (absolute path -> content) must exist first."""

    runtime: str
    argv: list[str]
    env: dict[str, str]
    files: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None  # written to the CLI's stdin, then closed (None: no stdin at all)

    def write_files(self, place: Callable[[Path], Path] = lambda p: p) -> None:
        """Writes the files (and makes TMPDIR); `place` maps a path as the CLI sees it to where
        this process writes it (a sandbox's home, seen from the host)."""
        if "TMPDIR" in self.env:
            place(Path(self.env["TMPDIR"])).mkdir(parents=True, exist_ok=True)
        for path, content in self.files.items():
            p = place(Path(path))
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)


def base_env(home: Path) -> dict[str, str]:
    """What every CLI gets: a private HOME and XDG tree, a plain PATH with node, no colours."""
    node_dir = str(Path(shutil.which("node") or "/usr/bin/node").parent)
    path = os.pathsep.join(dict.fromkeys([str(BIN_DIR), node_dir, "/usr/local/bin", "/usr/bin", "/bin"]))
    return {
        "PATH": path,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": str(home / "tmp"),  # Gemini CLI drops error reports in the temp directory
    }


def claude_code(port: int, home: Path, prompt: str) -> Launch:
    env = base_env(home) | {
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ANTHROPIC_API_KEY": DUMMY_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_MAX_RETRIES": str(MAX_RETRIES),
    }
    # As root, bypassPermissions is refused: name the tools the scenarios use instead.
    argv = [str(BIN_DIR / "claude"), "-p", prompt, "--output-format", "stream-json", "--verbose",
            "--allowedTools", "Bash,Write,Edit,Read"]
    return Launch("claude-code", argv, env)


def codex(port: int, home: Path, prompt: str) -> Launch:
    codex_home = home / ".codex"
    config = f"""\
# Written by tests/e2e/runtimes.py: codex against the scripted model server.
model = "gpt-5.5"
model_provider = "e2e"
check_for_update_on_startup = false

[model_providers.e2e]
name = "runhost e2e scripted model server"
base_url = "http://127.0.0.1:{port}/v1"
wire_api = "responses"
env_key = "RUNHOST_E2E_API_KEY"
request_max_retries = {MAX_RETRIES}
stream_max_retries = {MAX_RETRIES}

[analytics]
enabled = false

# Off: the curated-plugin sync (github.com, api.github.com, chatgpt.com on every start) and
# connection retries without end (a dead model server would hang the run).
[features]
plugins = false
remote_plugin = false
apps = false
unbounded_connection_retries = false
"""
    env = base_env(home) | {"CODEX_HOME": str(codex_home), "RUNHOST_E2E_API_KEY": DUMMY_KEY}
    argv = [str(BIN_DIR / "codex"), "exec", "--json", "--skip-git-repo-check", "--sandbox", "workspace-write", prompt]
    return Launch("codex", argv, env, {str(codex_home / "config.toml"): config})


def gemini_cli(port: int, home: Path, prompt: str) -> Launch:
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"maxAttempts": MAX_RETRIES + 1, "enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        # A fixed model: with the default "auto", every turn first asks a router model (a side
        # request to gemini-*-flash-lite) which model to use.
        "model": {"name": "gemini-2.5-pro"},
    }
    env = base_env(home) | {
        "GEMINI_API_KEY": DUMMY_KEY,
        "GOOGLE_GEMINI_BASE_URL": f"http://127.0.0.1:{port}",
        # Without a trusted folder, --approval-mode yolo is silently downgraded.
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
    }
    argv = [str(BIN_DIR / "gemini"), "-p", prompt, "--output-format", "stream-json", "--approval-mode", "yolo"]
    return Launch("gemini-cli", argv, env, {str(home / ".gemini" / "settings.json"): json.dumps(settings, indent=2) + "\n"})


def opencode(port: int, home: Path, prompt: str) -> Launch:
    config = {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "model": "e2e/scripted",
        "small_model": "e2e/scripted",
        "permission": {"edit": "allow", "bash": "allow", "webfetch": "deny", "external_directory": "deny"},
        "provider": {
            "e2e": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "runhost e2e scripted model server",
                "options": {"baseURL": f"http://127.0.0.1:{port}/v1", "apiKey": DUMMY_KEY},
                "models": {"scripted": {"name": "scripted", "tool_call": True}},
            }
        },
    }
    env = base_env(home) | {
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        "OPENCODE_DISABLE_SHARE": "1",
        "OPENCODE_DISABLE_CLAUDE_CODE": "1",
        "OPENCODE_DISABLE_EXTERNAL_SKILLS": "1",
        "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    }
    argv = [str(BIN_DIR / "opencode"), "run", "--format", "json", prompt]  # the model: config "model"
    config_dir = home / ".config" / "opencode"
    # On every start OpenCode npm-installs @opencode-ai/plugin into each config directory in
    # the background (registry traffic) unless node_modules exists and package-lock.json
    # already lists it. Nothing here uses plugins, so claim it is installed.
    lock = {"name": "opencode-config", "lockfileVersion": 3,
            "packages": {"": {"dependencies": {"@opencode-ai/plugin": "*"}}}}
    return Launch("opencode", argv, env, {
        str(config_dir / "opencode.json"): json.dumps(config, indent=2) + "\n",
        str(config_dir / "package-lock.json"): json.dumps(lock, indent=2) + "\n",
        str(config_dir / "node_modules" / ".keep"): "",
    })


def pi(port: int, home: Path, prompt: str) -> Launch:
    """Pi (@mariozechner/pi-coding-agent): an OpenAI-compatible provider "e2e" on the scripted
    server, the default in settings.json, so the CLI needs no model flag. The prompt goes on
    stdin (pi reads it there when stdin is not a terminal)."""
    agent_dir = home / ".pi" / "agent"
    models = {"providers": {"e2e": {
        "baseUrl": f"http://127.0.0.1:{port}/v1", "api": "openai-completions", "apiKey": DUMMY_KEY,
        "compat": {"supportsDeveloperRole": False, "supportsReasoningEffort": False},
        "models": [{"id": "scripted", "reasoning": False, "contextWindow": 128000, "maxTokens": 4096}]}}}
    # Retries capped as for the other CLIs (the first attempt, one retry, 200 ms apart); the
    # provider SDK's own retries off, so only pi's count.
    settings = {"defaultProvider": "e2e", "defaultModel": "scripted",
                "retry": {"enabled": True, "maxRetries": MAX_RETRIES, "baseDelayMs": 200,
                          "provider": {"maxRetries": 0}}}
    env = base_env(home) | {"PI_CODING_AGENT_DIR": str(agent_dir), "PI_OFFLINE": "1"}
    argv = [str(BIN_DIR / "pi"), "--mode", "json", "-p"]
    return Launch("pi", argv, env, {
        str(agent_dir / "models.json"): json.dumps(models, indent=2) + "\n",
        str(agent_dir / "settings.json"): json.dumps(settings, indent=2) + "\n",
    }, stdin=prompt)


HERMES_VENV = REPO / "tools" / "runtimes" / "hermes-venv"


def hermes(port: int, home: Path, prompt: str) -> Launch:
    """Hermes (hermes-agent on PyPI, in tools/runtimes/hermes-venv) through its ACP server: a bare
    "custom" provider on the scripted server (loopback base URLs are trusted), its config in a
    private HOME; the e2e suite drives it with the hermes runtime (ACP), so argv is that server."""
    config = f"""\
# Written by tests/e2e/runtimes.py: hermes against the scripted model server.
model:
  provider: custom
  base_url: http://127.0.0.1:{port}/v1
  default: scripted
  api_key: {DUMMY_KEY}
"""
    env = base_env(home) | {"PATH": f"{HERMES_VENV / 'bin'}:{base_env(home)['PATH']}", "HERMES_HOME": str(home / ".hermes"),
                            "OPENAI_API_KEY": DUMMY_KEY}
    argv = [str(HERMES_VENV / "bin" / "hermes"), "acp"]
    return Launch("hermes", argv, env, {str(home / ".hermes" / "config.yaml"): config})


# What a run through runhost needs beyond the adapter's defaults, as plugin config members
# (the adapters' "executable", "env", "args" and their own options); the environment of the
# recipe is added as "env" (see Runtime.plugin_config).
# Nothing about permissions: under approvalPolicy "auto" (runhost run's default) every adapter lets
# its agent act by itself (claude-code asks the host, which allows what no policy stops; gemini-cli
# runs --approval-mode=yolo, opencode --auto, codex its workspace-write sandbox).
ADAPTER_CONFIG: dict[str, dict[str, object]] = {
    "claude-code": {},
    "codex": {},
    "gemini-cli": {},
    "opencode": {},
    "pi": {},
    "hermes": {},
}


@dataclass(frozen=True)
class Runtime:
    id: str  # the runhost runtime id
    binary: str  # under tools/runtimes/node_modules/.bin
    wire: str  # the model server's wire format (modelserver module)
    _make: Callable[[int, Path, str], Launch]
    bin_dir: Path = BIN_DIR  # where scripts/install-runtimes puts the program

    @property
    def path(self) -> Path:
        return self.bin_dir / self.binary

    def installed(self) -> bool:
        return os.access(self.path, os.X_OK)

    def launch(self, *, port: int, home: Path, prompt: str) -> Launch:
        return self._make(port, home, prompt)

    def plugin_config(self, *, port: int, home: Path) -> tuple[dict[str, object], Launch]:
        """The runhost plugin config that runs this CLI against the server ({"executable",
        "env", ...ADAPTER_CONFIG}), and the launch whose files must be written first."""
        launch = self.launch(port=port, home=home, prompt="")
        return {"executable": str(self.path), "env": launch.env, **ADAPTER_CONFIG[self.id]}, launch


RUNTIMES: dict[str, Runtime] = {
    r.id: r
    for r in (
        Runtime("claude-code", "claude", "anthropic", claude_code),
        Runtime("codex", "codex", "responses", codex),
        Runtime("gemini-cli", "gemini", "gemini", gemini_cli),
        Runtime("opencode", "opencode", "chat", opencode),
        Runtime("pi", "pi", "chat", pi),
        Runtime("hermes", "hermes", "chat", hermes, HERMES_VENV / "bin"),
    )
}


def describe(runtime: Runtime) -> dict[str, object]:
    """The recipe with placeholders, for documentation."""
    home = Path("/HOME_PLACEHOLDER")
    launch = runtime.launch(port=65535, home=home, prompt="{PROMPT}")

    def sub(s: str) -> str:
        return s.replace("65535", "{PORT}").replace(str(home), "{HOME}").replace(str(BIN_DIR), "{BIN}")

    return {
        "runtime": runtime.id,
        "binary": sub(str(runtime.path)),
        "wire": runtime.wire,
        "argv": [sub(a) for a in launch.argv],
        "env": {k: sub(v) for k, v in launch.env.items()},
        "files": {sub(k): sub(v) for k, v in launch.files.items()},
        "runhost_plugin_config": {"executable": sub(str(runtime.path)), "env": "(the env above)",
                                  **ADAPTER_CONFIG[runtime.id]},
    }


if __name__ == "__main__":
    wanted = sys.argv[1:] or list(RUNTIMES)
    print(json.dumps([describe(RUNTIMES[w]) for w in wanted], indent=2))
