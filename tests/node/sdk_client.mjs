// gitgate through the official TypeScript MCP client (@modelcontextprotocol/sdk), the second
// real client the test suite uses besides rmcp's: over stdio as one local user, and over
// Streamable HTTP as a user with their own token. Usage: node sdk_client.mjs PATH/TO/gitgate
//
// Each check throws on failure (node:assert), so the process exits non-zero and CI goes red.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const bin = process.argv[2];
if (!bin) {
  console.error("usage: node sdk_client.mjs PATH/TO/gitgate");
  process.exit(2);
}

const gitEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_DATE: "1704067200 +0000",
  GIT_COMMITTER_DATE: "1704067200 +0000",
};

/** A repository with two commits on main, as the Rust e2e tests' fixture. */
function fixtureRepo() {
  const dir = mkdtempSync(join(tmpdir(), "gitgate-sdk-repo-"));
  const git = (...args) => execFileSync("git", args, { cwd: dir, env: gitEnv, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  git("config", "user.name", "Fixture");
  git("config", "user.email", "fixture@example.com");
  writeFileSync(join(dir, "README.md"), "hello\n");
  git("add", "-A");
  git("commit", "-q", "-m", "first commit");
  writeFileSync(join(dir, "README.md"), "hello\nworld\n");
  git("commit", "-q", "-am", "second commit");
  return dir;
}

const text = (result) =>
  result.content
    .filter((c) => c.type === "text")
    .map((c) => c.text)
    .join("\n");

/** What every transport must do the same: list, call, fail cleanly, reach the unlisted. */
async function exercise(client, label) {
  const server = client.getServerVersion();
  assert.equal(server?.name, "gitgate", `${label}: serverInfo`);

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const expected of ["git_status", "git_log", "git_commit", "gitgate"]) {
    assert.ok(names.includes(expected), `${label}: ${expected} missing from ${names}`);
  }
  assert.ok(!names.includes("git_stash"), `${label}: git_stash is behind the gitgate tool`);
  const log = tools.find((t) => t.name === "git_log");
  assert.equal(log.inputSchema.type, "object", `${label}: git_log's schema`);
  assert.equal(log.annotations?.readOnlyHint, true, `${label}: git_log is read-only`);

  const history = await client.callTool({ name: "git_log", arguments: { max_count: 1 } });
  assert.notEqual(history.isError, true, `${label}: git_log failed: ${text(history)}`);
  assert.match(text(history), /second commit/, `${label}: git_log's text`);

  const fields = await client.callTool({
    name: "git_log",
    arguments: { json: "subject,short" },
  });
  assert.equal(fields.structuredContent?.items?.[1]?.subject, "first commit", `${label}: json`);

  // A tool error is a result the agent reads, not a protocol error.
  const wrong = await client.callTool({ name: "git_log", arguments: { rev: "no-such-ref" } });
  assert.equal(wrong.isError, true, `${label}: an unknown revision is a tool error`);
  assert.match(text(wrong), /no-such-ref/, `${label}: the error names the revision`);
  // An unknown tool is a protocol error (-32602, as the MCP spec has it) naming the nearest.
  await assert.rejects(
    client.callTool({ name: "git_frobnicate", arguments: {} }),
    (e) => e.code === -32602 && /nearest: /.test(e.message),
    `${label}: an unknown tool`,
  );

  // Left out of tools/list, callable by name and through the gitgate tool's run form.
  const tag = await client.callTool({ name: "git_tag", arguments: { name: `v-${label}` } });
  assert.notEqual(tag.isError, true, `${label}: git_tag failed: ${text(tag)}`);
  const tags = await client.callTool({ name: "gitgate", arguments: { run: "git tag -l" } });
  assert.match(text(tags), new RegExp(`^v-${label}$`, "m"), `${label}: git tag -l`);
}

async function overStdio(repo) {
  const data = mkdtempSync(join(tmpdir(), "gitgate-sdk-stdio-"));
  const transport = new StdioClientTransport({
    command: bin,
    args: ["serve", "--stdio", "--data-dir", data, "--repo", `app=${repo}`],
    stderr: "ignore",
  });
  const client = new Client({ name: "gitgate-sdk-test", version: "1.0.0" });
  await client.connect(transport);
  await exercise(client, "stdio");
  await client.close();
  verifyAudit(data, "stdio");
}

/** Starts `gitgate serve --http` on a free loopback port; resolves with its MCP URL. */
function serveHttp(data, repo) {
  const child = spawn(
    bin,
    ["serve", "--http", "127.0.0.1:0", "--data-dir", data, "--repo", `app=${repo}`],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no MCP URL on stderr: ${seen}`)), 30_000);
    child.stderr.on("data", (chunk) => {
      seen += chunk;
      const m = seen.match(/gitgate: serving MCP at (\S+)\r?\n/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: new URL(m[1]) });
      }
    });
    child.on("exit", (code) => reject(new Error(`gitgate exited (${code}): ${seen}`)));
  });
}

const gitgate = (...args) =>
  execFileSync(bin, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

function verifyAudit(data, label) {
  const out = execFileSync(bin, ["audit", "verify", "--data-dir", data], { encoding: "utf8" });
  assert.match(out, /ok|verified/i, `${label}: audit verify said ${out}`);
}

async function overHttp(repo) {
  const data = mkdtempSync(join(tmpdir(), "gitgate-sdk-http-"));
  gitgate("users", "add", "alice", "--scopes", "git:read git:write", "--repos", "**",
    "--data-dir", data);
  const token = gitgate("users", "token", "alice", "--data-dir", data);
  const { child, url } = await serveHttp(data, repo);
  try {
    const client = new Client({ name: "gitgate-sdk-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(url, {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    await exercise(client, "http");
    await client.close();

    // A wrong token is refused before any session exists.
    const stranger = new Client({ name: "gitgate-sdk-test", version: "1.0.0" });
    await assert.rejects(
      stranger.connect(
        new StreamableHTTPClientTransport(url, {
          requestInit: { headers: { Authorization: "Bearer not-a-token" } },
        }),
      ),
      (e) => e?.code === 401 && /revoked token/.test(e.message),
      `http: a wrong token must not connect`,
    );
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
  verifyAudit(data, "http");
  // Alice's calls are hers in the audit log.
  const events = execFileSync(bin, ["audit", "query", "--data-dir", data, "--user", "alice"], {
    encoding: "utf8",
  });
  assert.match(events, /git_tag/, "http: alice's git_tag call is in the audit log");
}

const repo = fixtureRepo();
await overStdio(repo);
await overHttp(repo);
// The tags both transports made are in the repository itself.
const tags = execFileSync("git", ["tag", "-l"], { cwd: repo, env: gitEnv, encoding: "utf8" });
assert.deepEqual(tags.trim().split("\n").sort(), ["v-http", "v-stdio"]);
console.log("@modelcontextprotocol/sdk client: stdio and Streamable HTTP ok");
