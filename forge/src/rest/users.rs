//! Users and the rate-limit report: `GET /user`, `GET /users/{u}`, `GET /rate_limit`.

use serde_json::{Value, json};

use super::{ApiError, ApiResult, Ctx, Reply, render};

/// `GET /user`: the token's user with private fields.
pub fn me(ctx: &Ctx<'_>) -> ApiResult {
    let mut v = render::profile(&ctx.bases, &ctx.user, 0);
    render::merge(
        &mut v,
        json!({
            "private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0, "disk_usage": 0,
            "collaborators": 0, "two_factor_authentication": false,
            "plan": {"name": "free", "space": 976562499, "collaborators": 0, "private_repos": 10000},
        }),
    );
    Ok(Reply::json(&v))
}

/// `GET /users/{login}`.
pub fn get(ctx: &Ctx<'_>, login: &str) -> ApiResult {
    let user = ctx
        .app
        .store()
        .user(login)?
        .ok_or_else(ApiError::not_found)?;
    let repos = ctx.app.store().repos_of(&user)?.len();
    if ctx.path.starts_with("/orgs/") {
        if user.kind != "Organization" {
            return Err(ApiError::not_found());
        }
        return Ok(Reply::json(&render::org(&ctx.bases, &user, repos)));
    }
    Ok(Reply::json(&render::profile(&ctx.bases, &user, repos)))
}

fn rate(r: &crate::faults::Rate, resource: &str) -> Value {
    json!({"limit": r.limit, "used": r.used, "remaining": r.remaining(), "reset": r.reset, "resource": resource})
}

/// `GET /rate_limit` (not charged, as on GitHub).
pub fn rate_limit(ctx: &Ctx<'_>) -> ApiResult {
    let f = &ctx.app.faults;
    let id = ctx.user.id;
    let core = f.peek(id, "core");
    let mut resources = serde_json::Map::new();
    for name in ["core", "search", "graphql"] {
        resources.insert(name.into(), rate(&f.peek(id, name), name));
    }
    let spare = crate::faults::Rate {
        used: 0,
        allowed: true,
        ..core
    };
    for name in [
        "integration_manifest",
        "source_import",
        "code_scanning_upload",
        "actions_runner_registration",
        "scim",
        "code_search",
    ] {
        resources.insert(name.into(), rate(&spare, name));
    }
    Ok(Reply::json(
        &json!({"resources": resources, "rate": rate(&core, "core")}),
    ))
}

/// `GET /user/repos`, `/users/{u}/repos`, `/orgs/{o}/repos`: repositories owned by `login`
/// (for `/user/repos`, GitHub also lists repositories the user can push to: all of them here).
pub fn repos(ctx: &Ctx<'_>, login: &str) -> ApiResult {
    let store = ctx.app.store();
    let owner = store.user(login)?.ok_or_else(ApiError::not_found)?;
    let mut repos = store.repos_of(&owner)?;
    if ctx.path == "/user/repos" {
        for u in store.users()? {
            if u.id != owner.id {
                repos.extend(store.repos_of(&u)?);
            }
        }
    }
    let mut items = Vec::new();
    for r in &repos {
        let open = store
            .issues(r)?
            .iter()
            .filter(|i| i.state == "open")
            .count();
        items.push(crate::rest::render::repo(&ctx.bases, r, open, r.updated_at));
    }
    drop(store);
    Ok(crate::rest::paginate(ctx, items))
}
