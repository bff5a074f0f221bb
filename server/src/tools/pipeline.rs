//! Pipelines of the meta tool: steps run in order, server-side, in one round trip.
//!
//! A step names a tool and its flags; `each` (jq over the previous step's value) fans the step
//! out into one call per object it yields, and `jq` filters the step's result. Every call is a
//! call like any other ([`Services::call_audited`]: policy and its own audit event, whose
//! `parent` is the pipeline's), and the whole pipeline is bounded in steps, calls, time and
//! output.

use std::time::{Duration, Instant};

use rmcp::model::ContentBlock;
use serde_json::{Map, Value};

use super::{ErrorCode, MetaCall, Services, ToolError};
use crate::jq;
use crate::output::Output;

/// Most steps in one pipeline.
const MAX_STEPS: usize = 8;
/// Most tool calls one pipeline makes (fan-out included).
const MAX_CALLS: usize = 50;
/// Wall-clock budget of one pipeline.
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// Longest answer, in bytes; past it the text is cut with a note.
const MAX_OUTPUT: usize = 32_000;
/// Most values one jq filter may produce.
const MAX_JQ_VALUES: usize = 1_000;
/// The arguments by which a caller bounds a list tool's length.
const BOUNDS: [&str; 2] = ["max_count", "limit"];

#[derive(Debug, Clone)]
pub(super) struct Step {
    pub tool: String,
    pub args: Map<String, Value>,
    /// jq over the previous step's result; one call per object it yields (fan-out).
    pub each: Option<String>,
    /// jq over this step's result.
    pub jq: Option<String>,
}

/// Runs the steps in order; see the module docs.
pub(super) fn run(
    services: &Services,
    call: &MetaCall<'_>,
    steps: &[Step],
) -> Result<Output, ToolError> {
    if steps.len() > MAX_STEPS {
        return Err(ToolError::new(format!(
            "a pipeline has at most {MAX_STEPS} steps"
        )));
    }
    let mut run = Pipeline {
        services,
        call,
        deadline: Instant::now() + TIME_LIMIT,
        calls: 0,
        previous: Value::Null,
        done: Vec::new(),
        text: None,
        mores: Vec::new(),
    };
    for (i, step) in steps.iter().enumerate() {
        let at = Where {
            index: i,
            of: steps.len(),
            tool: &step.tool,
        };
        run.step(step, &at)?;
    }
    Ok(run.answer())
}

/// Which step a message is about ("step 2 (gh_pr_view): ..."), unless there is only one.
struct Where<'a> {
    index: usize,
    of: usize,
    tool: &'a str,
}

impl Where<'_> {
    fn say(&self, message: String) -> String {
        if self.of == 1 {
            message
        } else {
            format!("step {} ({}): {message}", self.index + 1, self.tool)
        }
    }
}

/// The state a pipeline carries from step to step.
struct Pipeline<'s, 'c> {
    services: &'s Services,
    call: &'c MetaCall<'c>,
    deadline: Instant,
    calls: usize,
    /// The previous step's value: the input of `each`.
    previous: Value,
    /// Every finished step's value, for `$steps` in later filters (joins across steps).
    done: Vec<Value>,
    /// The last step's own text, when it had no filter.
    text: Option<String>,
    /// The last step's notes on cut lists ("... N more ..."): earlier ones were consumed.
    mores: Vec<String>,
}

impl Pipeline<'_, '_> {
    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn step(&mut self, step: &Step, at: &Where<'_>) -> Result<(), ToolError> {
        if step.tool == super::meta::NAME || step.tool == "help" {
            return Err(ToolError::new(
                at.say("a pipeline step must be a git_* or gh_* tool".into()),
            ));
        }
        let arg_sets = self.arg_sets(step, at)?;
        if self.calls + arg_sets.len() > MAX_CALLS {
            return Err(ToolError::new(at.say(format!(
                "a pipeline makes at most {MAX_CALLS} calls; narrow `each`"
            ))));
        }
        self.mores.clear();
        let (mut values, texts) = self.call_each(step, arg_sets, at)?;
        let value = if step.each.is_some() {
            Value::Array(values)
        } else {
            values.pop().unwrap_or(Value::Null)
        };
        let value = match &step.jq {
            Some(filter) => {
                self.text = None;
                self.filter(filter, value, at)?
            }
            None => {
                self.text = Some(texts.join("\n"));
                value
            }
        };
        self.done.push(value.clone());
        self.previous = value;
        Ok(())
    }

    /// The step's argument objects: its own flags, or one set per object `each` yields (each
    /// merged over the step's flags).
    fn arg_sets(&self, step: &Step, at: &Where<'_>) -> Result<Vec<Map<String, Value>>, ToolError> {
        let Some(filter) = &step.each else {
            return Ok(vec![step.args.clone()]);
        };
        self.services
            .jq
            .run(
                self.call.ctx.caller.user(),
                filter,
                self.previous.clone(),
                Value::Array(self.done.clone()),
                MAX_CALLS + 1,
                self.remaining(),
            )
            .map_err(|e| match e {
                jq::JqError::TooManyValues(_) => ToolError::new(at.say(format!(
                    "a pipeline makes at most {MAX_CALLS} calls; narrow `each`"
                ))),
                e => jq_error(at.say(format!("each: {e}"))),
            })?
            .into_iter()
            .map(|v| match v {
                Value::Object(extra) => {
                    let mut args = step.args.clone();
                    args.extend(extra);
                    Ok(args)
                }
                other => Err(ToolError::new(at.say(format!(
                    "each must yield argument objects like {{\"number\": 3}}, got {other}"
                )))),
            })
            .collect()
    }

    /// Calls the step's tool once per argument set; the values and texts in order. The first
    /// failing call ends the pipeline with that call's message.
    fn call_each(
        &mut self,
        step: &Step,
        arg_sets: Vec<Map<String, Value>>,
        at: &Where<'_>,
    ) -> Result<(Vec<Value>, Vec<String>), ToolError> {
        let mut values = Vec::with_capacity(arg_sets.len());
        let mut texts = Vec::with_capacity(arg_sets.len());
        for args in arg_sets {
            // A list cut at the caller's own bound (`max_count`, `limit`) and then filtered is
            // what they asked for: "... N more" there reads as if the filtered answer were cut
            // (issue "Speak git and gh": 45 of 49 result tokens of one fan-out). A list cut at
            // the tool's default bound keeps its note through the filter.
            let bounded = step.jq.is_some() && BOUNDS.iter().any(|k| args.contains_key(*k));
            if self.remaining().is_zero() {
                return Err(ToolError::with_code(
                    ErrorCode::Timeout,
                    at.say(format!(
                        "the pipeline ran out of its {} s",
                        TIME_LIMIT.as_secs()
                    )),
                ));
            }
            if crate::notify::cancelled() {
                return Err(ToolError::with_code(
                    ErrorCode::Cancelled,
                    at.say(format!(
                        "cancelled by the client after {} call(s); those ran",
                        self.calls
                    )),
                ));
            }
            self.calls += 1;
            crate::notify::progress(self.calls as u64, None, step.tool.clone());
            let (result, produced) = self.services.call_audited(
                self.call.runtime,
                self.call.ctx,
                &step.tool,
                Some(args),
                Some(self.call.event_id),
            );
            let Some(produced) = produced else {
                let message = result
                    .content
                    .iter()
                    .find_map(|c| match c {
                        ContentBlock::Text(t) => Some(t.text.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                return Err(ToolError::with_code(
                    ErrorCode::PipelineStep,
                    at.say(message),
                ));
            };
            if let Some(more) = produced.more.filter(|_| !bounded) {
                self.mores.push(more);
            }
            values.push(produced.value);
            texts.push(produced.text);
        }
        Ok((values, texts))
    }

    /// The step's `jq` over its value: one output stays itself, several become an array.
    fn filter(&self, filter: &str, value: Value, at: &Where<'_>) -> Result<Value, ToolError> {
        let mut out = self
            .services
            .jq
            .run(
                self.call.ctx.caller.user(),
                filter,
                value,
                Value::Array(self.done.clone()),
                MAX_JQ_VALUES,
                self.remaining(),
            )
            .map_err(|e| jq_error(at.say(e.to_string())))?;
        Ok(if out.len() == 1 {
            out.pop().unwrap_or(Value::Null)
        } else {
            Value::Array(out)
        })
    }

    /// The answer: the last tool's own text when the last step had no filter (as a direct call
    /// would give), else the filtered value as text; cut at [`MAX_OUTPUT`] with a note.
    fn answer(mut self) -> Output {
        let mut answer = match self.text.take() {
            Some(t) => t,
            None => self.value_text(),
        };
        if answer.len() > MAX_OUTPUT {
            let mut cut = MAX_OUTPUT;
            while !answer.is_char_boundary(cut) {
                cut -= 1;
            }
            answer.truncate(cut);
            answer.push_str(&format!(
                "\n... output cut at {MAX_OUTPUT} bytes; narrow it with jq or limit"
            ));
        }
        super::meta::plain(answer, self.previous)
    }

    fn value_text(&mut self) -> String {
        let mut t = match &self.previous {
            Value::String(s) => s.clone(),
            // A list of plain values reads best, and costs least, one per line.
            Value::Array(items)
                if items
                    .iter()
                    .all(|v| v.is_string() || v.is_number() || v.is_boolean()) =>
            {
                items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            other => other.to_string(),
        };
        // A filtered list (or a count) of a cut list still says it was cut; one picked
        // string (`.[0].subject`) does not need to.
        self.mores.dedup();
        if self.previous.is_string() {
            self.mores.clear();
        }
        for more in &self.mores {
            t.push('\n');
            t.push_str(more);
        }
        t
    }
}

pub(super) fn jq_error(message: String) -> ToolError {
    ToolError::with_code(ErrorCode::Jq, message)
}
