"""Every error is an exception with the library's one line, never None; a
refused configuration leaves nothing listening."""

import errno
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from conftest import free_port, port_is_free, wait_until_up

from oauth_callback import (
    CallbackServer,
    CertificateNotFoundError,
    ConfigError,
    PortInUseError,
    run_callback_server,
)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"server": "twisted"}, "server must be one of"),
        ({"timeout": "60"}, "timeout must be a number"),
        ({"timeout": True}, "timeout must be a number"),
        ({"port": 70000}, "port must be a port number"),
        ({"port": -1}, "port must be a port number"),
        ({"port": []}, "port must be a port number"),
        ({"port": [0, "8080"]}, "port must be a port number"),
        ({"port": True}, "port must be a port number"),
        ({"port": 8080.0}, "port must be a port number"),
        ({"host": 127}, "host must be a string"),
        ({"path": b"/cb"}, "path must be a string"),
        ({"ready_file": 123}, "ready_file must be a path"),
        ({"ssl_cert": 1.5, "ssl_key": "k.pem"}, "ssl_cert must be a path"),
        ({"expect_state": 42}, "expect_state must be a string"),
        ({"logger": "oauth"}, "logger must be a logging.Logger"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs: Dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as refused:
        CallbackServer(**kwargs)
    assert isinstance(refused.value, ValueError)
    with pytest.raises(ConfigError, match=needle):
        run_callback_server(**kwargs)


@pytest.mark.parametrize(
    "timeout, needle",
    [(-1, "invalid timeout: it must be more than zero"), (float("nan"), "invalid timeout: it is not a number")],
)
def test_a_timeout_the_library_refuses_is_a_config_error_at_start(timeout: float, needle: str) -> None:
    server = CallbackServer(port=0, timeout=timeout)
    with pytest.raises(ConfigError, match=needle):
        server.start()
    with pytest.raises(ConfigError, match=needle):
        run_callback_server(port=0, timeout=timeout)


@pytest.mark.parametrize("kwargs", [{"ssl_cert": "cert.pem"}, {"ssl_key": "key.pem"}])
def test_half_a_pem_pair_is_a_config_error(kwargs: Dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="ssl_cert and ssl_key go together"):
        run_callback_server(port=0, **kwargs)


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
    cases: List[Tuple[Dict[str, Any], str]] = [
        ({"ssl_cert": "/nonexistent/cert.pem", "ssl_key": key}, "/nonexistent/cert.pem"),
        ({"ssl_cert": str(garbage), "ssl_key": key}, "garbage.pem"),
        ({"ssl_cert": cert, "ssl_key": str(other_key)}, "does not match"),
        ({"handler": str(garbage)}, "not a WebAssembly component"),
        ({"path": "/health"}, "reserved"),
        ({"timeout": 0}, "more than zero"),
        ({"timeout": float("inf")}, "longer than"),
        ({"host": "0.0.0.0"}, "not a loopback address"),
        ({"redirect_uri": "ftp://x"}, "redirect URI"),
        ({"success_redirect": "http://evil.example/"}, "success redirect"),
    ]
    for kwargs, needle in cases:
        with pytest.raises(ConfigError, match=needle) as refused:
            run_callback_server(port=0, **kwargs)
        # The library's words, not the command line's flags.
        assert "--" not in str(refused.value), refused.value
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("missing", ["ssl_cert", "ssl_key"])
def test_a_missing_pem_file_is_a_certificate_not_found_error(pem_pair: Tuple[str, str], missing: str) -> None:
    cert, key = pem_pair
    files: Dict[str, Any] = {"ssl_cert": cert, "ssl_key": key, missing: f"/nonexistent/{missing}.pem"}
    port = free_port()
    with pytest.raises(CertificateNotFoundError) as refused:
        run_callback_server(port=port, **files)
    error = refused.value
    assert isinstance(error, FileNotFoundError) and isinstance(error, ConfigError)
    assert error.errno == errno.ENOENT
    assert error.filename == f"/nonexistent/{missing}.pem"
    assert f"/nonexistent/{missing}.pem" in str(error)
    assert port_is_free(port)


def test_a_port_in_use_is_a_port_in_use_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for ports in (port, [port, port]):
            with pytest.raises(PortInUseError) as refused:
                run_callback_server(port=ports)
            error = refused.value
            assert isinstance(error, OSError) and isinstance(error, ConfigError) and isinstance(error, ValueError)
            assert error.errno == errno.EADDRINUSE
            assert "in use" in str(error) and str(port) in str(error)
        with pytest.raises(ConfigError, match="already in use"):
            run_callback_server(port=port)


def test_switches_take_truth_values_and_paths_take_what_open_takes(tmp_path: Path) -> None:
    # As the original's `if force_https:` did; bytes and PathLike paths as open() takes.
    with CallbackServer(port=0, force_https=0,  # type: ignore[arg-type]
                        ready_file=os.fsencode(tmp_path / "ready")) as server:
        assert server.redirect_uri.startswith("http://")
        assert (tmp_path / "ready").read_text() == server.redirect_uri + "\n"
    with CallbackServer(port=0, adhoc_ssl=1, ready_file=tmp_path / "again") as server:  # type: ignore[arg-type]
        assert server.redirect_uri.startswith("https://")
        assert (tmp_path / "again").exists()


def test_localhost_is_said_in_lower_case_as_registered() -> None:
    with CallbackServer(host="LOCALHOST", port=0, force_https=False) as server:
        assert server.redirect_uri.startswith("http://localhost:"), server.redirect_uri


def test_a_ready_file_that_is_not_a_regular_file_is_refused_before_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No browser is opened and nothing listens; the link is left as it was.
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f"#!/bin/sh\ntouch {opened}\n")
    browser.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(browser))
    link = tmp_path / "stdout"
    link.symlink_to("/dev/stdout")
    port = free_port()
    for ready in (link, "/dev/null", tmp_path):
        with pytest.raises(ConfigError, match=", not a regular file"):
            CallbackServer(port=port, force_https=False, ready_file=ready,
                           open_url="https://idp.example/auth").start()
        assert port_is_free(port)
    assert os.readlink(link) == "/dev/stdout"
    assert not opened.exists()


def test_out_of_descriptors_is_an_os_error_with_its_errno() -> None:
    script = '''
import os, resource, sys
from oauth_callback import CallbackServer
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
held = []
try:
    while True:
        held.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
codes = set()
for _ in range(8):
    try:
        CallbackServer(port=0, adhoc_ssl=True).start().shutdown()
        break
    except OSError as error:
        codes.add(error.errno)
    os.close(held.pop())
print(sorted(codes))
'''
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.strip() == f"[{errno.EMFILE}]", done.stdout


def test_a_ready_file_that_cannot_be_written_stops_the_server(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(OSError) as refused:
        CallbackServer(port=port, force_https=False, ready_file=str(tmp_path / "missing" / "ready")).start()
    assert refused.value.errno == errno.ENOENT
    assert port_is_free(port)
    ready = tmp_path / "ready"
    with CallbackServer(port=0, force_https=False, ready_file=str(ready)) as server:
        assert ready.read_text() == server.redirect_uri + "\n"
        assert os.stat(ready).st_mode & 0o077 == 0
        assert [p.name for p in tmp_path.iterdir()] == ["ready"], "no partial file left"


def test_a_wait_timeout_that_is_not_a_number_is_refused() -> None:
    with CallbackServer(port=0, force_https=False) as server:
        with pytest.raises(ValueError, match="not a number"):
            server.wait(float("nan"))
        assert server.wait(-1) is None, "a negative timeout does not wait"


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
    assert waiting.returncode == -signal.SIGINT
    assert stderr.rstrip().splitlines()[-1] == "KeyboardInterrupt", stderr
    assert port_is_free(port)


def test_a_refused_sign_in_page_is_reported_with_the_librarys_own_words() -> None:
    with pytest.raises(ConfigError, match="open_url") as refused:
        run_callback_server(port=0, open_url="ftp://idp.example/authorize")
    assert "https://" in str(refused.value) and "--open" not in str(refused.value), refused.value
    with pytest.raises(ConfigError, match=r"open_url.*\{state\}.*expect_state"):
        run_callback_server(port=0, open_url="https://idp.example/authorize?state={state}")


def test_a_refused_sign_in_page_url_is_not_blamed_on_a_missing_state() -> None:
    # Its scheme is what is wrong: expect_state would not help.
    with pytest.raises(ConfigError) as refused:
        run_callback_server(port=0, open_url="ftp://idp.example/authorize", expect_state="s")
    assert "expect_state" not in str(refused.value), refused.value
