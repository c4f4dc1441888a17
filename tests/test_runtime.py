"""The event loop a run gets: uvloop only where it pays (a wait's many reads)."""

import asyncio

import pytest

from opwatch.runtime import Runtime, run_event_loop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_a_few_reads_run_on_asyncios_own_loop() -> None:
    # `status` makes a handful of requests: importing uvloop would cost more than it saves.
    assert Runtime().run(_loop_module()).startswith("asyncio")


def test_many_reads_run_on_uvloop_where_installed() -> None:
    pytest.importorskip("uvloop")
    assert Runtime().run(_loop_module(), many_reads=True).startswith("uvloop")


def test_an_injected_loop_runs_every_command() -> None:
    ran: list[str] = []

    def loop(main):  # type: ignore[no-untyped-def]
        ran.append("injected")
        return run_event_loop(main)

    Runtime(loop=loop).run(_loop_module(), many_reads=True)
    assert ran == ["injected"]
