//! Token accounting: what a model is sent and writes over one task, under each tokenizer.
//!
//! The transcript of an attempt is: an interface (tool definitions), an optional arm preamble,
//! the prompt, then per step a call (the model writes it) and a result (sent back), and a final
//! answer. Definitions of every figure are in `harness/README.md`; [`account`] is the one place
//! they are computed.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use tiktoken_rs::CoreBPE;

use crate::model::Tokens;
use crate::prices::Prices;

/// The tokenizers a run counts with, each loaded once.
pub struct Tokenizers {
    list: Vec<(String, CoreBPE)>,
}

/// The tokenizers counted by default; the first is the primary one.
pub const DEFAULT: [&str; 2] = ["o200k_base", "cl100k_base"];

impl Tokenizers {
    /// Loads the named encodings (`o200k_base`, `cl100k_base`).
    pub fn load(names: &[&str]) -> Result<Self> {
        let mut list = Vec::new();
        for name in names {
            let bpe = match *name {
                "o200k_base" => tiktoken_rs::o200k_base(),
                "cl100k_base" => tiktoken_rs::cl100k_base(),
                other => bail!("unknown tokenizer {other:?} (o200k_base, cl100k_base)"),
            }
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("loading {name}"))?;
            list.push(((*name).to_owned(), bpe));
        }
        Ok(Self { list })
    }

    /// Names, primary first.
    pub fn names(&self) -> Vec<String> {
        self.list.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Each tokenizer with its name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Counter<'_>)> {
        self.list.iter().map(|(n, b)| (n.as_str(), Counter(b)))
    }
}

/// Counts tokens of text under one encoding.
#[derive(Clone, Copy)]
pub struct Counter<'a>(&'a CoreBPE);

impl Counter<'_> {
    /// Tokens of `text` (special-token text counted as the model's tokenizer would, matching
    /// the server's `schemas/TOKENS.md`).
    pub fn count(&self, text: &str) -> u64 {
        self.0.encode_with_special_tokens(text).len() as u64
    }
}

/// A tool call as the model writes it: the tool's name and its arguments as compact JSON.
#[derive(Debug, Clone)]
pub struct Call {
    pub name: String,
    pub arguments: String,
}

/// Everything of one attempt that is counted, as text.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    /// Tool definitions as the model receives them (one JSON array).
    pub interface: String,
    /// Arm preamble in the system prompt (empty by default).
    pub preamble: String,
    /// Definitions the model must be taught before its first call (see README: teach).
    pub teach: Vec<String>,
    pub prompt: String,
    pub calls: Vec<Call>,
    pub results: Vec<String>,
    /// The final answer the model writes.
    pub answer: String,
    /// Worst case of native knowledge: definition lookups, each made before the step at its
    /// 0-based index (the executor's `Execution::lookups`).
    pub lookups: Vec<(usize, Call, String)>,
}

/// The per-figure counts of a transcript, before pricing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub interface: u64,
    pub teach: u64,
    pub calls: u64,
    pub results: u64,
    pub answer: u64,
    pub context: u64,
    /// Tokens of the definitions fetched in the worst case of native knowledge.
    pub worst_teach: u64,
    /// Context with those lookups as extra round trips before the first use of each tool.
    pub worst_context: u64,
}

/// Context tokens: every turn resends interface, preamble and prompt plus the history so far.
/// Turn 0 makes the first call; turn k (1..=n) has seen calls and results 1..=k; turn n is the
/// one that writes the final answer. So there are n + 1 turns.
pub fn context(fixed: u64, calls: &[u64], results: &[u64]) -> u64 {
    let mut history = 0;
    let mut total = fixed;
    for (c, r) in calls.iter().zip(results) {
        history += c + r;
        total += fixed + history;
    }
    total
}

/// Counts a transcript with one tokenizer.
pub fn counts(counter: Counter<'_>, t: &Transcript) -> Counts {
    let calls: Vec<u64> = t
        .calls
        .iter()
        .map(|c| counter.count(&c.name) + counter.count(&c.arguments))
        .collect();
    let results: Vec<u64> = t.results.iter().map(|r| counter.count(r)).collect();
    let interface = counter.count(&t.interface);
    let preamble = counter.count(&t.preamble);
    let prompt = counter.count(&t.prompt);
    let fixed = interface + preamble + prompt;
    // The same turns with each lookup inserted before the step that first uses its tool.
    let (mut worst_calls, mut worst_results) = (Vec::new(), Vec::new());
    for (i, (c, r)) in calls.iter().zip(&results).enumerate() {
        for (_, call, result) in t.lookups.iter().filter(|(at, _, _)| *at == i) {
            worst_calls.push(counter.count(&call.name) + counter.count(&call.arguments));
            worst_results.push(counter.count(result));
        }
        worst_calls.push(*c);
        worst_results.push(*r);
    }
    Counts {
        interface,
        teach: preamble + t.teach.iter().map(|d| counter.count(d)).sum::<u64>(),
        calls: calls.iter().sum(),
        results: results.iter().sum(),
        answer: counter.count(&t.answer),
        context: context(fixed, &calls, &results),
        worst_teach: preamble
            + t.lookups
                .iter()
                .map(|(_, _, r)| counter.count(r))
                .sum::<u64>(),
        worst_context: context(fixed, &worst_calls, &worst_results),
    }
}

/// Counts and prices a transcript under every tokenizer.
pub fn account(
    tokenizers: &Tokenizers,
    prices: &Prices,
    t: &Transcript,
) -> BTreeMap<String, Tokens> {
    tokenizers
        .iter()
        .map(|(name, counter)| {
            let c = counts(counter, t);
            (
                name.to_owned(),
                Tokens {
                    interface: c.interface,
                    teach: c.teach,
                    calls: c.calls,
                    results: c.results,
                    context: c.context,
                    answer: c.answer,
                    worst_teach: c.worst_teach,
                    worst_context: c.worst_context,
                    cost_usd: prices.cost(c.context, c.calls + c.answer),
                },
            )
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn context_sums_turns() {
        // Interface+prompt 100; two steps: (10 call, 50 result), (20, 5).
        // Turn 0: 100; turn 1: 100+60; turn 2: 100+60+25. Total 445.
        assert_eq!(context(100, &[10, 20], &[50, 5]), 445);
        assert_eq!(context(7, &[], &[]), 7);
        assert_eq!(context(0, &[1, 1, 1], &[0, 0, 0]), 1 + 2 + 3);
    }

    #[test]
    fn counts_known_text_by_hand() {
        let tk = Tokenizers::load(&DEFAULT).unwrap();
        let (name, o200k) = tk.iter().next().unwrap();
        assert_eq!(name, "o200k_base");
        // Hand-checked with tiktoken (Python) o200k_base: "git log -1" is 4 tokens
        // ("git", " log", " -", "1"), "bash" 1, "hello world" 2.
        assert_eq!(o200k.count("git log -1"), 4);
        assert_eq!(o200k.count("bash"), 1);
        assert_eq!(o200k.count("hello world"), 2);
        let t = Transcript {
            interface: "hello world".into(),
            preamble: String::new(),
            teach: vec!["bash".into()],
            prompt: "bash".into(),
            calls: vec![Call {
                name: "bash".into(),
                arguments: "git log -1".into(),
            }],
            results: vec!["hello world".into()],
            answer: "bash".into(),
            lookups: Vec::new(),
        };
        let c = counts(o200k, &t);
        // fixed = 2 + 0 + 1 = 3; turns: 3, 3 + (1 + 4) + 2.
        assert_eq!(
            c,
            Counts {
                interface: 2,
                teach: 1,
                calls: 5,
                results: 2,
                answer: 1,
                context: 3 + 3 + 7,
                worst_teach: 0,
                worst_context: 3 + 3 + 7,
            }
        );
        // A lookup before the one step: one more turn, its call and result in the history.
        let looked = Transcript {
            lookups: vec![(
                0,
                Call {
                    name: String::new(),
                    arguments: "bash".into(),
                },
                "hello world".into(),
            )],
            ..t.clone()
        };
        let w = counts(o200k, &looked);
        // Turns: 3; 3 + (1 + 2); 3 + 3 + (5 + 2).
        assert_eq!((w.worst_teach, w.worst_context), (2, 3 + 6 + 13));
        assert_eq!(w.context, c.context);
        let prices = Prices::from_toml("[models.m]\ninput = 1.0\noutput = 10.0\n").unwrap();
        let tokens = account(&tk, &prices, &t);
        let cost = tokens["o200k_base"].cost_usd["m"];
        assert!(
            (cost - (13.0 * 1.0 + 6.0 * 10.0) / 1e6).abs() < 1e-12,
            "{cost}"
        );
        assert!(tokens.contains_key("cl100k_base"));
    }
}
