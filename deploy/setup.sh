#!/bin/sh
# Demo users for compose.yaml: alice (read, write, merge, push) and bob (read), each with their
# own forge token stored encrypted; prints their gitgate API tokens.
set -eu
tokens=/forge/tokens.json
for user in alice bob; do
  case $user in
    alice) scopes="git:read git:write git:push github:read github:write github:merge" ;;
    *) scopes="git:read github:read" ;;
  esac
  gitgate users add "$user" --scopes "$scopes" --repos "widgets,acme/*" 2>/dev/null || true
  # tokens.json maps forge logins to tokens: {"alice": "...", ...}
  token=$(sed -n "s/.*\"$user\": *\"\\([^\"]*\\)\".*/\\1/p" "$tokens" | head -1)
  FORGE_TOKEN=$token gitgate users set-github-token "$user" --from-env FORGE_TOKEN
  printf '%s: ' "$user"
  gitgate users token "$user"
done
