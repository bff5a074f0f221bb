//! One tool call, start to end: find the tool, ask policy, take out the common arguments, run
//! the handler, and write the call's audit event before the result goes back.

use std::time::Instant;

use rmcp::model::CallToolResult;
use serde_json::{Map, Value};

use super::error::bounded;
use super::output::projected;
use super::{
    CallContext, ErrorCode, GitCall, Handler, MetaCall, Services, ToolError, ToolSpec, Toolset,
    coerce, error_result, quote, render,
};
use crate::audit::{
    AuditEvent, Decision as AuditDecision, Outcome, Target as EventTarget, new_event_id,
};
use crate::output::Output;
use crate::policy::Target;

impl Services {
    /// Runs one tool call to completion and returns the MCP result (errors as `isError`
    /// results). Exactly one audit event is written for it, allowed, denied or failed, before
    /// the result is returned; if that write fails the agent is told so instead.
    ///
    /// Git work is blocking (libgit2), so the call runs on the blocking pool, and its audit
    /// event is appended from the same thread (no further hand-off on SQLite).
    pub async fn call(
        &self,
        ctx: &CallContext,
        name: &str,
        arguments: Option<Map<String, Value>>,
    ) -> CallToolResult {
        let this = self.clone();
        let ctx = ctx.clone();
        let tool = name.to_owned();
        let runtime = tokio::runtime::Handle::current();
        let joined = tokio::task::spawn_blocking(move || {
            crate::notify::scope(ctx.scope.clone(), || {
                this.call_blocking(&runtime, &ctx, &tool, arguments)
            })
        })
        .await;
        joined.unwrap_or_else(|join| {
            tracing::error!(tool = %quote(name), error = %join, "tool task failed");
            error_result(&ToolError::with_code(
                ErrorCode::Internal,
                "internal error while running the tool; retry or report it",
            ))
        })
    }

    /// A call from the client: admitted within the caller's (and the server's) cap on calls
    /// running at once, or refused and audited as such. The slot is held until the call's
    /// event is written; a pipeline's inner calls run on it.
    fn call_blocking(
        &self,
        runtime: &tokio::runtime::Handle,
        ctx: &CallContext,
        name: &str,
        arguments: Option<Map<String, Value>>,
    ) -> CallToolResult {
        match self.policy.admit(&ctx.caller.principal) {
            Ok(_slot) => self.call_audited(runtime, ctx, name, arguments, None).0,
            Err(busy) => {
                let e =
                    ToolError::with_code(ErrorCode::Denied, busy.message(ctx.caller.user(), name));
                let refused = Ran::failed(e, AuditDecision::deny(busy.rule), None);
                self.record(runtime, ctx, name, arguments, None, |_, _, _, _| refused)
                    .0
            }
        }
    }

    /// Runs one call and writes its audit event (with `parent`, the pipeline call it ran in);
    /// returns the result and, when the call succeeded, what it produced.
    pub(crate) fn call_audited(
        &self,
        runtime: &tokio::runtime::Handle,
        ctx: &CallContext,
        name: &str,
        arguments: Option<Map<String, Value>>,
        parent: Option<&str>,
    ) -> (CallToolResult, Option<Produced>) {
        self.record(
            runtime,
            ctx,
            name,
            arguments,
            parent,
            |this, args, runtime, id| this.run(runtime, ctx, name, args, id),
        )
    }

    /// Runs `work` (given the arguments and the event's id) and writes the call's audit event
    /// from what it returned.
    fn record(
        &self,
        runtime: &tokio::runtime::Handle,
        ctx: &CallContext,
        name: &str,
        arguments: Option<Map<String, Value>>,
        parent: Option<&str>,
        work: impl FnOnce(&Self, Option<Map<String, Value>>, &tokio::runtime::Handle, &str) -> Ran,
    ) -> (CallToolResult, Option<Produced>) {
        let started = Instant::now();
        let event_id = new_event_id();
        // A name outside the catalogue is the caller's text: it must not become a label.
        let label = if self.catalogue.get(name).is_some() {
            name
        } else {
            "unknown"
        };
        // One span per call, joined to its audit event by id; an operation of a command line or
        // a pipeline's step is a child of the call running it (the span entered on this thread).
        let span = tracing::info_span!(
            "tool_call",
            otel.name = %format_args!("tools/call {label}"),
            gen_ai.tool.name = %label,
            gitgate.audit_event_id = %event_id,
            gitgate.user = %ctx.caller.user(),
        );
        if parent.is_none()
            && let Some((traceparent, tracestate)) = &ctx.trace
        {
            crate::telemetry::adopt_parent(&span, Some(traceparent), tracestate.as_deref());
        }
        let _span = span.enter();
        // What the event keeps of the arguments, taken before the call consumes them: a
        // redacted copy with every string bounded (not a clone of a 3 MB argument, which
        // glibc would keep as resident memory), and their size as received.
        let raw = match &arguments {
            Some(given) => crate::audit::redact_object(given),
            None => Value::Object(Map::new()),
        };
        let bytes_in = arguments.as_ref().map_or(2, serialized_len);
        let mut ran = work(self, arguments, runtime, &event_id);
        // However the work stopped, a call the client cancelled is audited as cancelled.
        if !ran.outcome.ok && crate::notify::cancelled() {
            ran.outcome.code = Some(ErrorCode::Cancelled.as_str().to_owned());
        }
        crate::metrics::get().tool_call(
            label,
            ran.outcome.ok,
            (!ran.decision.allowed).then_some(ran.decision.rule.as_str()),
            started.elapsed(),
        );
        let Some(recorder) = &self.recorder else {
            return (ran.result, ran.produced);
        };
        let event = AuditEvent::builder(
            recorder.instance(),
            ctx.caller.user(),
            ctx.caller.auth,
            name,
            &raw,
        )
        .id(event_id)
        .decision(ran.decision)
        .outcome(ran.outcome)
        .parent(parent.map(str::to_owned))
        .session(ctx.session.clone())
        .client(ctx.client.clone())
        .target(self.audit_target(name, &raw, ran.target))
        .duration(started.elapsed())
        .bytes_in(bytes_in as u64)
        .bytes_out(result_bytes(&ran.result))
        .upstream_request_ids(ran.upstream_ids)
        .ref_updates(ran.ref_updates)
        .build();
        let recorded = recorder
            .record_blocking(&event)
            .unwrap_or_else(|| runtime.block_on(recorder.record(&event)).map(drop));
        match recorded {
            Ok(_) => (ran.result, ran.produced),
            Err(e) => {
                if let Some(suppressed) = crate::diagnostics::admit("audit-write") {
                    tracing::error!(suppressed, tool = %quote(name), user = %ctx.caller.user(), error = %crate::diagnostics::chain(&e), "audit write failed");
                }
                crate::notify::emit(
                    crate::notify::Level::Error,
                    format!(
                        "audit trouble: the event of this {} call could not be written",
                        quote(name)
                    ),
                );
                let e = ToolError::with_code(
                    ErrorCode::AuditUnavailable,
                    "the audit log could not be written, so this call's result is withheld; \
                     it may have taken effect; retry later or ask an operator",
                );
                (error_result(&e), None)
            }
        }
    }

    /// Runs one operation of a command line (the run form) as a call of the JSON tool `name`:
    /// the same policy (that tool's class, on `repo`) and its own audit event with `parent`,
    /// recording `args` (the command's words); `op` does the work on the backends and returns
    /// the text the command prints. The two front ends share the backend and the governance;
    /// only what they print differs.
    pub(crate) fn call_operation(
        &self,
        call: &MetaCall<'_>,
        name: &str,
        args: Map<String, Value>,
        repo: Option<String>,
        op: impl FnOnce(
            &super::Backends,
            &crate::identity::Caller,
            Option<String>,
        ) -> Result<String, ToolError>,
    ) -> Result<String, ToolError> {
        self.call_operation_output(call, name, args, repo, |backends, caller, repo| {
            op(backends, caller, repo).map(|text| Output {
                text,
                data: Value::Null,
                fields: &[],
                more: None,
            })
        })
    }

    /// [`Self::call_operation`] for an operation whose backend answer carries data the audit
    /// event records (a push's `ref_updates`); returns the text.
    pub(crate) fn call_operation_output(
        &self,
        call: &MetaCall<'_>,
        name: &str,
        args: Map<String, Value>,
        repo: Option<String>,
        op: impl FnOnce(
            &super::Backends,
            &crate::identity::Caller,
            Option<String>,
        ) -> Result<Output, ToolError>,
    ) -> Result<String, ToolError> {
        let (runtime, ctx) = (call.runtime, call.ctx);
        // A flag among the operation's arguments may raise its class (`git push --force`).
        let class = self.catalogue.get(name).map(|s| s.class_for(&args));
        let mut outcome: Option<Result<String, ToolError>> = None;
        let (result, _) = self.record(
            runtime,
            ctx,
            name,
            Some(args),
            Some(call.event_id),
            |this, _, _, _| {
                let Some(spec) = this.catalogue.get(name) else {
                    return this.unknown_tool(ctx, name);
                };
                let target = this.target_repo(spec, repo.clone());
                let judged = match (&target, spec.handler) {
                    (Some(repo), _) => Target::Repo(repo),
                    (None, Handler::Github(_)) => Target::AllRepos,
                    (None, _) => Target::Nothing,
                };
                let (decision, refusal) =
                    this.decide(ctx, class.unwrap_or(spec.class), name, judged);
                if let Some(e) = refusal {
                    outcome = Some(Err(e.clone()));
                    return Ran::failed(e, decision, target);
                }
                let done = op(&this.backends, &ctx.caller, repo);
                let ran = match &done {
                    Ok(output) => Ran::ok(output, None, decision, target),
                    Err(e) => Ran::failed(e.clone(), decision, target),
                };
                outcome = Some(done.map(|o| o.text));
                ran
            },
        );
        match outcome {
            // The work was done but its event could not be written: withheld, as for a tool.
            Some(Ok(_)) if result.is_error == Some(true) => Err(ToolError::with_code(
                ErrorCode::AuditUnavailable,
                super::error::first_text(&result),
            )),
            Some(done) => done,
            None => Err(ToolError::with_code(
                ErrorCode::UnknownTool,
                super::error::first_text(&result),
            )),
        }
    }

    /// What a call of tool `name` acted on, for its audit event: the repository it was judged
    /// on, and the issue or pull request number and revision among the arguments its tool
    /// declares (`raw`, as recorded).
    fn audit_target(&self, name: &str, raw: &Value, repo: Option<String>) -> EventTarget {
        let declared = self
            .catalogue
            .get(name)
            .map(|s| s.audit)
            .unwrap_or_default();
        EventTarget {
            repo,
            git_ref: declared
                .git_ref
                .and_then(|k| raw.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned),
            issue: declared
                .number
                .and_then(|k| raw.get(k))
                .and_then(Value::as_u64),
        }
    }

    /// Runs one call: finds the tool, asks policy, takes out the common arguments, runs the
    /// handler. Never fails: a refusal or an error is a [`Ran`] too, with what its audit event
    /// records.
    fn run(
        &self,
        runtime: &tokio::runtime::Handle,
        ctx: &CallContext,
        name: &str,
        arguments: Option<Map<String, Value>>,
        event_id: &str,
    ) -> Ran {
        let Some(spec) = self.catalogue.get(name) else {
            return self.unknown_tool(ctx, name);
        };
        let mut args = arguments.unwrap_or_default();
        if let Handler::Meta(handler) = spec.handler {
            let (decision, refusal) = self.decide(ctx, spec.class, name, Target::Nothing);
            if let Some(e) = refusal {
                return Ran::failed(e, decision, None);
            }
            let call = MetaCall {
                runtime,
                ctx,
                event_id,
                args,
            };
            return match handler(self, &call) {
                Ok(output) => Ran::ok(&output, None, decision, None),
                Err(e) => Ran::failed(e, decision, None),
            };
        }
        let (repo, readable) = match args.remove("repo") {
            None | Some(Value::Null) => (None, true),
            Some(Value::String(s)) => (Some(s), true),
            Some(_) => (None, false),
        };
        let target = self.target_repo(spec, repo.clone());
        let judged = match (&target, readable, spec.handler) {
            (_, false, _) => Target::Unreadable,
            (Some(repo), true, _) => Target::Repo(repo),
            (None, true, Handler::Github(_)) => Target::AllRepos,
            (None, true, _) => Target::Nothing,
        };
        let (decision, refusal) = self.decide(ctx, spec.class_for(&args), name, judged);
        if let Some(e) = refusal {
            return Ran::failed(e, decision, target);
        }
        let json = match take_json_fields(&mut args) {
            Ok(json) => json,
            Err(e) => return Ran::failed(e, decision, target),
        };
        coerce::to_schema(&mut args, &spec.tool.input_schema);
        let (output, upstream_ids) = self.dispatch(runtime, ctx, spec.handler, repo, args);
        let mut ran = match output {
            Ok(output) => Ran::ok(&output, json.as_deref(), decision, target),
            Err(e) => Ran::failed(e, decision, target),
        };
        ran.upstream_ids = upstream_ids;
        ran
    }

    /// A call of a tool the catalogue does not have: refused, naming the tools a model most
    /// likely meant among those it may call, and where the rest are listed (the gitgate tool's
    /// help in lean mode, tools/list otherwise).
    fn unknown_tool(&self, ctx: &CallContext, name: &str) -> Ran {
        let names = self
            .catalogue
            .specs()
            .iter()
            .filter(|s| s.toolset != Toolset::Meta)
            .filter(|s| self.policy.visible(&ctx.caller.principal, s.class))
            .map(|s| s.tool.name.to_string());
        let near = crate::git::nearest(name, names, 3);
        let listed = if self.catalogue.is_lean() {
            r#"{"tool": "help"} lists them all"#
        } else if self.catalogue.has_gitgate_tool() {
            r#"the gitgate tool's {"tool": "help"} lists them all"#
        } else {
            "tools/list lists them all"
        };
        let e = ToolError::with_code(
            ErrorCode::UnknownTool,
            format!(
                "unknown tool '{}'; nearest: {}; {listed}",
                quote(name),
                near.join(", ")
            ),
        );
        Ran::failed(e, AuditDecision::deny("denied:unknown-tool"), None)
    }

    /// The repository a call acts on: the one named, or the default (the only local one, or
    /// the configured GitHub repository). A GitHub call with neither reaches every repository
    /// (a search across GitHub); a git call with neither fails in the backend, naming the
    /// configured repositories.
    fn target_repo(&self, spec: &ToolSpec, named: Option<String>) -> Option<String> {
        named.or_else(|| match spec.handler {
            Handler::Git(_) => self.backends.repos.single_name(),
            Handler::Github(_) => self
                .backends
                .github
                .as_ref()
                .and_then(|c| c.config().default_repo.clone()),
            Handler::Meta(_) => None,
        })
    }

    /// Asks policy about a call of `spec` on `target`: the decision its audit event records,
    /// and the error the caller gets when it is refused.
    fn decide(
        &self,
        ctx: &CallContext,
        class: crate::policy::ToolClass,
        name: &str,
        target: Target<'_>,
    ) -> (AuditDecision, Option<ToolError>) {
        let verdict = self.policy.decide(&ctx.caller.principal, class, target);
        let refusal = (!verdict.allowed).then(|| {
            ToolError::with_code(ErrorCode::Denied, verdict.message(ctx.caller.user(), name))
        });
        let decision = AuditDecision {
            allowed: verdict.allowed,
            rule: verdict.rule,
        };
        (decision, refusal)
    }

    /// Runs a git or GitHub tool's handler with the arguments left after the common ones
    /// (`repo` goes back in for GitHub); returns its output and the GitHub request ids of the
    /// answers it received.
    fn dispatch(
        &self,
        runtime: &tokio::runtime::Handle,
        ctx: &CallContext,
        handler: Handler,
        repo: Option<String>,
        mut args: Map<String, Value>,
    ) -> (Result<Output, ToolError>, Vec<String>) {
        match handler {
            Handler::Git(handler) => {
                let _git = tracing::info_span!("git", otel.name = "git").entered();
                (
                    handler(&self.backends, &ctx.caller, GitCall { repo, args }),
                    Vec::new(),
                )
            }
            Handler::Github(handler) => {
                let Some(clients) = self.backends.github.as_ref() else {
                    let e = ToolError::with_code(
                        ErrorCode::Unavailable,
                        "GitHub is not configured on this server",
                    );
                    return (Err(e), Vec::new());
                };
                if let Some(repo) = repo {
                    args.insert("repo".into(), Value::String(repo));
                }
                runtime.block_on(crate::github::with_request_ids(handler(
                    clients,
                    ctx.caller.user(),
                    args,
                )))
            }
            Handler::Meta(_) => (
                Err(ToolError::with_code(
                    ErrorCode::Internal,
                    "meta tool dispatched twice",
                )),
                Vec::new(),
            ),
        }
    }
}

/// What a successful call produced, for a pipeline's next step.
#[derive(Debug, Clone)]
pub(crate) struct Produced {
    /// The backend's JSON (projected onto `json` fields when given).
    pub value: Value,
    /// The text an agent would have read from a direct call.
    pub text: String,
    /// The "N more ..." line when a list was cut.
    pub more: Option<String>,
}

/// One call's result with what the audit event needs.
struct Ran {
    result: CallToolResult,
    produced: Option<Produced>,
    decision: AuditDecision,
    outcome: Outcome,
    target: Option<String>,
    /// GitHub request ids of the answers the call received.
    upstream_ids: Vec<String>,
    /// References a push or fetch moved (`REF OLD NEW`), from its output's `ref_updates`.
    ref_updates: Vec<String>,
}

impl Ran {
    fn failed(e: ToolError, decision: AuditDecision, target: Option<String>) -> Self {
        let e = ToolError {
            message: bounded(e.message),
            code: e.code,
        };
        Self {
            result: error_result(&e),
            produced: None,
            decision,
            outcome: Outcome::failure(e.code.as_str(), e.message),
            target,
            upstream_ids: Vec::new(),
            ref_updates: Vec::new(),
        }
    }

    fn ok(
        output: &Output,
        json: Option<&[String]>,
        decision: AuditDecision,
        target: Option<String>,
    ) -> Self {
        match render(output, json) {
            Err(e) => Self::failed(e, decision, target),
            Ok(result) => Self {
                produced: Some(Produced {
                    value: projected(output, json),
                    // What the agent would read from a direct call: with `json`, the projection.
                    text: result
                        .content
                        .iter()
                        .find_map(|c| match c {
                            rmcp::model::ContentBlock::Text(t) => Some(t.text.clone()),
                            _ => None,
                        })
                        .unwrap_or_default(),
                    more: output.more.clone(),
                }),
                result,
                decision,
                outcome: Outcome::success(),
                target,
                upstream_ids: Vec::new(),
                ref_updates: ref_updates(output),
            },
        }
    }
}

/// The references an output says its call moved (`data.ref_updates`: `{ref, old, new}`), as
/// the audit event records them.
fn ref_updates(output: &Output) -> Vec<String> {
    let Some(list) = output.data.get("ref_updates").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|u| {
            let part = |k: &str| u.get(k).and_then(Value::as_str).unwrap_or("?");
            format!("{} {} {}", part("ref"), part("old"), part("new"))
        })
        .collect()
}

/// The length of `value` as compact JSON, counted without building the text.
fn serialized_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` into a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Bytes of text and structured content in a result.
fn result_bytes(result: &CallToolResult) -> u64 {
    let text: usize = result
        .content
        .iter()
        .map(|c| match c {
            rmcp::model::ContentBlock::Text(t) => t.text.len(),
            _ => 0,
        })
        .sum();
    let structured = result.structured_content.as_ref().map_or(0, serialized_len);
    (text + structured) as u64
}

const JSON_USAGE: &str = "invalid arguments: json takes field names, comma-separated (\"number,title\"), or true for all";

/// The caller's `json` argument: `None` for text; the field names, or [`super::output::ALL`].
fn take_json_fields(args: &mut Map<String, Value>) -> Result<Option<Vec<String>>, ToolError> {
    match args.remove("json") {
        None | Some(Value::Null | Value::Bool(false)) => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(ToolError::new(JSON_USAGE)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        // Every field: `json: true`.
        Some(Value::Bool(true)) => Ok(Some(vec![super::output::ALL.to_owned()])),
        // gh's own form: `--json number,title`.
        Some(Value::String(s)) => Ok(Some(
            s.split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
        Some(_) => Err(ToolError::new(JSON_USAGE)),
    }
}
