#!/usr/bin/env bash
# `ferrodyn --upstream` in front of foreign DynamoDB-API engines: for each
# engine, the behaviour suite (tests/engines/behaviour.py) runs against the
# engine directly and through the proxy and must give identical per-test
# results, and writes made straight to the engine must be seen through the
# proxy (tests/engines/run.py, which also prints the lag over 100 trials).
#
# Engines: moto (`moto_server`, from PyPI) and Dynoxide (`dynoxide`, built
# from crates.io by .ci/run). A missing engine is skipped with a message
# (FERRODYN_SKIP_MOTO=1 / FERRODYN_SKIP_DYNOXIDE=1 skip one on purpose).
# The proxy runs without credentials, as a user's first try would: its own
# calls carry the placeholder signature (README, "In front of DynamoDB").
#
#   scripts/foreign-engines.sh target/debug
set -euo pipefail
bin_dir="${1:-target/debug}"
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    for _ in $(seq 1 300); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listens on port $1 after 30 s" >&2
    return 1
}

# run_engine NAME COMMAND...: COMMAND must listen on $engine_port.
run_engine() {
    local name="$1"; shift
    "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    wait_port "$engine_port" || { cat "$work/$name.log" >&2; return 1; }
    local port admin
    port="$(free_port)"
    admin="$(free_port)"
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
        AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent \
        "$bin_dir/ferrodyn" --upstream "http://127.0.0.1:$engine_port" \
        --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" \
        --data-dir "$work/$name-proxy" >"$work/$name-proxy.log" 2>&1 &
    pids+=($!)
    wait_port "$port"
    python3 tests/engines/run.py --name "$name" --direct "http://127.0.0.1:$engine_port" \
        --proxy "http://127.0.0.1:$port" --proxy-admin "http://127.0.0.1:$admin" \
        --json "$work/$name.json" || { echo "--- proxy log"; tail -40 "$work/$name-proxy.log"; return 1; }
}

status=0
if [ "${FERRODYN_SKIP_MOTO:-}" = 1 ]; then
    echo "FERRODYN_SKIP_MOTO=1: not running moto"
elif python3 -c 'import moto.server' 2>/dev/null; then
    engine_port="$(free_port)"
    run_engine moto python3 -m moto.server -H 127.0.0.1 -p "$engine_port" || status=1
else
    echo "moto is not installed (python3 -m pip install 'moto[server]'): skipped"
fi

dynoxide="${DYNOXIDE:-$(command -v dynoxide || true)}"
if [ "${FERRODYN_SKIP_DYNOXIDE:-}" = 1 ]; then
    echo "FERRODYN_SKIP_DYNOXIDE=1: not running Dynoxide"
elif [ -n "$dynoxide" ] && [ -x "$dynoxide" ]; then
    engine_port="$(free_port)"
    run_engine dynoxide "$dynoxide" --port "$engine_port" || status=1
else
    echo "Dynoxide is not installed (cargo install dynoxide-rs --no-default-features --features native-sqlite,http-server,cli; or DYNOXIDE=path): skipped"
fi
exit "$status"
