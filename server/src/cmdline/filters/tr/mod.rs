//! `tr`: translate bytes of SET1 to those of SET2, delete (`-d`) or squeeze (`-s`) them, on
//! bytes as in the C locale, with GNU's set syntax and rules (see `set.rs`): a short SET2 is
//! padded with its last byte, `[:upper:]` and `[:lower:]` in SET2 only opposite the other case
//! in SET1, `[c*]` fills SET2 to SET1's length.

mod set;

use super::FilterError;
use super::args::{Arg, Spec};
use super::text::{BYTES_PER_CHECK, Out};
use set::{Case, Element, Set, Walker};

const SPEC: Spec = Spec {
    program: "tr",
    flags: "ds",
    valued: "",
    supported: "-d -s, SET1 [SET2]",
    options_first: true,
};

pub(super) fn bad(message: String) -> FilterError {
    SPEC.bad(message)
}

/// What to do to each byte, once the arguments are read.
struct Plan {
    deleted: [bool; 256],
    map: [u8; 256],
    squeezed: [bool; 256],
}

pub(super) fn run(args: &[String], input: &[u8], out: &mut Out) -> Result<i32, FilterError> {
    let plan = plan(args, out)?;
    let mut last: Option<u8> = None;
    let mut kept = Vec::with_capacity(input.len());
    for (i, &b) in input.iter().enumerate() {
        if i % BYTES_PER_CHECK == 0 {
            out.check_deadline()?;
        }
        if plan.deleted[usize::from(b)] {
            continue;
        }
        let b = plan.map[usize::from(b)];
        if plan.squeezed[usize::from(b)] && last == Some(b) {
            continue;
        }
        kept.push(b);
        last = Some(b);
    }
    out.write(&kept)?;
    Ok(0)
}

fn plan(args: &[String], out: &mut Out) -> Result<Plan, FilterError> {
    let (mut delete, mut squeeze) = (false, false);
    let mut sets = Vec::new();
    for arg in SPEC.parse(args)? {
        match arg {
            Arg::Flag('d') => delete = true,
            Arg::Flag(_) => squeeze = true,
            Arg::Operand(o) => sets.push(o),
            Arg::Value(f, _) => return Err(SPEC.unsupported(&format!("-{f}"))),
        }
    }
    check_operands(&sets, delete, squeeze)?;
    let set1 = Set::parse(sets[0])?;
    if set1.indefinite_repeats() > 0 {
        return Err(bad(
            "the [c*] repeat construct may not appear in SET1".into()
        ));
    }
    let translating = sets.len() == 2 && !delete;
    let set2 = match sets.get(1) {
        Some(text) => Some(second_set(&set1, text, translating)?),
        None => None,
    };
    let mut plan = Plan {
        deleted: [false; 256],
        map: std::array::from_fn(|i| u8::try_from(i).unwrap_or(u8::MAX)),
        squeezed: match (&set2, squeeze) {
            (_, false) => [false; 256],
            (Some(s2), true) => s2.members(),
            (None, true) => set1.members(),
        },
    };
    if delete {
        plan.deleted = set1.members();
    } else if let Some(s2) = &set2 {
        plan.map = translation(&set1, s2, out)?;
    }
    Ok(plan)
}

/// GNU's operand counts: two sets when translating or doing both -d and -s, one for -d or
/// -s alone (where -s may also take two).
fn check_operands(sets: &[&str], delete: bool, squeeze: bool) -> Result<(), FilterError> {
    let min = if delete == squeeze { 2 } else { 1 };
    let max = if delete && !squeeze { 1 } else { 2 };
    if sets.len() < min {
        return Err(bad(match sets.last() {
            None => "missing operand; give SET1 (and SET2 to translate)".into(),
            Some(last) => format!(
                "missing operand after '{}'; {}",
                super::text::shown(last),
                if squeeze {
                    "two sets must be given when both deleting and squeezing repeats"
                } else {
                    "two sets must be given when translating"
                }
            ),
        }));
    }
    if sets.len() > max {
        return Err(bad(format!(
            "extra operand '{}'{}",
            super::text::shown(sets[max]),
            if max == 1 {
                "; only one set may be given when deleting without squeezing repeats"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

/// SET2, checked and made as long as SET1 as GNU's `validate` does.
fn second_set(set1: &Set, text: &str, translating: bool) -> Result<Set, FilterError> {
    let mut set2 = Set::parse(text)?;
    let indefinite = set2.indefinite_repeats();
    if indefinite > 1 {
        return Err(bad(
            "only one [c*] repeat construct may appear in SET2".into()
        ));
    }
    if indefinite == 1 && set1.length >= set2.length {
        let fill = set1.length - set2.length;
        Walker::fill(&mut set2, fill);
    }
    if !translating {
        if indefinite > 0 {
            return Err(bad(
                "the [c*] construct may appear in SET2 only when translating".into(),
            ));
        }
        return Ok(set2);
    }
    if set2.has_equiv() {
        return Err(bad(
            "[=c=] expressions may not appear in SET2 when translating".into(),
        ));
    }
    if set2.has_restricted_class() {
        return Err(bad(
            "when translating, the only character classes that may appear in SET2 are 'upper' \
             and 'lower'"
                .into(),
        ));
    }
    let (len1, len2) = case_class_lengths(set1, &set2)?;
    if len1 > len2 {
        let last = match set2.elements.last() {
            None => {
                return Err(bad(
                    "when not truncating SET1, SET2 must be non-empty".into()
                ));
            }
            Some(Element::Class(_)) => {
                return Err(bad(
                    "when translating with SET1 longer than SET2, SET2 must not end with a \
                     character class"
                        .into(),
                ));
            }
            Some(
                Element::Byte(b) | Element::Range(_, b) | Element::Repeat(b, _) | Element::Equiv(b),
            ) => *b,
        };
        set2.elements.push(Element::Repeat(last, len1 - len2));
    }
    Ok(set2)
}

/// GNU's `validate_case_classes`: a case class in SET2 must stand opposite a case class in
/// SET1; the set lengths, each case-class pair counting as one byte.
fn case_class_lengths(set1: &Set, set2: &Set) -> Result<(usize, usize), FilterError> {
    let (mut len1, mut len2) = (set1.length, set2.length);
    if !set2.has_class() {
        return Ok((len1, len2));
    }
    let (mut w1, mut w2) = (Walker::new(set1), Walker::new(set2));
    let (mut new1, mut new2) = (true, true);
    loop {
        let c1 = w1.next_with_case();
        let c2 = w2.next_with_case();
        let case1 = c1.map_or(Case::None, |(_, c)| c);
        let case2 = c2.map_or(Case::None, |(_, c)| c);
        if new2 && case2 != Case::None && !(new1 && case1 != Case::None) {
            return Err(bad("misaligned [:upper:] and/or [:lower:] construct".into()));
        }
        if case2 != Case::None {
            w1.skip();
            w2.skip();
            // Each case class counts as one byte from here on (26 letters, less one).
            len1 = len1.saturating_sub(25);
            len2 = len2.saturating_sub(25);
        }
        new1 = w1.at_new_element();
        new2 = w2.at_new_element();
        if c1.is_none() || c2.is_none() {
            return Ok((len1, len2));
        }
    }
}

/// The byte map of translation (GNU's `xlate`), later pairs winning.
fn translation(set1: &Set, set2: &Set, out: &mut Out) -> Result<[u8; 256], FilterError> {
    let mut map: [u8; 256] = std::array::from_fn(|i| u8::try_from(i).unwrap_or(u8::MAX));
    let (mut w1, mut w2) = (Walker::new(set1), Walker::new(set2));
    loop {
        out.tick()?;
        let c1 = w1.next_with_case();
        let c2 = w2.next_with_case();
        let case1 = c1.map_or(Case::None, |(_, c)| c);
        let case2 = c2.map_or(Case::None, |(_, c)| c);
        match (case1, case2) {
            (Case::Lower, Case::Upper) => {
                for b in b'a'..=b'z' {
                    map[usize::from(b)] = b.to_ascii_uppercase();
                }
            }
            (Case::Upper, Case::Lower) => {
                for b in b'A'..=b'Z' {
                    map[usize::from(b)] = b.to_ascii_lowercase();
                }
            }
            _ => match (c1, c2) {
                (Some((b1, _)), Some((b2, _))) => map[usize::from(b1)] = b2,
                _ => return Ok(map),
            },
        }
        if case2 != Case::None {
            w1.skip();
            w2.skip();
        }
    }
}
