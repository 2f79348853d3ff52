"""One naming scheme: every exception class ends in Error; the 0.1 names still work for one
release, each with a DeprecationWarning that names its replacement."""
from __future__ import annotations

import subprocess
import warnings

import pytest

import runhost
from runhost import errors
from conftest import PYTHON, python_subprocess_env

# Release 0.1's names, written out here (not taken from the package): the promise is to users.
OLD_NAMES = {
    "InvalidDispatch": "InvalidDispatchError", "RuntimeNotFound": "RuntimeNotFoundError",
    "RuntimeCrashed": "RuntimeCrashedError", "Timeout": "RunhostTimeoutError",
    "Cancelled": "RunhostCancelledError", "PolicyDenied": "PolicyDeniedError",
    "BudgetExceeded": "BudgetExceededError", "QuotaExceeded": "QuotaExceededError",
    "ConnectorAuthorizationMissing": "ConnectorAuthorizationMissingError",
    "DeviceUnavailable": "DeviceUnavailableError", "DeviceLost": "DeviceLostError",
    "IdempotencyConflict": "IdempotencyConflictError", "Internal": "InternalError",
    "AuthFailed": "AuthFailedError", "RateLimited": "RateLimitedError",
    "ModelUnavailable": "ModelUnavailableError", "TurnLimit": "TurnLimitError",
    "ContextLimit": "ContextLimitError", "SessionNotFound": "SessionNotFoundError",
    "StoreUnavailable": "StoreUnavailableError", "RunNotFound": "RunNotFoundError",
}


def test_every_exception_class_the_package_exports_ends_in_error():
    exported = {name: getattr(runhost, name) for name in runhost.__all__}
    classes = {n: c for n, c in exported.items() if isinstance(c, type) and issubclass(c, BaseException)}
    assert len(classes) >= len(errors.BY_CODE) + 2, sorted(classes)
    assert [n for n in classes if not n.endswith("Error")] == []
    assert not set(OLD_NAMES) & set(runhost.__all__), "the old names are not exported by *"


@pytest.mark.parametrize("module", [runhost, errors], ids=["runhost", "runhost.errors"])
@pytest.mark.parametrize("old", sorted(OLD_NAMES))
def test_an_old_name_is_the_new_class_with_a_deprecation_warning(module, old):
    with pytest.warns(DeprecationWarning, match=rf"runhost\.{old} is deprecated .* use runhost\.{OLD_NAMES[old]}") as caught:
        cls = getattr(module, old)
    assert cls is getattr(runhost, OLD_NAMES[old])
    assert caught[0].filename == __file__, "the warning points at the caller's line"


def test_old_names_still_catch_what_is_raised(host):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(runhost.InvalidDispatch):
            host.dispatch({"tenantId": "t"})
        with pytest.raises(runhost.RunNotFound):
            host.events("run_nope")


def test_an_unknown_name_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchError'"):
        runhost.NoSuchError  # noqa: B018
    with pytest.raises(AttributeError):
        errors.PolicyDeniedErrr  # noqa: B018


def test_from_import_of_an_old_name_warns_in_a_fresh_interpreter():
    # `from runhost import InvalidDispatch` goes through the module's __getattr__ too.
    out = subprocess.run(
        [PYTHON, "-W", "error::DeprecationWarning", "-c", "from runhost import InvalidDispatch"],
        capture_output=True, text=True, env=python_subprocess_env(), timeout=60)
    assert out.returncode != 0 and "runhost.InvalidDispatch is deprecated" in out.stderr, out.stderr


def test_wait_async_is_the_deprecated_name_of_await_(host):
    import asyncio

    from conftest import sh

    run = host.dispatch(sh("true"))
    with pytest.warns(DeprecationWarning, match=r"Run.wait_async\(\) is deprecated: use await run.await_\(\)"):
        info = asyncio.run(run.wait_async(timeout=30))
    assert info.status == "succeeded"
