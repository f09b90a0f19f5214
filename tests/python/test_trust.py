"""`oauth_callback.trust()`, `trust_status()` and `untrust()`: the local CA
from Python, outcomes returned and nothing printed, and servers started
afterwards serving its leaves to a client that checks certificates."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent('''
    import os, pathlib, ssl, urllib.error, urllib.request
    from oauth_callback import CallbackServer, ConfigError, TrustError, export_root, trust, trust_status, untrust
    made = trust()
    print("made", made.ca, [(s.state, s.system) for s in made.stores])
    print("again", trust().ca, [s.state for s in trust().stores])
    status = trust_status()
    print("status", status.ca, status.expires is not None, [str(s) for s in status.stores if s.system])
    print("text", str(status).splitlines()[0].startswith("local CA: " + status.dir))
    root = os.path.join(os.environ["HOME"], "exported-root.pem")
    print("exported", export_root(pathlib.Path(root)).ca, open(root).read().startswith("-----BEGIN CERTIFICATE-----"))
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
    removed = untrust()
    print("removed", removed.ca, [s.state for s in removed.stores if not s.system])
    print("after", trust_status().ca)
    os.environ["PATH"] = ""
    try:
        trust()
    except TrustError as error:
        print("no certutil:", isinstance(error, ConfigError), str(error))
''')


def test_trust_makes_the_ca_whose_leaves_a_checking_client_accepts(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "XDG_DATA_HOME"}
    env["HOME"] = str(tmp_path)
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert "made created [('trusted', False)]" in lines, run.stdout
    assert "again kept ['already trusted']" in lines, run.stdout
    assert any(line.startswith("status found True") for line in lines), run.stdout
    assert "text True" in lines, run.stdout
    assert "status 200" in lines, run.stdout
    assert "params {'code': 'trusted'}" in lines, run.stdout
    assert "self-signed refused: SSLCertVerificationError" in lines, run.stdout
    assert "removed deleted ['removed']" in lines, run.stdout
    assert "after absent" in lines, run.stdout
    assert "exported kept True" in lines, run.stdout
    assert any(
        line.startswith("no certutil: True certutil is missing") and line.endswith("then call trust() again")
        for line in lines
    ), run.stdout
    assert not (tmp_path / ".local/share/oauth-callback/ca").exists()


def test_trust_answers_ctrl_c_while_a_store_is_slow(tmp_path: Path) -> None:
    # A certutil that takes its time (a store's program waiting on something):
    # Ctrl-C raises KeyboardInterrupt at once, not when the program is done.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    slow = bin_dir / "certutil"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    script = textwrap.dedent('''
        import signal, sys, time
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from oauth_callback import trust
        print("calling", flush=True)
        started = time.monotonic()
        try:
            trust()
        except KeyboardInterrupt:
            print(f"interrupted after {time.monotonic() - started:.1f} s", flush=True)
    ''')
    env = {key: value for key, value in os.environ.items() if key != "XDG_DATA_HOME"}
    env.update(HOME=str(tmp_path), PATH=f"{bin_dir}:{env.get('PATH', '')}")
    child = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline() == "calling\n"
    import signal
    import time
    time.sleep(1.0)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=20)
    assert child.returncode == 0, out + err
    seconds = float(out.split("interrupted after ")[1].split()[0])
    assert seconds < 5, out
