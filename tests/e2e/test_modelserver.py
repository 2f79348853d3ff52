"""The scripted model server on its own, without any CLI: each wire format answers the script,
the step comes from the request's history, retries advance only the attempt, side requests
advance nothing, secrets stay out of the log.

    python3 -m pytest tests/e2e/test_modelserver.py      (or: python3 -m unittest, from tests/e2e)
"""

from __future__ import annotations

import http.client
import io
import json
import sys
import threading
import unittest
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from modelserver import Scenario, make_server  # noqa: E402
from modelserver.scenario import HttpFailure, Reply  # noqa: E402
from modelserver.responses import make_patch  # noqa: E402
from modelserver.scenario import ToolCall  # noqa: E402

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
CWD = "/work/dir"


class Server:
    """A model server for one scenario on a free port, stopped on exit."""

    def __init__(self, name: str):
        self.log = io.StringIO()
        self.server = make_server(Scenario.load(SCENARIOS / f"{name}.json"), self.log)
        self.port = self.server.server_address[1]

    def __enter__(self) -> "Server":
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        data = resp.read().decode()
        conn.close()
        return resp.status, data

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines()]


def sse_data(text: str) -> list[Any]:
    out = []
    for line in text.splitlines():
        if line.startswith("data: "):
            payload = line[len("data: "):]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def anthropic_body(assistant_turns: int, tools: bool = True) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    for i in range(assistant_turns):
        messages += [{"role": "assistant", "content": [{"type": "text", "text": f"turn {i}"}]},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": "ok"}]}]
    body: dict[str, Any] = {"model": "m", "stream": True, "messages": messages,
                            "system": [{"type": "text", "text": f"<env>\nPrimary working directory: {CWD}\n</env>"}]}
    if tools:
        body["tools"] = [{"name": n, "input_schema": {}} for n in ("Bash", "Write", "Edit", "Read")]
    return body


class ScenarioTest(unittest.TestCase):
    def test_failures_before_a_reply_are_attempts_of_one_turn(self) -> None:
        s = Scenario.load(SCENARIOS / "http_500_then_429.json")
        self.assertEqual(len(s.turns), 1)
        self.assertEqual([s.step(0, a).status for a in range(4)], [500, 429, 429, 429])  # type: ignore[union-attr]
        self.assertIsInstance(s.step(0, 0), HttpFailure)

    def test_every_scenario_loads_and_ends_as_expected(self) -> None:
        names = sorted(p.stem for p in SCENARIOS.glob("*.json"))
        self.assertEqual(names, ["command_fail_then_succeed", "edit_file", "http_500_then_429", "killed_mid_run",
                                 "multi_turn_text", "tool_error", "write_file"])
        for name in names:
            s = Scenario.load(SCENARIOS / f"{name}.json")
            self.assertIn(s.raw["expect"]["outcome"], ("completed", "failed", "killed"), name)
            if s.raw["expect"]["outcome"] == "completed":
                last = s.turns[-1].attempts[-1]
                self.assertIsInstance(last, Reply, name)
                self.assertFalse(last.tool_calls, f"{name}: the last reply must end the run")

    def test_patches_for_codex(self) -> None:
        self.assertEqual(make_patch(ToolCall("write_file", {"path": "a.txt", "content": "x\ny\n"})),
                         "*** Begin Patch\n*** Add File: a.txt\n+x\n+y\n*** End Patch\n")
        self.assertEqual(make_patch(ToolCall("edit_file", {"path": "a.txt", "old": "x", "new": "z"})),
                         "*** Begin Patch\n*** Update File: a.txt\n@@\n-x\n+z\n*** End Patch\n")


class AnthropicTest(unittest.TestCase):
    def test_plays_the_script_by_history(self) -> None:
        with Server("write_file") as srv:
            status, text = srv.post("/v1/messages?beta=true", anthropic_body(0), {"x-api-key": "secret-key"})
            self.assertEqual(status, 200)
            events = sse_data(text)
            self.assertEqual(events[0]["type"], "message_start")
            self.assertEqual(events[-1]["type"], "message_stop")
            starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
            self.assertEqual([b["type"] for b in starts], ["text", "tool_use"])
            self.assertEqual(starts[1]["name"], "Write")
            args = "".join(e["delta"]["partial_json"] for e in events
                           if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta")
            self.assertEqual(json.loads(args)["file_path"], f"{CWD}/hello.txt")
            stop = next(e for e in events if e["type"] == "message_delta")
            self.assertEqual(stop["delta"]["stop_reason"], "tool_use")

            # The same request again (a retry) is the same turn; one assistant turn later is the next.
            _, again = srv.post("/v1/messages", anthropic_body(0))
            self.assertIn("tool_use", again)
            _, second = srv.post("/v1/messages", anthropic_body(1))
            deltas = [e["delta"].get("text") for e in sse_data(second) if e["type"] == "content_block_delta"]
            self.assertEqual(deltas, ["Created hello.txt with a greeting."])
            self.assertNotIn("secret-key", srv.log.getvalue())
            self.assertEqual(srv.log_lines()[0]["headers"]["x-api-key"], "<redacted>")

    def test_failures_then_side_requests_do_not_advance(self) -> None:
        with Server("http_500_then_429") as srv:
            side_status, side = srv.post("/v1/messages", anthropic_body(0, tools=False))
            self.assertEqual(side_status, 200)
            self.assertIn("OK.", side)
            s1, b1 = srv.post("/v1/messages", anthropic_body(0))
            s2, b2 = srv.post("/v1/messages", anthropic_body(0))
            s3, _ = srv.post("/v1/messages", anthropic_body(0))
            self.assertEqual((s1, s2, s3), (500, 429, 429))
            self.assertEqual(json.loads(b1)["error"]["type"], "api_error")
            self.assertEqual(json.loads(b2)["error"]["type"], "rate_limit_error")
            self.assertEqual([e.get("kind") for e in srv.log_lines()], ["side", "main", "main", "main"])

    def test_count_tokens(self) -> None:
        with Server("write_file") as srv:
            status, text = srv.post("/v1/messages/count_tokens", anthropic_body(0))
            self.assertEqual(status, 200)
            self.assertGreater(json.loads(text)["input_tokens"], 0)


class ResponsesTest(unittest.TestCase):
    def test_apply_patch_as_custom_tool_and_exec_command(self) -> None:
        tools = [{"type": "function", "name": "exec_command"}, {"type": "custom", "name": "apply_patch"}]
        with Server("edit_file") as srv:
            _, first = srv.post("/v1/responses", {"model": "m", "input": [], "tools": tools, "stream": True})
            done = [e["item"] for e in sse_data(first) if e["type"] == "response.output_item.done"]
            self.assertEqual([i["type"] for i in done], ["message", "function_call"])
            self.assertEqual(json.loads(done[1]["arguments"]), {"cmd": "cat config.ini"})
            self.assertEqual(sse_data(first)[-1]["type"], "response.completed")

            history = [{"type": "message", "role": "user", "content": []}, *done,
                       {"type": "function_call_output", "call_id": done[1]["call_id"], "output": "..."}]
            _, second = srv.post("/v1/responses", {"model": "m", "input": history, "tools": tools, "stream": True})
            items = [e["item"] for e in sse_data(second) if e["type"] == "response.output_item.done"]
            self.assertEqual(items[1]["type"], "custom_tool_call")
            self.assertIn("*** Update File: config.ini\n@@\n-port = 8080\n+port = 9090", items[1]["input"])


class GeminiTest(unittest.TestCase):
    def test_function_calls_and_schema_side_requests(self) -> None:
        decls = [{"name": n, "parametersJsonSchema": {"properties": {"file_path": {}}}}
                 for n in ("run_shell_command", "write_file", "replace", "read_file")]
        body = {"contents": [{"role": "user", "parts": [{"text": "go"}]}], "tools": [{"functionDeclarations": decls}]}
        with Server("write_file") as srv:
            status, text = srv.post("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", body)
            self.assertEqual(status, 200)
            chunks = sse_data(text)
            call = chunks[-1]["candidates"][0]["content"]["parts"][0]["functionCall"]
            self.assertEqual(call["name"], "write_file")
            self.assertEqual(call["args"]["file_path"], "hello.txt")
            self.assertEqual(chunks[-1]["candidates"][0]["finishReason"], "STOP")

            schema = {"type": "object", "properties": {"reasoning": {"type": "string"},
                                                       "next_speaker": {"type": "string", "enum": ["model", "user"]}}}
            side = {"contents": body["contents"], "generationConfig": {"responseJsonSchema": schema}}
            _, text = srv.post("/v1beta/models/gemini-2.5-flash:generateContent", side)
            answer = json.loads(json.loads(text)["candidates"][0]["content"]["parts"][0]["text"])
            self.assertEqual(answer["next_speaker"], "user")

    def test_429_is_resource_exhausted(self) -> None:
        with Server("http_500_then_429") as srv:
            body = {"contents": [], "tools": [{"functionDeclarations": [{"name": "read_file"}]}]}
            self.assertEqual(srv.post("/v1beta/models/m:streamGenerateContent?alt=sse", body)[0], 500)
            status, text = srv.post("/v1beta/models/m:streamGenerateContent?alt=sse", body)
            self.assertEqual((status, json.loads(text)["error"]["status"]), (429, "RESOURCE_EXHAUSTED"))


class ChatTest(unittest.TestCase):
    def test_streamed_tool_calls_end_with_done(self) -> None:
        tools = [{"type": "function", "function": {"name": n, "parameters": {"properties": {"command": {}}}}}
                 for n in ("bash", "write", "edit", "read")]
        body = {"model": "scripted", "stream": True, "tools": tools,
                "messages": [{"role": "system", "content": f"Working directory: {CWD}"}, {"role": "user", "content": "go"}]}
        with Server("command_fail_then_succeed") as srv:
            _, text = srv.post("/v1/chat/completions", body)
            data = sse_data(text)
            self.assertEqual(data[-1], "[DONE]")
            calls = [c for d in data[:-1] for ch in d["choices"] for c in ch["delta"].get("tool_calls", [])]
            self.assertEqual(calls[0]["function"]["name"], "bash")
            args = json.loads("".join(c["function"]["arguments"] for c in calls))
            self.assertEqual(args["command"], "ls reports")
            finish = [ch["finish_reason"] for d in data[:-1] for ch in d["choices"] if ch["finish_reason"]]
            self.assertEqual(finish, ["tool_calls"])
            self.assertIn("usage", data[-2])


class HangTest(unittest.TestCase):
    def test_stream_stalls_and_is_logged_before_it_does(self) -> None:
        with Server("killed_mid_run") as srv:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            conn.request("POST", "/v1/messages", json.dumps(anthropic_body(1)), {"Content-Type": "application/json"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            first = resp.readline()  # the stream has started...
            self.assertTrue(first)
            self.assertEqual(srv.log_lines()[-1]["step"], "hang")  # ...and the log already says so
            conn.close()


if __name__ == "__main__":
    unittest.main()
