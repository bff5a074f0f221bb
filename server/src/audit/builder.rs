//! The one place an audit event is put together: tool calls, refused requests, the benchmark
//! and tests all build theirs here, so every event starts the same way (a fresh id, the current
//! time, the arguments redacted) and each field is set by one setter.

use std::time::Duration;

use serde_json::Value;

use super::event::{AuditEvent, AuthMethod, ClientInfo, Decision, Outcome, Target, redact};
use super::{new_event_id, now_rfc3339};

/// An [`AuditEvent`] being built; see [`AuditEvent::builder`].
///
/// ```
/// use gitgate::audit::{AuditEvent, AuthMethod, Decision, Outcome};
///
/// let event = AuditEvent::builder("replica-1", "alice", AuthMethod::Token, "git_log", &serde_json::json!({}))
///     .decision(Decision::deny("no grant for acme/secret"))
///     .outcome(Outcome::failure("denied", "alice may not read acme/secret"))
///     .session(Some("7d4c2a9e".into()))
///     .build();
/// assert!(!event.decision.allowed);
/// ```
#[derive(Debug, Clone)]
#[must_use = "an event is only recorded once built"]
pub struct EventBuilder {
    event: AuditEvent,
}

impl AuditEvent {
    /// Starts an event of `user` (authenticated by `auth_method`) calling `tool` with
    /// `arguments`, recorded by server `instance`: with a fresh id, the current time and the
    /// arguments redacted. The rest (decision, outcome, session, client, target, duration,
    /// sizes, upstream ids, parent) starts empty until set.
    pub fn builder(
        instance: &str,
        user: &str,
        auth_method: AuthMethod,
        tool: &str,
        arguments: &Value,
    ) -> EventBuilder {
        EventBuilder {
            event: Self {
                id: new_event_id(),
                time: now_rfc3339(),
                instance: instance.to_owned(),
                session: None,
                user: user.to_owned(),
                auth_method: auth_method.as_str().to_owned(),
                client: None,
                tool: tool.to_owned(),
                arguments: redact(arguments),
                target: Target::default(),
                decision: Decision::default(),
                outcome: Outcome::default(),
                duration_ms: 0.0,
                bytes_in: 0,
                bytes_out: 0,
                upstream_request_ids: Vec::new(),
                parent: None,
            },
        }
    }

    /// A new event with a fresh id, the current time and `arguments` redacted; the remaining
    /// fields (session, client, target, duration, sizes, upstream ids, parent) start empty for
    /// the caller to fill in. The same as [`AuditEvent::builder`] with the decision and outcome.
    pub fn new(
        instance: &str,
        user: &str,
        auth_method: AuthMethod,
        tool: &str,
        arguments: &Value,
        decision: Decision,
        outcome: Outcome,
    ) -> Self {
        Self::builder(instance, user, auth_method, tool, arguments)
            .decision(decision)
            .outcome(outcome)
            .build()
    }
}

impl EventBuilder {
    /// The event's id, when it was chosen before the event was built (a pipeline names it as
    /// the parent of its inner calls while it runs).
    pub fn id(mut self, id: String) -> Self {
        self.event.id = id;
        self
    }

    /// The policy decision.
    pub fn decision(mut self, decision: Decision) -> Self {
        self.event.decision = decision;
        self
    }

    /// What happened.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.event.outcome = outcome;
        self
    }

    /// The MCP session, when the transport has sessions.
    pub fn session(mut self, session: Option<String>) -> Self {
        self.event.session = session;
        self
    }

    /// The MCP client as it introduced itself.
    pub fn client(mut self, client: Option<ClientInfo>) -> Self {
        self.event.client = client;
        self
    }

    /// What the call was about.
    pub fn target(mut self, target: Target) -> Self {
        self.event.target = target;
        self
    }

    /// The id of the pipeline call this call ran inside.
    pub fn parent(mut self, parent: Option<String>) -> Self {
        self.event.parent = parent;
        self
    }

    /// Wall time from receiving the call to sending the reply.
    pub fn duration(self, elapsed: Duration) -> Self {
        self.duration_ms(elapsed.as_secs_f64() * 1e3)
    }

    /// [`EventBuilder::duration`] in milliseconds.
    pub fn duration_ms(mut self, ms: f64) -> Self {
        self.event.duration_ms = ms;
        self
    }

    /// Size of the request's arguments as received.
    pub fn bytes_in(mut self, bytes: u64) -> Self {
        self.event.bytes_in = bytes;
        self
    }

    /// Size of the reply as sent.
    pub fn bytes_out(mut self, bytes: u64) -> Self {
        self.event.bytes_out = bytes;
        self
    }

    /// Request ids GitHub (or the forge) returned for calls this call made.
    pub fn upstream_request_ids(mut self, ids: Vec<String>) -> Self {
        self.event.upstream_request_ids = ids;
        self
    }

    /// The event.
    pub fn build(self) -> AuditEvent {
        self.event
    }
}
