// Extracts from GitHub's OpenAPI description (npm @octokit/openapi, generated/api.github.com.json)
// the JSON response schemas of the operations gitgate-forge serves, with every component schema
// they reference, into github-subset.json. The e2e test `openapi` validates live answers
// against it, so the test stays hermetic and the 13 MB description stays out of the repository.
//
//   npm pack @octokit/openapi@23.0.2 && tar xzf octokit-openapi-23.0.2.tgz
//   node extract.mjs package/generated/api.github.com.json > github-subset.json
import { readFileSync } from "node:fs";

const OPERATIONS = [
  "get /user",
  "get /users/{username}",
  "get /rate_limit",
  "get /search/issues",
  "get /search/code",
  "get /search/commits",
  "get /repos/{owner}/{repo}",
  "get /repos/{owner}/{repo}/branches",
  "get /repos/{owner}/{repo}/branches/{branch}",
  "get /repos/{owner}/{repo}/tags",
  "get /repos/{owner}/{repo}/commits",
  "get /repos/{owner}/{repo}/commits/{ref}",
  "get /repos/{owner}/{repo}/contents/{path}",
  "get /repos/{owner}/{repo}/readme",
  "get /repos/{owner}/{repo}/labels",
  "post /repos/{owner}/{repo}/labels",
  "get /repos/{owner}/{repo}/labels/{name}",
  "get /repos/{owner}/{repo}/issues",
  "post /repos/{owner}/{repo}/issues",
  "get /repos/{owner}/{repo}/issues/comments",
  "get /repos/{owner}/{repo}/issues/{issue_number}",
  "patch /repos/{owner}/{repo}/issues/{issue_number}",
  "get /repos/{owner}/{repo}/issues/{issue_number}/comments",
  "post /repos/{owner}/{repo}/issues/{issue_number}/comments",
  "get /repos/{owner}/{repo}/issues/{issue_number}/labels",
  "post /repos/{owner}/{repo}/issues/{issue_number}/labels",
  "get /repos/{owner}/{repo}/pulls",
  "post /repos/{owner}/{repo}/pulls",
  "get /repos/{owner}/{repo}/pulls/{pull_number}",
  "patch /repos/{owner}/{repo}/pulls/{pull_number}",
  "get /repos/{owner}/{repo}/pulls/{pull_number}/files",
  "get /repos/{owner}/{repo}/pulls/{pull_number}/commits",
  "put /repos/{owner}/{repo}/pulls/{pull_number}/merge",
  "get /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
  "post /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
  "get /repos/{owner}/{repo}/pulls/{pull_number}/comments",
  "post /repos/{owner}/{repo}/pulls/{pull_number}/comments",
  "post /repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
  "put /repos/{owner}/{repo}/contents/{path}",
  "delete /repos/{owner}/{repo}/contents/{path}",
  "get /repos/{owner}/{repo}/compare/{basehead}",
  "get /repos/{owner}/{repo}/git/ref/{ref}",
  "get /repos/{owner}/{repo}/git/matching-refs/{ref}",
  "post /repos/{owner}/{repo}/git/refs",
  "patch /repos/{owner}/{repo}/git/refs/{ref}",
  "get /user/repos",
  "get /users/{username}/repos",
  "get /orgs/{org}/repos",
  "get /orgs/{org}",
  "get /repos/{owner}/{repo}/events",
  "get /repos/{owner}/{repo}/releases",
  "post /repos/{owner}/{repo}/releases",
  "get /repos/{owner}/{repo}/releases/latest",
  "get /repos/{owner}/{repo}/releases/tags/{tag}",
  "get /repos/{owner}/{repo}/actions/workflows",
  "get /repos/{owner}/{repo}/actions/runs",
  "get /repos/{owner}/{repo}/actions/runs/{run_id}",
  "get /repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
  "get /repos/{owner}/{repo}/actions/jobs/{job_id}",
  "get /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts",
  "get /repos/{owner}/{repo}/commits/{ref}/check-runs",
];

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const deref = (ref) => ref.slice(2).split("/").reduce((o, k) => o[k], spec);
const schemas = {};
const collect = (node) => {
  if (Array.isArray(node)) return node.forEach(collect);
  if (!node || typeof node !== "object") return;
  if (typeof node.$ref === "string" && node.$ref.startsWith("#/components/schemas/")) {
    const name = node.$ref.split("/").pop();
    if (!(name in schemas)) {
      schemas[name] = deref(node.$ref);
      collect(schemas[name]);
    }
  }
  for (const [k, v] of Object.entries(node)) if (k !== "example" && k !== "examples") collect(v);
};

const operations = {};
for (const op of OPERATIONS) {
  const [method, path] = op.split(" ");
  const operation = spec.paths[path]?.[method];
  if (!operation) throw new Error(`no ${op} in the description`);
  const responses = {};
  for (let [status, response] of Object.entries(operation.responses)) {
    if (response.$ref) response = deref(response.$ref);
    const schema = response.content?.["application/json"]?.schema;
    if (schema) {
      responses[status] = schema;
      collect(schema);
    }
  }
  operations[op] = responses;
}
const strip = (node) => {
  if (Array.isArray(node)) return node.map(strip);
  if (!node || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (!["example", "examples", "description", "title", "x-github"].includes(k)) out[k] = strip(v);
  }
  return out;
};
const source = `@octokit/openapi api.github.com.json (OpenAPI ${spec.openapi}, description version ${spec.info.version})`;
process.stdout.write(JSON.stringify({ source, operations: strip(operations), schemas: strip(schemas) }) + "\n");
