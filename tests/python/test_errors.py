"""Every error is an exception with the command line's one line, never None."""

import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Tuple

import pytest

from conftest import free_port, port_is_free, wait_until_up

from oauth_callback import CallbackServer, ConfigError, run_callback_server


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"server": "twisted"}, "server must be one of"),
        ({"timeout": -1}, "must not be negative"),
        ({"timeout": float("nan")}, "must not be negative"),
        ({"ssl_cert": "cert.pem"}, "go together"),
        ({"ssl_key": "key.pem"}, "go together"),
    ],
)
def test_bad_arguments_are_value_errors(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        run_callback_server(**kwargs)


def test_configuration_refused_by_the_server_is_a_config_error(tmp_path: Path, pem_pair: Tuple[str, str]) -> None:
    cert, key = pem_pair
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not pem")
    other_cert, other_key = tmp_path / "other.pem", tmp_path / "other-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(other_key), "-out", str(other_cert), "-days", "1", "-subj", "/CN=x"],
        check=True, capture_output=True,
    )
    cases = [
        ({"ssl_cert": "/nonexistent/cert.pem", "ssl_key": key}, "/nonexistent/cert.pem"),
        ({"ssl_cert": str(garbage), "ssl_key": key}, "garbage.pem"),
        ({"ssl_cert": cert, "ssl_key": str(other_key)}, "does not match"),
        ({"handler": str(garbage)}, "not a WebAssembly component"),
        ({"path": "/health"}, "reserved"),
        ({"timeout": 0}, "more than zero"),
    ]
    for kwargs, needle in cases:
        with pytest.raises(ConfigError, match=needle):
            run_callback_server(port=0, **kwargs)  # type: ignore[arg-type]
    assert issubclass(ConfigError, ValueError)


def test_a_port_in_use_is_a_config_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match="already in use"):
            run_callback_server(port=port)


def test_a_crashed_binary_raises_with_its_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "oauth-callback"
    fake.write_text("#!/bin/sh\necho 'oauth-callback: something broke' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("OAUTH_CALLBACK_BIN", str(fake))
    with pytest.raises(RuntimeError, match="exit code 3.*something broke"):
        run_callback_server(port=0)


def test_ctrl_c_while_waiting_frees_the_port_and_raises_keyboard_interrupt() -> None:
    port = free_port()
    script = (
        "from oauth_callback import run_callback_server\n"
        f"run_callback_server(port={port}, timeout=60, force_https=False)\n"
    )
    waiting = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    wait_until_up(f"http://127.0.0.1:{port}")
    waiting.send_signal(signal.SIGINT)
    _, stderr = waiting.communicate(timeout=30)
    assert waiting.returncode != 0
    assert "KeyboardInterrupt" in stderr, stderr
    assert port_is_free(port)


def test_a_refused_flag_is_reported_with_the_command_lines_own_words() -> None:
    with pytest.raises(ConfigError, match="--open"):
        run_callback_server(port=0, open_url="ftp://idp.example/authorize")
