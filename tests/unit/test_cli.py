"""The `syncline` entry point lists every service and rejects unknown commands."""

from __future__ import annotations

import pytest
from syncline_cli.main import COMMANDS, main


def test_help_lists_every_service(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("reconciler", "status-api", "exchange-connector", "salesforce-connector", "sim"):
        assert name in out
    assert set(COMMANDS) >= {"migrate", "topics", "admin"}


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err
