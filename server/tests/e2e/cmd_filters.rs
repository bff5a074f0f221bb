//! The command line's filters against the real programs: every case of
//! `server/src/cmdline/filters/corpus.txt` runs through GNU coreutils, GNU grep and jq (under
//! `LC_ALL=C`) and through `gitgate::cmdline::filters::run`, and stdout and the exit status
//! must match byte for byte. When both fail, that is a match: the error texts are gitgate's own.
//! The intended differences (listed in `server/src/cmdline/filters/mod.rs`) are applied here
//! and nowhere else: jq runs with `-S` (gitgate's objects keep no key order), and bytes that
//! are not UTF-8 compare as U+FFFD.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gitgate::cmdline::filters::{FilterContext, run};
use gitgate::jq::{Limits, Sandbox};

use crate::harness::BIN;

const CORPUS: &str = include_str!("../../src/cmdline/filters/corpus.txt");

/// One corpus line: the argv and the input.
struct Case {
    line: usize,
    argv: Vec<String>,
    input: String,
}

/// Reads the corpus: `# comments`, `@name = "json string"` inputs, and cases
/// `ARGV <<< INPUT` where INPUT is a JSON string or an `@name`, and ARGV's words are bare,
/// `'single-quoted'` (no escapes) or `"json-quoted"`.
fn corpus() -> Vec<Case> {
    let mut inputs = std::collections::HashMap::new();
    let mut cases = Vec::new();
    for (i, text) in CORPUS.lines().enumerate() {
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if let Some(def) = text.strip_prefix('@') {
            let (name, value) = def.split_once(" = ").expect("@name = \"...\"");
            let value: String = serde_json::from_str(value).expect("an input is a JSON string");
            inputs.insert(name.to_owned(), value);
            continue;
        }
        let (argv, input) = text
            .split_once(" <<< ")
            .unwrap_or_else(|| panic!("line {}: no ' <<< '", i + 1));
        let input = match input.strip_prefix('@') {
            Some(name) => inputs
                .get(name)
                .unwrap_or_else(|| panic!("line {}: no input @{name}", i + 1))
                .clone(),
            None => serde_json::from_str(input).expect("the input is a JSON string"),
        };
        cases.push(Case {
            line: i + 1,
            argv: words(argv),
            input,
        });
    }
    cases
}

fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (word, after) = if let Some(quoted) = rest.strip_prefix('\'') {
            let end = quoted.find('\'').expect("closing '");
            (quoted[..end].to_owned(), &quoted[end + 1..])
        } else if rest.starts_with('"') {
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<String>();
            let word = stream.next().expect("a string").expect("a JSON string");
            let used = stream.byte_offset();
            (word, &rest[used..])
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (rest[..end].to_owned(), &rest[end..])
        };
        words.push(word);
        rest = after.trim_start();
    }
    words
}

/// What the real program printed and how it exited; `failed` when it reported an error
/// (grep's status 1 only means "no line selected").
struct Real {
    stdout: Vec<u8>,
    status: i32,
    failed: bool,
}

/// The real program; jq with `-S` unless `exact` (difference 2).
fn real(argv: &[String], input: &str) -> Real {
    real_with(argv, input, false)
}

fn real_with(argv: &[String], input: &str, exact: bool) -> Real {
    let mut args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    if argv[0] == "jq" && !exact {
        args.insert(0, "-S");
    }
    let mut child = Command::new(&argv[0])
        .args(&args)
        .env_clear()
        .env("LC_ALL", "C")
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", argv[0]));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let status = output.status.code().unwrap_or(-1);
    let failed = status != 0 && !output.stderr.is_empty() && !(argv[0] == "grep" && status == 1);
    Real {
        stdout: output.stdout,
        status,
        failed,
    }
}

#[test]
fn filters_print_what_the_real_programs_print() {
    let cases = corpus();
    assert!(cases.len() >= 150, "the corpus has {} cases", cases.len());
    let sandbox = Arc::new(Sandbox::new(BIN.into(), Limits::default()));
    let ctx = || FilterContext {
        jq: Some(sandbox.clone()),
        user: "alice".into(),
        deadline: Instant::now() + Duration::from_secs(30),
    };
    let mut mismatches = Vec::new();
    let mut not_utf8 = 0;
    for case in &cases {
        let expected = real(&case.argv, &case.input);
        if std::str::from_utf8(&expected.stdout).is_err() {
            not_utf8 += 1;
        }
        let got = run(&case.argv, &case.input, &ctx());
        let same = match (&got, expected.failed) {
            (Err(_), true) => true,
            (Ok(out), false) => {
                out.text == String::from_utf8_lossy(&expected.stdout)
                    && out.status == expected.status
            }
            _ => false,
        };
        if !same {
            mismatches.push(format!(
                "line {}: {:?} <<< {:?}\n  real:    {:?} (status {}{})\n  gitgate: {:?}",
                case.line,
                case.argv,
                case.input,
                String::from_utf8_lossy(&expected.stdout),
                expected.status,
                if expected.failed { ", failed" } else { "" },
                got.map_err(|e| e.to_string()),
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
    // The U+FFFD difference is exercised, not only described.
    assert!(not_utf8 > 0, "no case prints bytes that are not UTF-8");
}

/// The jq entries of the list of intended differences (`server/src/cmdline/filters/mod.rs`),
/// each shown against the real jq.
#[test]
fn jq_differs_only_as_listed() {
    let sandbox = Arc::new(Sandbox::new(BIN.into(), Limits::default()));
    let ctx = FilterContext {
        jq: Some(sandbox),
        user: "alice".into(),
        deadline: Instant::now() + Duration::from_secs(30),
    };
    let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    let ours = |words: &[&str], input: &str| run(&argv(words), input, &ctx);

    // 2. Keys come out sorted, as with jq -S.
    let unsorted = r#"{"b":1,"a":{"d":2,"c":3}}"#;
    let real = real_with(&argv(&["jq", "-c", "."]), unsorted, true);
    assert_eq!(real.stdout, b"{\"b\":1,\"a\":{\"d\":2,\"c\":3}}\n");
    let got = ours(&["jq", "-c", "."], unsorted).unwrap();
    assert_eq!(got.text, "{\"a\":{\"c\":3,\"d\":2},\"b\":1}\n");

    // 3. An error on any input of a stream fails the stage; jq 1.6 goes on and exits 0.
    let stream = "1 {\"a\":3}";
    let real = real_with(&argv(&["jq", ".a"]), stream, true);
    assert_eq!((real.stdout.as_slice(), real.status), (&b"3\n"[..], 0));
    let err = ours(&["jq", ".a"], stream).unwrap_err().to_string();
    assert!(err.starts_with("jq error: "), "{err}");

    // 3. serde_json reads the input: out-of-range numbers and deep nesting are refused.
    for input in ["1e1000", &format!("{}{}", "[".repeat(200), "]".repeat(200))] {
        let real = real_with(&argv(&["jq", "-c", "length"]), input, true);
        assert_eq!(real.status, 0, "{input:.20}");
        let err = ours(&["jq", "-c", "length"], input)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("jq: the input is not valid JSON"), "{err}");
    }

    // 3. `$steps` is the sandbox's own variable: defined (null) where jq has no such name.
    let real = real_with(&argv(&["jq", "-n", "$steps"]), "", true);
    assert!(real.failed);
    assert_eq!(ours(&["jq", "-n", "$steps"], "").unwrap().text, "null\n");

    // 3. `--arg NAME` must be a variable name jq can refer to.
    let real = real_with(&argv(&["jq", "--arg", "a-b", "x", "."]), "1", true);
    assert_eq!((real.stdout.as_slice(), real.status), (&b"1\n"[..], 0));
    let err = ours(&["jq", "--arg", "a-b", "x", "."], "1")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "jq: --arg NAME must be a jq variable name (letters, digits, _), not 'a-b'"
    );
}

/// Cases drawn at random from the supported flags and typical inputs (a fixed seed, so a
/// failure reproduces), run like the corpus: the corpus pins what was thought of, this finds
/// what was not.
#[test]
fn random_cases_print_what_the_real_programs_print() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    let mut pick = |items: &[&str]| items[rng.random_range(0..items.len())].to_owned();
    let ctx = FilterContext {
        jq: None,
        user: "alice".into(),
        deadline: Instant::now() + Duration::from_secs(60),
    };
    let mut mismatches = Vec::new();
    const CASES: usize = 600;
    for _ in 0..CASES {
        let (argv, input) = random_case(&mut pick);
        let expected = real(&argv, &input);
        let got = run(&argv, &input, &ctx);
        let same = match (&got, expected.failed) {
            (Err(_), true) => true,
            (Ok(out), false) => {
                out.text == String::from_utf8_lossy(&expected.stdout)
                    && out.status == expected.status
            }
            _ => false,
        };
        if !same {
            mismatches.push(format!(
                "{:?} <<< {:?}\n  real:    {:?} (status {}{})\n  gitgate: {:?}",
                argv,
                input,
                String::from_utf8_lossy(&expected.stdout),
                expected.status,
                if expected.failed { ", failed" } else { "" },
                got.map_err(|e| e.to_string()),
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {CASES} random cases differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// One random case: a filter with some of its supported flags, and lines of typical text.
fn random_case(pick: &mut impl FnMut(&[&str]) -> String) -> (Vec<String>, String) {
    let words = [
        "a", "b", "B", "ab", "foo", "Foo", "fix", "fixes", "1", "-2", "3.5", "10", ".5", "-0",
        "x y", "  lead", "trail ", " ", "é", "日本", ":", ",", "\t", "a:b:c", "1,2,3", "\r", "",
        "foo_bar", "foo-bar", "aaa", "-1.5e3", "007", "Zoë", "-5", "+4", "1e3", " 2", "0.0001",
        "3.50", "abc10", "10abc", "-", "--", "-.5", "A-Z", "x.y", "a]b", "[x]", "\\", "FIX",
    ];
    let lines = pick(&["0", "1", "2", "3", "5", "8"])
        .parse::<usize>()
        .unwrap_or(3);
    let mut input = String::new();
    for i in 0..lines {
        let parts = pick(&["1", "1", "2", "3"]).parse::<usize>().unwrap_or(1);
        for j in 0..parts {
            if j > 0 {
                input.push_str(&pick(&[" ", ":", ",", "\t", ""]));
            }
            input.push_str(&pick(&words));
        }
        if i + 1 < lines || pick(&["y", "y", "n"]) == "y" {
            input.push('\n');
        }
    }
    let program = pick(&[
        "head", "tail", "wc", "sort", "uniq", "grep", "cut", "tr", "cat",
    ]);
    let mut argv = vec![program.clone()];
    let mut maybe = |argv: &mut Vec<String>, flag: &str| {
        if pick(&["y", "n"]) == "y" {
            argv.push(flag.to_owned());
        }
    };
    match program.as_str() {
        "head" | "tail" => {
            let n = if program == "head" {
                pick(&["0", "1", "2", "5", "-1", "-3", "+2", "20"])
            } else {
                pick(&["0", "1", "2", "5", "-1", "+1", "+2", "+4", "20"])
            };
            match pick(&["sep", "joined", "old", "none"]).as_str() {
                "sep" => argv.extend(["-n".to_owned(), n]),
                "joined" => argv.push(format!("-n{n}")),
                "old" => argv.push(format!("-{}", n.trim_start_matches(['-', '+']))),
                _ => {}
            }
        }
        "wc" | "uniq" | "cat" => {
            let flags: &[&str] = match program.as_str() {
                "wc" => &["-l", "-w", "-c"],
                "uniq" => &["-c", "-d", "-u"],
                _ => &["-n"],
            };
            for f in flags {
                maybe(&mut argv, f);
            }
        }
        "sort" => {
            for f in ["-u", "-n", "-r"] {
                maybe(&mut argv, f);
            }
            if pick(&["y", "n"]) == "y" {
                argv.push(format!("-t{}", pick(&[":", ",", " "])));
            }
            for _ in 0..pick(&["0", "1", "1", "2"]).parse::<usize>().unwrap_or(0) {
                let key = pick(&[
                    "1", "2", "2,2", "1.2", "2n", "2,2n", "1,1r", "3", "2.2,2.3", "1,2", "2.1n,2",
                ]);
                argv.extend(["-k".to_owned(), key]);
            }
        }
        "grep" => {
            for f in ["-v", "-i", "-c", "-o", "-w", "-n"] {
                maybe(&mut argv, f);
            }
            argv.push(pick(&["-E", "-F", "-G", "-G"]).replace("-G", "-e"));
            if argv.last().map(String::as_str) != Some("-e") {
                argv.push("-e".to_owned());
            }
            argv.push(pick(&[
                "a",
                "fix",
                "^a",
                "a$",
                "[0-9]",
                "[[:digit:]]+",
                "a|b",
                "a\\|b",
                "x*",
                "(a|ab)",
                "\\bfoo",
                "foo\\>",
                "[^a ]",
                ".",
                ".*",
                "a+",
                "a\\+",
                "b?",
                "\\w+",
                "é",
                "[a-c]",
                "^$",
                "1\\.",
                "-",
                "o*",
                "(fix|fixes)",
                "fix\\(es\\)*",
                "a{2}",
                "a\\{2\\}",
                "[[:space:]]",
                "\\<f",
                "[:,]",
                "Zo.",
                "a*b",
                "^[a-z]+$",
                "[[:upper:]]",
                "\\(a\\)\\{1,\\}",
                "(a|)",
                "a|",
                "^(fix|foo)",
                "o\\b",
                "\\Bo",
                "[.]",
                "\\.",
                "x\\|y\\|z",
                "[]a]",
                "[^]a]",
                "[a-]",
                "\\s",
                "\\S+",
                "\\W",
                "$",
                "^",
                "a.c",
                "[0-9]+\\.[0-9]*",
                "-?[0-9]+",
                "(a|b)+",
                "a{1,2}",
                "\\[",
                "F[iI]X",
                "",
                "\\w*",
                "[[:alpha:]]{2,}",
            ]));
        }
        "cut" => {
            if pick(&["f", "f", "c"]) == "f" {
                if pick(&["y", "y", "n"]) == "y" {
                    argv.push(format!("-d{}", pick(&[":", ",", " "])));
                }
                argv.extend([
                    "-f".to_owned(),
                    pick(&[
                        "1", "2", "1,3", "2-", "-2", "1-2,3", "3-5", "4", "1-1", "2,1", "1,1",
                        "5-", "1 3",
                    ]),
                ]);
            } else {
                argv.extend([
                    "-c".to_owned(),
                    pick(&["1", "2", "1,3", "2-", "-2", "1-2,5", "3-5"]),
                ]);
            }
        }
        _ => {
            let sets = [
                "a-z",
                "A-Z",
                "[:lower:]",
                "[:upper:]",
                "[:digit:]",
                "[:space:]",
                "abc",
                "xyz",
                ":",
                " ",
                "\\n",
                "a-c",
                "0-9",
                "[:punct:]",
                "[:alnum:]",
                "ab",
                "[x*]",
                "[a*3]",
                "\\t",
                "\\\\",
                "a-",
                "-a",
                "[=a=]",
                "\\101",
                "[:blank:]",
                "[:xdigit:]",
                "a[:digit:]",
                "[:upper:]x",
                "x[:lower:]",
                "é",
            ];
            match pick(&["tr", "tr", "d", "s", "ds", "s2"]).as_str() {
                "d" => argv.extend(["-d".to_owned(), pick(&sets)]),
                "s" => argv.extend(["-s".to_owned(), pick(&sets)]),
                "ds" => argv.extend(["-ds".to_owned(), pick(&sets), pick(&sets)]),
                "s2" => argv.extend(["-s".to_owned(), pick(&sets), pick(&sets)]),
                _ => argv.extend([pick(&sets), pick(&sets)]),
            }
        }
    }
    (argv, input)
}
