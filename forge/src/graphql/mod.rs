//! GraphQL at `/graphql`: the queries and mutations the gh CLI (2.23) sends for issue, pr and
//! repo commands, parsed by apollo-parser and bounded (`parse`), answered by a small executor
//! (`exec`) over resolvers (`schema`) that share the store and git code with REST, so writes show
//! up in both.

pub mod exec;
pub mod parse;
pub mod schema;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::rest::{ApiError, ApiResult, Ctx, Reply};

#[derive(Debug, Deserialize)]
struct Request {
    query: Option<String>,
    #[serde(default)]
    variables: Option<Map<String, Value>>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
}

/// Answers one GraphQL POST.
pub fn handle(ctx: &Ctx<'_>) -> ApiResult {
    if ctx.method != http::Method::POST {
        return Err(ApiError::not_found());
    }
    let req: Request = ctx.json()?;
    let Some(query) = req.query else {
        return Ok(Reply::json(
            &json!({"errors": [{"message": "A query attribute must be specified and must be a string."}]}),
        ));
    };
    let doc = match parse::parse(&query) {
        Ok(d) => d,
        Err(e) => return Ok(Reply::json(&json!({"errors": [refusal(&e)]}))),
    };
    let vars = req.variables.unwrap_or_default();
    let out = exec::execute(
        ctx,
        &doc,
        req.operation_name.as_deref(),
        &vars,
        &schema::Query,
        &schema::Mutation,
    );
    if let Some(errors) = out.get("errors") {
        tracing::debug!(%errors, "graphql errors");
    }
    Ok(Reply::json(&out))
}

/// A document refused before execution, in GitHub's shapes: a syntax error carries
/// `"type": "PARSE_ERROR"`, a validation or limit failure graphql-ruby's `extensions.code`; both
/// say where, when it is one place.
fn refusal(e: &parse::ParseError) -> Value {
    let mut err = json!({"message": e.to_string()});
    if let Some(at) = e.location() {
        err["locations"] = json!([{"line": at.line, "column": at.column}]);
    }
    match e {
        parse::ParseError::Syntax { .. } => err["type"] = json!("PARSE_ERROR"),
        _ => err["extensions"] = json!({"code": e.code()}),
    }
    err
}
