//! End-to-end tests of gitgate-forge: one binary, a module per feature. Each test starts its own
//! forge in process on 127.0.0.1:0 over a fresh demo seed.

mod gh;
mod git_http;
mod graphql;
mod graphql_bounds;
mod instruments;
mod openapi;
mod rest;
mod rest_octocrab;

use gitgate_forge::Handle;

/// A running forge and the directory it lives in (kept alive as long as the forge).
pub struct Forge {
    pub handle: Handle,
    _dir: tempfile::TempDir,
}

impl Forge {
    pub fn token(&self, login: &str) -> String {
        self.handle.token(login).to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url)
    }
}

pub async fn start() -> Forge {
    let dir = tempfile::tempdir().expect("tempdir");
    let handle = gitgate_forge::start_ephemeral(dir.path())
        .await
        .expect("forge starts");
    Forge { handle, _dir: dir }
}

/// A plain HTTP client (no proxy from the environment: tests are hermetic).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// GET `path` as `login`; returns status, headers and body text.
pub async fn get(f: &Forge, login: &str, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    send(f, reqwest::Method::GET, login, path, None, None).await
}

pub async fn send(
    f: &Forge,
    method: reqwest::Method,
    login: &str,
    path: &str,
    body: Option<serde_json::Value>,
    accept: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = http()
        .request(method, f.url(path))
        .header("authorization", format!("token {}", f.token(login)));
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.expect("body"))
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
