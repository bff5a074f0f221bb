//! The REST API: request context, replies and GitHub's error bodies, pagination, and the route
//! table. Handlers are synchronous (SQLite and libgit2 block) and run on the blocking pool.

pub mod actions;
mod issues;
pub mod pulls;
pub mod refs;
pub mod releases;
pub mod render;
pub mod repos;
pub mod review_comments;
pub mod search;
mod search_commits;
pub mod users;

use axum::body::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::App;
use crate::store::{Repo, User};

/// GitHub's generic REST documentation link, used in error bodies.
pub const DOCS: &str = "https://docs.github.com/rest";

/// The absolute bases URL fields are built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bases {
    /// REST root, e.g. `http://api.github.localhost` or `http://127.0.0.1:PORT`.
    pub api: String,
    /// Web root, e.g. `http://github.localhost` or `http://127.0.0.1:PORT`.
    pub html: String,
}

impl Bases {
    /// Bases from a configured public URL, else from the Host the request named.
    pub fn new(public_url: Option<&str>, host: &str) -> Self {
        if let Some(u) = public_url {
            let u = u.trim_end_matches('/').to_string();
            return Self {
                api: u.clone(),
                html: u,
            };
        }
        match host.strip_prefix("api.") {
            Some(rest) => Self {
                api: format!("http://{host}"),
                html: format!("http://{rest}"),
            },
            None => Self {
                api: format!("http://{host}"),
                html: format!("http://{host}"),
            },
        }
    }
}

/// One API request, as handlers see it.
pub struct Ctx<'a> {
    /// The forge.
    pub app: &'a App,
    /// Method.
    pub method: Method,
    /// Path (no query).
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Request headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// The authenticated caller.
    pub user: User,
    /// URL bases.
    pub bases: Bases,
}

impl Ctx<'_> {
    /// A query parameter.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The JSON body, or GitHub's 400 "Problems parsing JSON".
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body: &[u8] = if self.body.is_empty() {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body)
            .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
    }

    /// Whether the client asked for a media type (e.g. `diff`).
    pub fn accepts(&self, what: &str) -> bool {
        self.headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.contains(&format!("application/vnd.github.{what}"))
                    || v.contains(&format!("application/vnd.github.v3.{what}"))
            })
    }

    /// Repository `owner/name` or 404.
    pub fn repo(&self, owner: &str, name: &str) -> Result<Repo, ApiError> {
        self.app
            .store()
            .repo(owner, name)?
            .ok_or_else(ApiError::not_found)
    }

    /// Runs a write in one transaction with the next logical instant.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&crate::store::Store, crate::store::Time) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.app.store().transaction(|s| {
            let now = s.tick()?;
            f(s, now)
        })
    }

    /// Opens the bare repository of `repo`.
    pub fn git(&self, repo: &Repo) -> Result<git2::Repository, ApiError> {
        let path = crate::git::repo_path(&self.app.data_dir, &repo.owner.login, &repo.name);
        Ok(git2::Repository::open_bare(path)?)
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Extra headers (e.g. Link).
    pub headers: Vec<(String, String)>,
    /// Content type.
    pub content_type: String,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn json(v: &Value) -> Self {
        Self::json_status(StatusCode::OK, v)
    }

    /// A JSON body with `status`.
    pub fn json_status(status: StatusCode, v: &Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type: "application/json; charset=utf-8".into(),
            body: serde_json::to_vec_pretty(v).unwrap_or_default(),
        }
    }

    /// A text body.
    pub fn text(content_type: &str, text: String) -> Self {
        Self {
            status: StatusCode::OK,
            headers: Vec::new(),
            content_type: content_type.into(),
            body: text.into_bytes(),
        }
    }

    /// 204.
    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            headers: Vec::new(),
            content_type: String::new(),
            body: Vec::new(),
        }
    }
}

/// An error answer with GitHub's body shape.
#[derive(Debug)]
pub struct ApiError {
    /// Status.
    pub status: StatusCode,
    /// `message`.
    pub message: String,
    /// `errors`, for 422.
    pub errors: Option<Value>,
}

impl ApiError {
    /// An error with a message.
    pub fn new(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            message: message.into(),
            errors: None,
        }
    }

    /// 404 "Not Found".
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    /// 422 "Validation Failed" with one error entry.
    pub fn invalid(resource: &str, field: &str, code: &str) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Validation Failed".into(),
            errors: Some(json!([{"resource": resource, "field": field, "code": code}])),
        }
    }

    /// 422 with a custom message and no field.
    pub fn unprocessable(message: &str) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut v = json!({"message": self.message, "documentation_url": DOCS});
        if let Some(e) = &self.errors {
            v["errors"] = e.clone();
        }
        v
    }

    /// As a reply.
    pub fn into_reply(self) -> Reply {
        Reply::json_status(self.status, &self.body())
    }
}

impl From<crate::store::Error> for ApiError {
    fn from(e: crate::store::Error) -> Self {
        tracing::error!(error = %e, "store");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")
    }
}

impl From<git2::Error> for ApiError {
    fn from(e: git2::Error) -> Self {
        tracing::error!(error = %e, "git");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")
    }
}

impl From<crate::git::Error> for ApiError {
    fn from(e: crate::git::Error) -> Self {
        match e {
            crate::git::Error::Conflict => Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Pull Request is not mergeable",
            ),
            crate::git::Error::Moved => Self::new(
                StatusCode::CONFLICT,
                "Base branch was modified. Review and try the merge again.",
            ),
            crate::git::Error::Git(g) => g.into(),
        }
    }
}

/// Result of a handler.
pub type ApiResult = Result<Reply, ApiError>;

/// `per_page` (default 30, at most 100) and `page` (from 1).
pub fn page_params(ctx: &Ctx<'_>) -> (usize, usize) {
    let per_page = ctx
        .q("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100);
    let page = ctx
        .q("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    (per_page, page)
}

/// Slices `items` to the requested page and adds GitHub's `Link` header.
pub fn paginate(ctx: &Ctx<'_>, items: Vec<Value>) -> Reply {
    paginate_map(ctx, &items, Value::clone)
}

/// Like [`paginate`], rendering only the items on the page.
pub fn paginate_map<T>(ctx: &Ctx<'_>, items: &[T], render: impl Fn(&T) -> Value) -> Reply {
    let (per_page, page) = page_params(ctx);
    let total = items.len();
    let body: Vec<Value> = items
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(render)
        .collect();
    let mut reply = Reply::json(&Value::Array(body));
    if let Some(link) = link_header(ctx, total, per_page, page) {
        reply.headers.push(("link".into(), link));
    }
    reply
}

/// GitHub's `Link` header for a list of `total` items.
pub fn link_header(ctx: &Ctx<'_>, total: usize, per_page: usize, page: usize) -> Option<String> {
    let last = total.div_ceil(per_page).max(1);
    let url = |p: usize| {
        let mut pairs: Vec<(String, String)> = ctx
            .query
            .iter()
            .filter(|(k, _)| k != "page" && k != "per_page")
            .cloned()
            .collect();
        pairs.push(("per_page".into(), per_page.to_string()));
        pairs.push(("page".into(), p.to_string()));
        let q: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("<{}{}?{}>", ctx.bases.api, ctx.path, q.join("&"))
    };
    let mut parts = Vec::new();
    if page > 1 {
        parts.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        parts.push(format!("{}; rel=\"next\"", url(page + 1)));
        parts.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        parts.push(format!("{}; rel=\"first\"", url(1)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Everything but RFC 3986's unreserved characters.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a path segment or query component.
pub fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

/// Routes one request. `segs` are the decoded path segments.
pub fn route(ctx: &Ctx<'_>) -> ApiResult {
    let segs: Vec<String> = ctx
        .path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = &ctx.method;
    let get = *m == Method::GET || *m == Method::HEAD;
    let post = *m == Method::POST;
    let patch = *m == Method::PATCH;
    let put = *m == Method::PUT;
    let delete = *m == Method::DELETE;
    match s.as_slice() {
        ["user"] if get => users::me(ctx),
        ["users", login] if get => users::get(ctx, login),
        ["rate_limit"] if get => users::rate_limit(ctx),
        ["search", "issues"] if get => search::issues(ctx),
        ["search", "code"] if get => search::code(ctx),
        ["search", "commits"] if get => search_commits::commits(ctx),
        ["repos", o, r] if get => repos::get(ctx, o, r),
        ["repos", o, r, "branches"] if get => repos::branches(ctx, o, r),
        ["repos", o, r, "branches", rest @ ..] if get && !rest.is_empty() => {
            repos::branch(ctx, o, r, &rest.join("/"))
        }
        ["repos", o, r, "tags"] if get => repos::tags(ctx, o, r),
        ["repos", o, r, "events"] if get => repos::events(ctx, o, r),
        ["repos", o, r, "releases"] if get => releases::list(ctx, o, r),
        ["repos", o, r, "releases"] if post => releases::create(ctx, o, r),
        ["repos", o, r, "releases", which @ ..] if get && !which.is_empty() => {
            releases::get(ctx, o, r, which)
        }
        ["repos", o, r, "actions", "workflows"] if get => actions::workflows(ctx, o, r),
        ["repos", o, r, "actions", "workflows", id] if get => actions::workflow_get(ctx, o, r, id),
        ["repos", o, r, "actions", "workflows", _, "runs"] | ["repos", o, r, "actions", "runs"]
            if get =>
        {
            actions::runs(ctx, o, r)
        }
        ["repos", o, r, "actions", "runs", id] if get => actions::run(ctx, o, r, id),
        ["repos", o, r, "actions", "runs", id, "jobs"] if get => actions::jobs(ctx, o, r, id),
        ["repos", o, r, "actions", "runs", id, "logs"] if get => actions::run_logs(ctx, o, r, id),
        ["repos", o, r, "actions", "runs", id, "artifacts"] if get => {
            actions::artifacts(ctx, o, r, id)
        }
        [
            "repos",
            o,
            r,
            "actions",
            "runs",
            id,
            "rerun" | "rerun-failed-jobs",
        ] if post => actions::rerun(ctx, o, r, id),
        ["repos", o, r, "actions", "jobs", id] if get => actions::job(ctx, o, r, id),
        ["repos", o, r, "actions", "jobs", id, "logs"] if get => actions::job_logs(ctx, o, r, id),
        ["repos", o, r, "commits", rev @ .., "check-runs"] if get && !rev.is_empty() => {
            actions::check_runs(ctx, o, r, &rev.join("/"))
        }
        ["repos", o, r, "commits"] if get => repos::commits(ctx, o, r),
        ["repos", o, r, "commits", rest @ ..] if get && !rest.is_empty() => {
            repos::commit(ctx, o, r, &rest.join("/"))
        }
        ["repos", o, r, "contents", rest @ ..] if get => {
            repos::contents(ctx, o, r, &rest.join("/"))
        }
        ["repos", o, r, "readme"] if get => repos::readme(ctx, o, r),
        ["repos", o, r, "contents", rest @ ..] if put => {
            refs::write_file(ctx, o, r, &rest.join("/"), false)
        }
        ["repos", o, r, "contents", rest @ ..] if delete => {
            refs::write_file(ctx, o, r, &rest.join("/"), true)
        }
        ["repos", o, r, "compare", rest @ ..] if get && !rest.is_empty() => {
            refs::compare(ctx, o, r, &rest.join("/"))
        }
        ["repos", o, r, "git", "ref", rest @ ..] if get && !rest.is_empty() => {
            refs::get_ref(ctx, o, r, &rest.join("/"))
        }
        ["repos", o, r, "git", "matching-refs", rest @ ..] if get => {
            refs::matching_refs(ctx, o, r, &rest.join("/"))
        }
        ["repos", o, r, "git", "refs"] if post => refs::create_ref(ctx, o, r),
        ["repos", o, r, "git", "refs", rest @ ..] if patch && !rest.is_empty() => {
            refs::update_ref(ctx, o, r, &rest.join("/"))
        }
        ["repos", o, r, "git", "refs", rest @ ..] if delete && !rest.is_empty() => {
            refs::delete_ref(ctx, o, r, &rest.join("/"))
        }
        ["user", "repos"] if get => users::repos(ctx, &ctx.user.login.clone()),
        ["users", login, "repos"] | ["orgs", login, "repos"] if get => users::repos(ctx, login),
        ["orgs", login] if get => users::get(ctx, login),
        ["repos", o, r, "labels"] if get => issues::labels(ctx, o, r),
        ["repos", o, r, "labels"] if post => issues::create_label(ctx, o, r),
        ["repos", o, r, "labels", name] if get => issues::label(ctx, o, r, name),
        ["repos", o, r, "issues"] if get => issues::list(ctx, o, r),
        ["repos", o, r, "issues"] if post => issues::create(ctx, o, r),
        ["repos", o, r, "issues", "comments"] if get => issues::repo_comments(ctx, o, r),
        ["repos", o, r, "issues", n] if get => issues::get(ctx, o, r, number(n)?),
        ["repos", o, r, "issues", n] if patch => issues::update(ctx, o, r, number(n)?),
        ["repos", o, r, "issues", n, "comments"] if get => issues::comments(ctx, o, r, number(n)?),
        ["repos", o, r, "issues", n, "comments"] if post => {
            issues::create_comment(ctx, o, r, number(n)?)
        }
        ["repos", o, r, "issues", n, "labels"] if get => {
            issues::issue_labels(ctx, o, r, number(n)?)
        }
        ["repos", o, r, "issues", n, "labels"] if post => issues::add_labels(ctx, o, r, number(n)?),
        ["repos", o, r, "pulls"] if get => pulls::list(ctx, o, r),
        ["repos", o, r, "pulls"] if post => pulls::create(ctx, o, r),
        ["repos", o, r, "pulls", n] if get => pulls::get(ctx, o, r, number(n)?),
        ["repos", o, r, "pulls", n] if patch => pulls::update(ctx, o, r, number(n)?),
        ["repos", o, r, "pulls", n, "files"] if get => pulls::files(ctx, o, r, number(n)?),
        ["repos", o, r, "pulls", n, "comments"] if get => {
            review_comments::list(ctx, o, r, number(n)?)
        }
        ["repos", o, r, "pulls", n, "comments"] if post => {
            review_comments::create(ctx, o, r, number(n)?)
        }
        ["repos", o, r, "pulls", n, "comments", id, "replies"] if post => {
            review_comments::reply(ctx, o, r, number(n)?, number(id)?)
        }
        ["repos", o, r, "pulls", n, "commits"] if get => pulls::commits(ctx, o, r, number(n)?),
        ["repos", o, r, "pulls", n, "merge"] if get => pulls::is_merged(ctx, o, r, number(n)?),
        ["repos", o, r, "pulls", n, "merge"] if put => pulls::merge(ctx, o, r, number(n)?),
        ["repos", o, r, "pulls", n, "reviews"] if get => pulls::reviews(ctx, o, r, number(n)?),
        ["repos", o, r, "pulls", n, "reviews"] if post => {
            pulls::create_review(ctx, o, r, number(n)?)
        }
        _ => Err(ApiError::not_found()),
    }
}

fn number(s: &str) -> Result<i64, ApiError> {
    s.parse().map_err(|_| ApiError::not_found())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(public: Option<&str>, host: &str, api: &str, html: &str) {
        let b = Bases::new(public, host);
        assert_eq!(
            (b.api.as_str(), b.html.as_str()),
            (api, html),
            "{public:?} {host}"
        );
    }

    #[test]
    fn bases_follow_the_host_gh_names() {
        check(
            None,
            "api.github.localhost",
            "http://api.github.localhost",
            "http://github.localhost",
        );
        check(
            None,
            "127.0.0.1:8080",
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080",
        );
        check(
            Some("http://forge.test/"),
            "api.github.localhost",
            "http://forge.test",
            "http://forge.test",
        );
    }

    #[test]
    fn encode_keeps_unreserved_characters() {
        assert_eq!(encode("good first issue"), "good%20first%20issue");
        assert_eq!(encode("per_page-1.x~"), "per_page-1.x~");
    }
}
