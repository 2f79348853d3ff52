"""Cancellation: from the Host, from the Run, of a finished run, of an unknown one."""
from __future__ import annotations

import time

import pytest

import runhost
from conftest import check_stream, sh


def test_cancel_stops_a_running_run_with_run_cancelled(host, env, event_validator):
    run = host.dispatch(sh("echo working; trap '' TERM; sleep 30"))
    stream = run.events()
    assert next(stream)["type"] == "run.started"
    started = time.monotonic()
    host.cancel(run.id)
    rest = list(stream)
    assert time.monotonic() - started < 15
    assert rest[-1]["type"] == "run.cancelled"
    assert rest[-1]["payload"]["reason"]
    check_stream(host.events(run.id), event_validator)
    assert run.status == "cancelled"
    assert run.info().error_code is None


def test_run_cancel_and_wait_check_raise_cancelled(host):
    run = host.dispatch(sh("sleep 30"))
    run.cancel()
    with pytest.raises(runhost.RunhostCancelledError) as caught:
        run.wait(timeout=15, check=True)
    assert caught.value.code == "cancelled" and caught.value.run_id == run.id
    assert run.wait(timeout=5).status == "cancelled", "without check, wait returns the record"


def test_cancelling_a_finished_run_leaves_it_as_it_is(host):
    run = host.dispatch(sh("echo done"))
    run.wait()
    run.cancel()
    assert run.status == "succeeded"
    assert host.events(run.id)[-1]["type"] == "run.completed"


def test_cancelling_an_unknown_run_names_it(host):
    with pytest.raises(runhost.RunNotFoundError, match="run_nope") as caught:
        host.cancel("run_nope")
    assert caught.value.code == "run_not_found" and not caught.value.retryable


def test_cancel_before_the_run_starts(host):
    run = host.dispatch(sh("echo should not matter; sleep 30"))
    host.cancel(run.id)
    events = list(run.events())
    assert events[-1]["type"] == "run.cancelled"
