//! Executes a parsed document over resolver objects: fields, aliases, fragments with type
//! conditions, `__typename`, errors with paths (the field becomes null, as GraphQL specifies).

use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::{Map, Value as Json, json};

use super::parse::{Document, Selection};
use crate::rest::Ctx;

/// Resolved arguments of one field.
pub type Args = BTreeMap<String, Json>;

/// A field resolution failure: the message and GitHub's error `type`.
#[derive(Debug, Clone)]
pub struct FieldError {
    /// Message shown to the client.
    pub message: String,
    /// e.g. NOT_FOUND, UNPROCESSABLE, FORBIDDEN.
    pub kind: Option<&'static str>,
}

impl FieldError {
    /// An error with a type.
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: Some(kind),
        }
    }
}

impl From<crate::rest::ApiError> for FieldError {
    fn from(e: crate::rest::ApiError) -> Self {
        let detail = e
            .errors
            .as_ref()
            .and_then(|v| v.get(0))
            .and_then(|v| v.get("message").and_then(Json::as_str).map(str::to_string))
            .unwrap_or(e.message);
        let kind = match e.status.as_u16() {
            404 => "NOT_FOUND",
            403 => "FORBIDDEN",
            _ => "UNPROCESSABLE",
        };
        Self::new(kind, detail)
    }
}

impl From<crate::store::Error> for FieldError {
    fn from(e: crate::store::Error) -> Self {
        crate::rest::ApiError::from(e).into()
    }
}

/// What a field resolves to.
#[derive(Clone)]
pub enum Out {
    /// A leaf or a plain JSON value (sub-selections project its keys).
    Json(Json),
    /// An object with its own resolvers.
    Obj(Rc<dyn Object>),
    /// A list.
    List(Vec<Out>),
}

impl Out {
    /// Wraps an object.
    pub fn obj(o: impl Object + 'static) -> Self {
        Out::Obj(Rc::new(o))
    }
}

impl From<Json> for Out {
    fn from(v: Json) -> Self {
        Out::Json(v)
    }
}

/// Concrete type names; any other type condition is taken as an interface or union that every
/// object satisfies (the forge serves no conflicting interfaces).
const CONCRETE: [&str; 14] = [
    "Issue",
    "PullRequest",
    "User",
    "Organization",
    "Bot",
    "Team",
    "Repository",
    "Label",
    "IssueComment",
    "PullRequestReview",
    "Commit",
    "StatusContext",
    "CheckRun",
    "Mannequin",
];

/// A GraphQL object.
pub trait Object {
    /// `__typename`.
    fn typename(&self) -> &str;
    /// Resolves one field.
    fn field(&self, ctx: &Ctx<'_>, name: &str, args: &Args) -> Result<Out, FieldError>;
    /// Whether a fragment on `ty` applies.
    fn is_a(&self, ty: &str) -> bool {
        ty == self.typename() || !CONCRETE.contains(&ty)
    }
}

/// A plain JSON object as a GraphQL object (typename from `__typename` or "Object").
pub struct JsonObj(pub Json);

impl Object for JsonObj {
    fn typename(&self) -> &str {
        self.0
            .get("__typename")
            .and_then(Json::as_str)
            .unwrap_or("Object")
    }

    fn field(&self, _: &Ctx<'_>, name: &str, _: &Args) -> Result<Out, FieldError> {
        Ok(Out::Json(self.0.get(name).cloned().unwrap_or(Json::Null)))
    }
}

/// An object whose fields are already computed.
pub struct MapObj {
    /// `__typename`.
    pub typename: String,
    /// Fields.
    pub fields: BTreeMap<String, Out>,
}

impl Object for MapObj {
    fn typename(&self) -> &str {
        &self.typename
    }

    fn field(&self, _: &Ctx<'_>, name: &str, _: &Args) -> Result<Out, FieldError> {
        Ok(self
            .fields
            .get(name)
            .cloned()
            .unwrap_or(Out::Json(Json::Null)))
    }
}

struct Run<'d, 'c, 'a> {
    doc: &'d Document,
    vars: BTreeMap<String, Json>,
    ctx: &'c Ctx<'a>,
    errors: Vec<Json>,
}

impl Run<'_, '_, '_> {
    fn select(
        &mut self,
        obj: &dyn Object,
        sels: &[Selection],
        out: &mut Map<String, Json>,
        path: &mut Vec<Json>,
    ) {
        for s in sels {
            match s {
                Selection::Field(f) => {
                    let key = f.key().to_string();
                    if f.name == "__typename" {
                        out.insert(key, json!(obj.typename()));
                        continue;
                    }
                    let args: Args = f
                        .args
                        .iter()
                        .map(|(k, v)| (k.clone(), v.resolve(&self.vars)))
                        .collect();
                    path.push(json!(key));
                    let value = match obj.field(self.ctx, &f.name, &args) {
                        Ok(o) => self.complete(o, &f.selections, path),
                        Err(e) => {
                            let mut err = json!({"message": e.message, "path": path.clone(), "locations": []});
                            if let Some(kind) = e.kind {
                                err["type"] = json!(kind);
                            }
                            self.errors.push(err);
                            Json::Null
                        }
                    };
                    path.pop();
                    match (out.get_mut(&key), value) {
                        (Some(Json::Object(existing)), Json::Object(new)) => {
                            deep_merge(existing, new)
                        }
                        (_, value) => {
                            out.insert(key, value);
                        }
                    }
                }
                Selection::Spread(name) => {
                    let doc = self.doc;
                    if let Some((ty, sel)) = doc.fragments.get(name)
                        && obj.is_a(ty)
                    {
                        self.select(obj, sel, out, path);
                    }
                }
                Selection::Inline(ty, sel) => {
                    if ty.as_deref().is_none_or(|t| obj.is_a(t)) {
                        self.select(obj, sel, out, path);
                    }
                }
            }
        }
    }

    fn complete(&mut self, o: Out, sels: &[Selection], path: &mut Vec<Json>) -> Json {
        match o {
            Out::Json(Json::Array(items)) if !sels.is_empty() => Json::Array(
                items
                    .into_iter()
                    .map(|v| self.complete(Out::Json(v), sels, path))
                    .collect(),
            ),
            Out::Json(v @ Json::Object(_)) if !sels.is_empty() => {
                let mut m = Map::new();
                self.select(&JsonObj(v), sels, &mut m, path);
                Json::Object(m)
            }
            Out::Json(v) => v,
            Out::Obj(obj) => {
                let mut m = Map::new();
                self.select(obj.as_ref(), sels, &mut m, path);
                Json::Object(m)
            }
            Out::List(items) => Json::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, o)| {
                        path.push(json!(i));
                        let v = self.complete(o, sels, path);
                        path.pop();
                        v
                    })
                    .collect(),
            ),
        }
    }
}

fn deep_merge(into: &mut Map<String, Json>, from: Map<String, Json>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Json::Object(a)), Json::Object(b)) => deep_merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// Runs operation `name` (or the only one) of `doc` with `root` as the query or mutation root.
pub fn execute(
    ctx: &Ctx<'_>,
    doc: &Document,
    name: Option<&str>,
    variables: &Map<String, Json>,
    query_root: &dyn Object,
    mutation_root: &dyn Object,
) -> Json {
    let op = match name {
        Some(n) => doc.operations.iter().find(|o| o.name.as_deref() == Some(n)),
        None if doc.operations.len() == 1 => doc.operations.first(),
        None => None,
    };
    let Some(op) = op else {
        return json!({"errors": [{"message": "Unknown or ambiguous operation name"}]});
    };
    let mut vars = op.defaults.clone();
    for (k, v) in variables {
        vars.insert(k.clone(), v.clone());
    }
    let mut run = Run {
        doc,
        vars,
        ctx,
        errors: Vec::new(),
    };
    let root = if op.kind == "mutation" {
        mutation_root
    } else {
        query_root
    };
    let mut data = Map::new();
    run.select(root, &op.selections, &mut data, &mut Vec::new());
    let mut out = json!({"data": data});
    if !run.errors.is_empty() {
        out["errors"] = Json::Array(run.errors);
    }
    out
}
