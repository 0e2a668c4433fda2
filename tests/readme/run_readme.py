"""Run every command in README.md against fresh Ferrodyn servers.

usage: run_readme.py [--bin-dir DIR] [--readme PATH]

Each ```sh (or ```bash) and ```python block of the README is run, in order,
in a temporary working directory. Blocks in other languages (```json, ...)
are documentation and are not run. A block that talks to
http://127.0.0.1:8000 gets a fresh `ferrodyn` (the full database, admin
endpoint 127.0.0.1:9000) and one that talks to http://127.0.0.1:8001 a fresh
`ferrodyn-store`, each on a port the system chose (`--listen 127.0.0.1:0`,
read from stdout's `FERRODYN_LISTENING` line) and with a temporary data
directory; the README's addresses are replaced by the real ones. The
debug binaries' directory comes first on the blocks' PATH. A block
fails if it exits non-zero, takes longer than two minutes, or a server it
used crashed; the harness then prints the block, its output and the
servers' logs, and exits 1 after trying every block.

A block that cannot run as it is in CI carries a marker, an HTML comment on
the line just before its opening fence (rendered READMEs do not show it):

    <!-- readme: skip (REASON) -->
        Not run. The reason is required: it says why, e.g. "needs AWS
        credentials" or "runs for minutes".

    <!-- readme: server -->
        The block starts a server (`cargo run [--release] --bin NAME [-- ARGS]`
        or `NAME ARGS`, optionally after VAR=value assignments). The harness
        starts the debug build of NAME itself with the same arguments and
        variables, on a port the system chose and a temporary data directory
        (--listen, --data-dir and --admin-listen are replaced), waits until it
        is ready, and stops it with SIGTERM: the command must be accepted and
        the server must start and stop cleanly.

Anything else in a `readme:` comment is an error, so a typo cannot silently
skip a block.

Binaries come from --bin-dir (default: $CARGO_TARGET_DIR/debug, else
target/debug): build them first with
`cargo build --bin ferrodyn --bin ferrodyn-store`. The sh blocks need the AWS
CLI (`python3 -m pip install awscli`) and the python blocks boto3.
Python 3 standard library only.
"""

import argparse
import atexit
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RUNNABLE = {"sh": "sh", "bash": "sh", "python": "python"}
# A marker is a line of its own; the same text inside a sentence is prose.
MARKER = re.compile(r"\s*<!--\s*readme:\s*(.*?)\s*-->\s*")
BLOCK_TIMEOUT = 120
SERVER_TIMEOUT = 60

# The addresses the README uses, and the server answering each.
FERRODYN_URL = "http://127.0.0.1:8000"
STORE_URL = "http://127.0.0.1:8001"
ADMIN_ADDR = "127.0.0.1:9000"


class Block:
    def __init__(self, line, lang, text, marker):
        self.line = line  # of the opening fence, 1-based
        self.lang = lang
        self.text = text
        self.marker = marker  # ("skip", reason) / ("server", None) / None

    def where(self):
        return f"README.md:{self.line} ({self.lang})"


class HarnessError(Exception):
    pass


def parse_marker(text, line):
    m = re.fullmatch(r"skip\s*\((.+)\)", text)
    if m and m.group(1).strip():
        return ("skip", m.group(1).strip())
    if text == "server":
        return ("server", None)
    if text.startswith("skip"):
        raise HarnessError(f"README.md:{line}: `readme: skip` needs its reason: `readme: skip (REASON)`")
    raise HarnessError(
        f"README.md:{line}: unknown marker `readme: {text}` "
        "(use `readme: skip (REASON)` or `readme: server`)"
    )


def blocks(readme_text):
    """The README's fenced blocks, with the marker just before each."""
    lines = readme_text.split("\n")
    out = []
    i = 0
    pending = None  # (marker, line number) waiting for its fence
    while i < len(lines):
        line = lines[i]
        m = MARKER.fullmatch(line)
        if m:
            pending = (parse_marker(m.group(1), i + 1), i + 1)
            i += 1
            continue
        fence = re.match(r"^(```+)\s*([A-Za-z0-9_+-]*)\s*$", line)
        if fence:
            ticks, lang = fence.group(1), fence.group(2).lower()
            start = i
            i += 1
            body = []
            while i < len(lines) and lines[i].strip() != ticks:
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise HarnessError(f"README.md:{start + 1}: fence never closed")
            marker = None
            if pending is not None:
                if pending[1] != start:
                    raise HarnessError(
                        f"README.md:{pending[1]}: a readme marker must be on the line just before a fence"
                    )
                marker = pending[0]
                pending = None
            if lang in RUNNABLE:
                out.append(Block(start + 1, RUNNABLE[lang], "\n".join(body) + "\n", marker))
            elif marker is not None:
                raise HarnessError(f"README.md:{start + 1}: marker on a ```{lang} block, which is never run")
            i += 1
            continue
        if pending is not None:
            raise HarnessError(f"README.md:{pending[1]}: a readme marker must be on the line just before a fence")
        i += 1
    return out


class Server:
    """A Ferrodyn binary on 127.0.0.1:0 with a temporary data directory. Its
    address is stdout's first line (`FERRODYN_LISTENING http://IP:PORT`,
    printed once it answers); the admin endpoint's comes from its JSON log."""

    def __init__(self, bin_dir, name, args=(), env=None):
        self.name = name
        self.log = []
        self.dir = tempfile.mkdtemp(prefix=f"readme-{name}-")
        args = list(args)
        for flag in ("--listen", "--data-dir", "--admin-listen"):
            args = drop_flag(args, flag)
        args += ["--listen", "127.0.0.1:0", "--log-format", "json"]
        if "--in-memory" not in args:
            args += ["--data-dir", os.path.join(self.dir, "data")]
        if name == "ferrodyn":
            args += ["--admin-listen", "127.0.0.1:0"]
        full_env = dict(os.environ, FERRODYN_LOG="info")
        full_env.update(env or {})
        for key in ("FERRODYN_LOG_FORMAT", "FERRODYN_READY_FILE", "FERRODYN_DATA_DIR", "FERRODYN_IN_MEMORY"):
            if key not in (env or {}):
                full_env.pop(key, None)
        self.command = [os.path.join(bin_dir, name)] + args
        self.proc = subprocess.Popen(
            self.command,
            cwd=self.dir,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.addr = None
        self.admin = None
        ready = threading.Event()

        def read_stdout():
            first = self.proc.stdout.readline().split()
            if len(first) == 2 and first[0] == "FERRODYN_LISTENING" and first[1].startswith("http://"):
                self.addr = first[1][len("http://") :]
            ready.set()
            for _ in self.proc.stdout:
                pass

        def read_stderr():
            for line in self.proc.stderr:
                self.log.append(line.rstrip("\n"))
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("message") == "ferrodyn admin endpoint ready":
                    self.admin = event.get("addr")

        threading.Thread(target=read_stdout, daemon=True).start()
        threading.Thread(target=read_stderr, daemon=True).start()
        ready.wait(SERVER_TIMEOUT)
        if self.addr is None:
            self.stop()
            raise HarnessError(f"{name} did not become ready: {shlex.join(self.command)}\n" + "\n".join(self.log))

    def admin_addr(self):
        """The admin endpoint's address (logged just before the server
        answers, so at most a moment behind stdout's line)."""
        deadline = time.monotonic() + 5
        while self.admin is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.admin is None:
            raise HarnessError(f"{self.name} logged no admin address:\n" + "\n".join(self.log))
        return self.admin

    @property
    def url(self):
        return f"http://{self.addr}"

    def stop(self):
        """SIGTERM, then wait; returns an error text if it did not stop cleanly."""
        problem = None
        if self.proc.poll() is not None:
            problem = f"{self.name} exited early with status {self.proc.returncode}"
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(SERVER_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problem = f"{self.name} did not stop on SIGTERM"
            if problem is None and self.proc.returncode != 0:
                problem = f"{self.name} exited with status {self.proc.returncode} on SIGTERM"
        shutil.rmtree(self.dir, ignore_errors=True)
        return problem


def drop_flag(args, flag):
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == flag:
            skip = True
            continue
        if a.startswith(flag + "="):
            continue
        out.append(a)
    return out


def server_command(block):
    """(binary name, arguments, environment) of a `readme: server` block."""
    text = block.text.replace("\\\n", " ")
    commands = [l for l in text.split("\n") if l.strip() and not l.strip().startswith("#")]
    if len(commands) != 1:
        raise HarnessError(f"{block.where()}: a server block holds exactly one command")
    tokens = shlex.split(commands[0])
    env = {}
    while tokens and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]):
        key, value = tokens.pop(0).split("=", 1)
        env[key] = value
    if tokens[:2] == ["cargo", "run"]:
        rest = tokens[2:]
        args = []
        if "--" in rest:
            cut = rest.index("--")
            rest, args = rest[:cut], rest[cut + 1 :]
        if "--bin" not in rest or rest.index("--bin") + 1 >= len(rest):
            raise HarnessError(f"{block.where()}: `cargo run` without --bin NAME")
        name = rest[rest.index("--bin") + 1]
    elif tokens and tokens[0] in ("ferrodyn", "ferrodyn-store"):
        name, args = tokens[0], tokens[1:]
    else:
        raise HarnessError(f"{block.where()}: not a command that starts ferrodyn or ferrodyn-store")
    if name not in ("ferrodyn", "ferrodyn-store"):
        raise HarnessError(f"{block.where()}: the harness starts only ferrodyn and ferrodyn-store, not {name}")
    return name, args, env


def run_block(block, bin_dir, extra_path):
    """Run one block; returns None, or the failure's description."""
    if block.marker and block.marker[0] == "server":
        name, args, env = server_command(block)
        server = Server(bin_dir, name, args, env)
        problem = server.stop()
        if problem:
            return problem + "\n" + "\n".join(server.log)
        return None

    servers = {}
    text = block.text
    try:
        if FERRODYN_URL in text or ADMIN_ADDR in text:
            servers["ferrodyn"] = Server(bin_dir, "ferrodyn")
            text = text.replace(FERRODYN_URL, servers["ferrodyn"].url)
            text = text.replace(ADMIN_ADDR, servers["ferrodyn"].admin_addr())
        if STORE_URL in text:
            servers["ferrodyn-store"] = Server(bin_dir, "ferrodyn-store")
            text = text.replace(STORE_URL, servers["ferrodyn-store"].url)
        work = tempfile.mkdtemp(prefix="readme-block-")
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join(extra_path + [env.get("PATH", "")])
        # Nothing from the developer's own AWS set-up may leak in: the
        # examples bring their own credentials and region.
        for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
            env.pop(key, None)
        env["AWS_CONFIG_FILE"] = os.path.join(work, "aws-config")
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(work, "aws-credentials")
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env["AWS_PAGER"] = ""
        if block.lang == "sh":
            command = ["bash", "-euo", "pipefail", "-c", text]
        else:
            script = os.path.join(work, "block.py")
            with open(script, "w", encoding="utf-8") as f:
                f.write(text)
            command = [sys.executable, script]
        # Its own process group, so whatever it leaves running (a server
        # started with `&`, a command cut off by the timeout) is ended too.
        proc = subprocess.Popen(
            command,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            output, _ = proc.communicate(timeout=BLOCK_TIMEOUT)
            failure = None if proc.returncode == 0 else f"exit status {proc.returncode}"
        except subprocess.TimeoutExpired:
            kill_group(proc)
            output, _ = proc.communicate()
            failure = f"timed out after {BLOCK_TIMEOUT} s"
        finally:
            kill_group(proc)
            shutil.rmtree(work, ignore_errors=True)
    finally:
        problems = [p for p in (s.stop() for s in servers.values()) if p]
    if problems and failure is None:
        failure = "; ".join(problems)
    if failure is None:
        return None
    report = [failure, "--- as run ---", text.rstrip(), "--- output ---", output.rstrip()]
    for s in servers.values():
        report += [f"--- {s.name} log ---"] + s.log[-40:]
    return "\n".join(report)


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def aws_cli_dir():
    """A directory to put on the blocks' PATH so that `aws` runs the AWS
    CLI, or None when `aws` is already there. pip may install the `aws`
    script where PATH does not look (a user or virtualenv bin directory);
    the CLI's module is enough."""
    if shutil.which("aws"):
        return None
    if importlib.util.find_spec("awscli") is None:
        raise HarnessError("the README's examples need the AWS CLI: python3 -m pip install awscli")
    shim_dir = tempfile.mkdtemp(prefix="readme-aws-")
    atexit.register(shutil.rmtree, shim_dir, True)
    shim = os.path.join(shim_dir, "aws")
    with open(shim, "w", encoding="utf-8") as f:
        f.write(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m awscli "$@"\n')
    os.chmod(shim, 0o755)
    return shim_dir


def check_boto3(to_run):
    """Fail early, with the install command, when the python blocks cannot run."""
    if any(b.lang == "python" and "import boto3" in b.text for b in to_run):
        if importlib.util.find_spec("boto3") is None:
            raise HarnessError("the README's examples need boto3: python3 -m pip install boto3")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    parser.add_argument("--bin-dir", default=os.path.join(target, "debug"))
    parser.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    opts = parser.parse_args()
    bin_dir = os.path.abspath(opts.bin_dir)
    try:
        for name in ("ferrodyn", "ferrodyn-store"):
            if not os.access(os.path.join(bin_dir, name), os.X_OK):
                raise HarnessError(
                    f"no {name} in {bin_dir}: run `cargo build --bin ferrodyn --bin ferrodyn-store` first"
                )
        with open(opts.readme, encoding="utf-8") as f:
            all_blocks = blocks(f.read())
        check_boto3([b for b in all_blocks if b.marker is None])
        extra_path = [bin_dir]
        if any(b.marker is None and b.lang == "sh" and re.search(r"(^|\s)aws\s", b.text) for b in all_blocks):
            shim_dir = aws_cli_dir()
            if shim_dir:
                extra_path.append(shim_dir)
    except HarnessError as e:
        sys.exit(f"run_readme: {e}")

    failures = 0
    for block in all_blocks:
        if block.marker and block.marker[0] == "skip":
            print(f"{'skip':<6} {block.where()}: {block.marker[1]}")
            continue
        started = time.monotonic()
        try:
            failure = run_block(block, bin_dir, extra_path)
        except HarnessError as e:
            failure = str(e)
        took = time.monotonic() - started
        if failure is None:
            kind = "server" if block.marker else "ok"
            print(f"{kind:<6} {block.where()} ({took:.1f} s)")
        else:
            failures += 1
            print(f"{'FAIL':<6} {block.where()} ({took:.1f} s)\n--- block ---\n{block.text.rstrip()}\n{failure}\n", file=sys.stderr)
    if failures:
        sys.exit(f"run_readme: {failures} README block(s) failed")
    print(f"run_readme: all {len(all_blocks)} README blocks pass or are marked skip")


if __name__ == "__main__":
    main()
