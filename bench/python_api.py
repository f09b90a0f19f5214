#!/usr/bin/env python3
"""The Python side: how long `run_callback_server(...)` takes from the call to
its return, with the callback sent as soon as the port answers, for the
installed `oauth_callback` wheel and the seed's Flask module, interleaved run
by run in one process (Python start-up excluded). Run by bench/run.py inside
its virtual environment (Flask, cryptography, gevent, the wheel).

    python_api.py SEED_CALLBACK_PY RUNS
"""
import importlib.util
import logging
import socket
import ssl
import statistics
import sys
import threading
import time
import urllib.request

INSECURE = ssl._create_unverified_context()  # ad hoc certificates, loopback only


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser(port):
    """Send the callback as soon as the port answers."""
    while True:
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/callback?code=bench&state=s",
                                        context=INSECURE, timeout=5) as response:
                response.read()
                return
        except OSError:
            time.sleep(0.001)


def timed(run, port):
    sender = threading.Thread(target=browser, args=(port,), daemon=True)
    sender.start()
    start = time.perf_counter()
    result = run(port)
    elapsed = time.perf_counter() - start
    sender.join(10)
    assert result and result["params"]["code"] == "bench", result
    return elapsed


def main():
    seed_path, runs = sys.argv[1], int(sys.argv[2])
    logging.disable(logging.CRITICAL)
    import oauth_callback
    spec = importlib.util.spec_from_file_location("seed_callback", seed_path)
    seed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed)
    subjects = {
        "oauth_callback (wheel)": lambda port: oauth_callback.run_callback_server(
            port=port, timeout=60, adhoc_ssl=True),
        "seed callback.py (Flask)": lambda port: seed.run_callback_server(
            port=port, timeout=60, adhoc_ssl=True, server="werkzeug"),
    }
    times = {name: [] for name in subjects}
    for _ in range(runs):
        for name, run in subjects.items():
            times[name].append(timed(run, free_port()))
    ours, theirs = (statistics.median(times[name]) * 1000 for name in subjects)
    print(f"\n| run_callback_server(...) call to return, callback sent at once | median (ms) |")
    print("|---|---:|")
    for name in subjects:
        print(f"| {name} | {statistics.median(times[name]) * 1000:.1f} |")
    print(f"| seed / oauth_callback | {theirs / ours:.1f}x |")


if __name__ == "__main__":
    main()
