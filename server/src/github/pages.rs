//! Lists over GitHub's pagination: pages asked by number, and what lies beyond the limit
//! counted (exactly where the `Link` header allows, else by walking a bounded number of pages).

use http::HeaderMap;
use serde_json::Value;

use super::client::{Clients, Error};
use super::request::Req;

/// What lies past a listed page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum More {
    Exact(usize),
    AtLeast(usize),
}

impl More {
    /// The "N more" count as words ("12" or "at least 200").
    pub fn words(self) -> Option<String> {
        match self {
            More::Exact(0) => None,
            More::Exact(n) => Some(n.to_string()),
            More::AtLeast(n) => Some(format!("at least {n}")),
        }
    }
}

/// Items of a list call: at most `limit` kept, and what lies beyond.
#[derive(Debug)]
pub(crate) struct Listed {
    pub items: Vec<Value>,
    pub more: More,
}

/// Largest page GitHub serves.
const PER_PAGE: usize = 100;
/// Pages fetched past what the limit needs, only to count what lies beyond.
const COUNT_PAGES: usize = 2;

impl Clients {
    /// Lists up to `limit` items of a paginated array endpoint and counts the rest exactly from
    /// the `Link` header's last page number: two requests however long the list (a walk would
    /// cost one request per hundred items). Pages are asked by number: following `Link` URLs
    /// would drop the user's header.
    pub(crate) async fn list_all(
        &self,
        user: &str,
        req: &Req,
        limit: usize,
    ) -> Result<Listed, Error> {
        let per_page = limit.min(PER_PAGE);
        let pages = limit.div_ceil(per_page);
        let mut items = Vec::new();
        let mut last_page = None;
        for page in 1..=pages {
            let reply = self
                .send_page(user, req, &page_query(per_page, page))
                .await?;
            last_page = last_page_of(&reply.headers);
            let got = array_of(reply.json()?)?;
            let n = got.len();
            items.extend(got);
            if n < per_page || last_page.is_none() {
                break;
            }
        }
        let mut more = items.len().saturating_sub(limit);
        items.truncate(limit);
        if let Some(last) = last_page.filter(|l| *l > pages) {
            let reply = self
                .send_page(user, req, &page_query(per_page, last))
                .await?;
            let total = (last - 1) * per_page + array_of(reply.json()?)?.len();
            more = total.saturating_sub(limit);
        }
        Ok(Listed {
            items,
            more: More::Exact(more),
        })
    }

    /// As [`Clients::list_all`], keeping only what `keep` accepts: the rest is counted by
    /// walking on, at most [`COUNT_PAGES`] pages of a hundred past the limit.
    pub(crate) async fn list(
        &self,
        user: &str,
        req: &Req,
        limit: usize,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<Listed, Error> {
        self.list_at(user, req, limit, |v| v.as_array().cloned(), keep)
            .await
    }

    /// As [`Clients::list`], for answers holding the array under `key` (`{"files": [..]}`).
    pub(crate) async fn list_at(
        &self,
        user: &str,
        req: &Req,
        limit: usize,
        items_of: impl Fn(Value) -> Option<Vec<Value>>,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<Listed, Error> {
        let max_pages = limit.div_ceil(PER_PAGE).max(1) + COUNT_PAGES;
        let mut items = Vec::new();
        let mut beyond = 0usize;
        for page in 1..=max_pages {
            let extra = [
                ("per_page", PER_PAGE.to_string()),
                ("page", page.to_string()),
            ];
            let reply = self.send_page(user, req, &extra).await?;
            let last = !has_next(&reply.headers);
            let got = items_of(reply.json()?).ok_or_else(|| Error::Upstream {
                status: 200,
                message: "expected a list".into(),
            })?;
            let full = got.len() >= PER_PAGE;
            for item in got.into_iter().filter(|i| keep(i)) {
                if items.len() < limit {
                    items.push(item);
                } else {
                    beyond += 1;
                }
            }
            if last || !full {
                return Ok(Listed {
                    items,
                    more: More::Exact(beyond),
                });
            }
        }
        Ok(Listed {
            items,
            more: More::AtLeast(beyond.max(1)),
        })
    }
}

fn page_query(per_page: usize, page: usize) -> [(&'static str, String); 2] {
    [
        ("per_page", per_page.to_string()),
        ("page", page.to_string()),
    ]
}

fn array_of(v: Value) -> Result<Vec<Value>, Error> {
    match v {
        Value::Array(items) => Ok(items),
        _ => Err(Error::Upstream {
            status: 200,
            message: "expected a list".into(),
        }),
    }
}

/// The `page` number of the `Link` header's `rel="last"` URL.
fn last_page_of(headers: &HeaderMap) -> Option<usize> {
    let link = headers.get(http::header::LINK)?.to_str().ok()?;
    let last = link.split(',').find(|part| part.contains("rel=\"last\""))?;
    let url = last.split(['<', '>']).nth(1)?;
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("page="))
        .and_then(|n| n.parse().ok())
}

fn has_next(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::LINK)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|l| l.contains("rel=\"next\""))
}
