#!/usr/bin/env bash
# Runs every test gitgate has, on a fresh machine: installs what the tests need, checks format and
# lints, runs the Rust test suites, then the MCP conformance suite against the HTTP server.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "system packages (git, gh, jq)"
missing=()
for tool in git gh jq; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
git --version; gh --version | head -1; jq --version

step "npm packages (MCP conformance suite, GitHub OpenAPI description)"
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests"
cargo test --workspace --locked

step "MCP conformance suite against gitgate serve --http"
bash scripts/conformance.sh target/debug/gitgate
