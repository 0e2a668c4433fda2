"""Run the README's boto3 example, verbatim, against a real ferrodyn-store.

usage: run_readme_example.py PATH/TO/ferrodyn-store

Starts the store on a free port with a temporary data directory, extracts
the first ```python block of README.md, points it at the store by replacing
the endpoint URL, runs it, and stops the store.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
readme = os.path.join(here, "..", "..", "README.md")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    binary = sys.argv[1]
    text = open(readme, encoding="utf-8").read()
    block = re.search(r"```python\n(.*?)```", text, re.S)
    if not block:
        sys.exit("README.md has no ```python block")
    port = free_port()
    code = block.group(1).replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}")
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, FERRODYN_LOG="warn")
        proc = subprocess.Popen([binary, "--listen", f"127.0.0.1:{port}", "--data-dir", data], env=env)
        try:
            deadline = time.time() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline or proc.poll() is not None:
                        sys.exit("ferrodyn-store did not start")
                    time.sleep(0.05)
            os.chdir(data)
            exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print("README boto3 example: ok")


if __name__ == "__main__":
    main()
