"""`oauth_callback.trust()`: the local CA from Python, and servers started
afterwards serving its leaves to a client that checks certificates."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent('''
    import os, ssl, urllib.error, urllib.request
    from oauth_callback import CallbackServer, ConfigError, trust
    trust()
    trust("--status")
    root = os.path.join(os.environ["HOME"], ".local/share/oauth-callback/ca/root.pem")
    checking = ssl.create_default_context(cafile=root)
    with CallbackServer(port=0, timeout=30) as server:
        with urllib.request.urlopen(server.redirect_uri + "?code=trusted", context=checking) as answer:
            print("status", answer.status)
        result = server.wait(5)
        print("params", result["params"] if result else None)
    with CallbackServer(port=0, timeout=30, self_signed=True) as server:
        try:
            urllib.request.urlopen(server.redirect_uri + "?code=c", context=checking)
            print("self-signed accepted")
        except urllib.error.URLError as error:
            print("self-signed refused:", type(error.reason).__name__)
    trust("--uninstall")
    try:
        trust("--bogus")
    except ConfigError as error:
        print("bad flag:", error)
''')


def test_trust_makes_the_ca_whose_leaves_a_checking_client_accepts(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "XDG_DATA_HOME"}
    env["HOME"] = str(tmp_path)
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("created a local CA") for line in lines), run.stdout
    assert any(line.startswith("Chrome/Chromium") and line.endswith(": trusted") for line in lines), run.stdout
    assert "status 200" in lines, run.stdout
    assert "params {'code': 'trusted'}" in lines, run.stdout
    assert "self-signed refused: SSLCertVerificationError" in lines, run.stdout
    assert any(line.startswith("deleted the local CA") for line in lines), run.stdout
    assert any(line.startswith("bad flag: unexpected argument '--bogus'") for line in lines), run.stdout
    assert not (tmp_path / ".local/share/oauth-callback/ca").exists()
