//! GitHub users by login: what a front end needs beyond the short user objects that issues and
//! pull requests embed (gh's `author` carries the display name, which REST leaves out there).

use std::collections::BTreeMap;

use serde_json::Value;

use super::request::{PATH_SEGMENT, Req};
use super::{Clients, Error};

/// Most distinct users looked up for one answer; the rest print without a display name.
const MAX_USERS: usize = 50;

/// The REST records of `logins` (each fetched once), keyed by login. A user GitHub does not
/// know (a deleted account, "ghost") is left out rather than failing the whole answer.
pub(crate) async fn users_by_login(
    clients: &Clients,
    user: &str,
    logins: impl IntoIterator<Item = String>,
) -> Result<BTreeMap<String, Value>, Error> {
    let mut found = BTreeMap::new();
    let mut asked = 0;
    for login in logins {
        if login.is_empty() || found.contains_key(&login) || asked >= MAX_USERS {
            continue;
        }
        asked += 1;
        let path = format!(
            "/users/{}",
            percent_encoding::utf8_percent_encode(&login, PATH_SEGMENT)
        );
        match clients
            .json(user, &Req::get(path, format!("user {login}")))
            .await
        {
            Ok(v) => {
                found.insert(login, v);
            }
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// The REST record of the user whose token makes the calls (`GET /user`).
pub(crate) async fn viewer(clients: &Clients, user: &str) -> Result<Value, Error> {
    clients
        .json(
            user,
            &Req::get("/user".to_owned(), "the authenticated user"),
        )
        .await
}
