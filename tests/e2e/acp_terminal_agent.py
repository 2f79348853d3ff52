"""An ACP agent whose only tool is the client's terminal, written on the official ACP Python SDK
(agent-client-protocol, installed with hermes-agent[acp]): none of the real agents here calls
terminal/* (Gemini CLI, OpenCode and Hermes run commands themselves; checked in their packages),
so this one does, to drive runhost's terminal support end to end through the SDK's own client
calls.

The prompt is a command line. The agent runs it in a terminal (terminal/create with no args),
reports a tool call that shows the terminal, waits for the exit, reads the output, and answers
with the exit code ("cwd=DIR:" first: in that directory; a refusal is answered "refused: CODE
MESSAGE"). A prompt starting with "leave:" starts the command and ends the turn at once
without waiting (the host must then kill it with the run); "kill:" starts it, kills it, releases
it and reports what the kill left; "linger:" answers at once and then does not exit when its
stdin closes; "await-cancel:" works until the client's session/cancel and answers cancelled.
"""
import asyncio
import sys
import threading
import time

import acp
from acp import helpers, schema


class TerminalAgent:
    def on_connect(self, conn):
        self.conn = conn

    async def initialize(self, protocol_version, client_capabilities=None, client_info=None, **_):
        self.can_run = bool(client_capabilities and client_capabilities.terminal)
        return schema.InitializeResponse(protocol_version=1, agent_capabilities=schema.AgentCapabilities(),
                                         agent_info=schema.Implementation(name="terminal-agent", version="1.0"))

    async def new_session(self, cwd, mcp_servers=None, **_):
        return schema.NewSessionResponse(session_id="s-terminal")

    async def say(self, session_id, text):
        await self.conn.session_update(session_id=session_id, update=helpers.update_agent_message_text(text))

    async def prompt(self, prompt, session_id, **_):
        command = "".join(block.text for block in prompt if getattr(block, "text", None))
        if not self.can_run:
            await self.say(session_id, "the client offers no terminal")
            return schema.PromptResponse(stop_reason="refusal")
        mode, cwd = "wait", None
        if command.startswith("await-cancel:"):
            # Works until the client cancels (session/cancel), then says so and answers cancelled.
            self.cancelled = asyncio.Event()
            await self.say(session_id, "working until cancelled")
            await asyncio.wait_for(self.cancelled.wait(), 60)
            await self.say(session_id, "cancelled by the client")
            return schema.PromptResponse(stop_reason="cancelled")
        if command.startswith("linger:"):
            # Stays alive after its stdin closes, as claude-agent-acp 0.23 does.
            threading.Thread(target=time.sleep, args=(600,)).start()
            await self.say(session_id, "done, lingering")
            return schema.PromptResponse(stop_reason="end_turn")
        for prefix in ("leave:", "kill:"):
            if command.startswith(prefix):
                mode, command = prefix[:-1], command[len(prefix):]
        if command.startswith("cwd="):
            cwd, command = command[4:].split(":", 1)
        try:
            terminal = await self.conn.create_terminal(command=command, session_id=session_id, cwd=cwd,
                                                       output_byte_limit=4096)
        except acp.RequestError as error:
            await self.say(session_id, f"refused: {error.code} {error}")
            return schema.PromptResponse(stop_reason="end_turn")
        tid = terminal.terminal_id
        await self.conn.session_update(session_id=session_id, update=helpers.start_tool_call(
            "call-1", command, kind="execute", status="in_progress", content=[helpers.tool_terminal_ref(tid)],
            raw_input={"command": command}))
        if mode == "leave":
            await self.say(session_id, f"left {tid} running")
            return schema.PromptResponse(stop_reason="end_turn")
        if mode == "kill":
            await asyncio.sleep(0.5)
            await self.conn.kill_terminal(session_id=session_id, terminal_id=tid)
        exit_status = await self.conn.wait_for_terminal_exit(session_id=session_id, terminal_id=tid)
        output = await self.conn.terminal_output(session_id=session_id, terminal_id=tid)
        await self.conn.release_terminal(session_id=session_id, terminal_id=tid)
        failed = exit_status.exit_code != 0
        await self.conn.session_update(session_id=session_id, update=helpers.update_tool_call(
            "call-1", status="failed" if failed else "completed",
            raw_output={"exit_code": exit_status.exit_code, "signal": exit_status.signal}))
        await self.say(session_id, f"exit {exit_status.exit_code} signal {exit_status.signal} "
                                   f"output {output.output!r}")
        return schema.PromptResponse(stop_reason="end_turn")

    async def cancel(self, session_id, **_):
        if getattr(self, "cancelled", None):
            self.cancelled.set()


if __name__ == "__main__":
    asyncio.run(acp.run_agent(TerminalAgent()))
    sys.exit(0)
