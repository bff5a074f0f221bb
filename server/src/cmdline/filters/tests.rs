//! The filters' refusals, the intended differences from the real programs (numbered as in
//! `mod.rs`), their bounds, and a property test feeding random arguments and input. Agreement
//! with the real programs is tested in `server/tests/e2e/cmd_filters.rs`, which also pins the
//! differences that need the jq sandbox (2 and 3).

use std::time::{Duration, Instant};

use super::*;

fn ctx() -> FilterContext {
    FilterContext {
        jq: None,
        user: "alice".into(),
        deadline: Instant::now() + Duration::from_secs(30),
    }
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// Runs `words` on `input`: `Ok((text, status))` or the error's message.
fn run_words(words: &[&str], input: &str) -> Result<(String, i32), String> {
    run(&argv(words), input, &ctx())
        .map(|o| (o.text, o.status))
        .map_err(|e| e.to_string())
}

fn check(words: &[&str], input: &str, expected: Result<(&str, i32), &str>) {
    let expected = expected
        .map(|(t, s)| (t.to_owned(), s))
        .map_err(str::to_owned);
    assert_eq!(run_words(words, input), expected, "{words:?} <<< {input:?}");
}

#[test]
fn unsupported_flags_name_the_supported_ones() {
    let refused = |words: &[&str], message: &str| check(words, "x\n", Err(message));
    refused(
        &["sort", "-M"],
        "sort: unsupported flag -M; supported: -u -n -r -k N[,M] -t C",
    );
    refused(
        &["sort", "-k2b"],
        "sort: unsupported flag -k 2b (key option b); supported: -u -n -r -k N[,M] -t C",
    );
    refused(
        &["grep", "-x", "x"],
        "grep: unsupported flag -x; supported: -v -i -c -E -F -o -w -n -e PAT -A N -B N -C N -m N",
    );
    refused(
        &["grep", "-P", "x"],
        "grep: unsupported flag -P; supported: -v -i -c -E -F -o -w -n -e PAT -A N -B N -C N -m N",
    );
    refused(
        &["grep", "--count", "x"],
        "grep: unsupported flag --count; supported: -v -i -c -E -F -o -w -n -e PAT -A N -B N -C N -m N",
    );
    refused(
        &["cut", "-s", "-f1"],
        "cut: unsupported flag -s; supported: -d C -f LIST, -c LIST",
    );
    refused(
        &["cut", "-b", "1"],
        "cut: unsupported flag -b; supported: -d C -f LIST, -c LIST",
    );
    refused(
        &["tr", "-c", "a", "b"],
        "tr: unsupported flag -c; supported: -d -s, SET1 [SET2]",
    );
    refused(
        &["head", "-c", "3"],
        "head: unsupported flag -c; supported: -n N, -n -N, -N",
    );
    refused(
        &["tail", "-f"],
        "tail: unsupported flag -f; supported: -n N, -n +N, -N",
    );
    refused(
        &["wc", "-m"],
        "wc: unsupported flag -m; supported: -l -w -c",
    );
    refused(
        &["uniq", "-i"],
        "uniq: unsupported flag -i; supported: -c -d -u",
    );
    refused(&["cat", "-A"], "cat: unsupported flag -A; supported: -n");
    refused(
        &["jq", "-S", "."],
        "jq: unsupported flag -S; supported: -r -c -s -e -n --arg NAME VALUE",
    );
    refused(
        &["jq", "--tab", "."],
        "jq: unsupported flag --tab; supported: -r -c -s -e -n --arg NAME VALUE",
    );
}

#[test]
fn other_refusals_say_what_to_do() {
    let refused = |words: &[&str], message: &str| check(words, "x\n", Err(message));
    refused(
        &["awk", "1"],
        "unknown filter 'awk'; filters: cat, cut, grep, head, jq, sort, tail, tr, uniq, wc",
    );
    refused(
        &["grep", "-c", "x", "-", "-"],
        "grep: the input can be read only once; give - at most once",
    );
    refused(&["jq", "."], "jq: not available on this server");
    refused(
        &["grep", "a\\1"],
        "grep: bad pattern 'a\\1': back-references (\\1 to \\9) are not supported; match the text itself",
    );
    refused(
        &["grep", "-E", "a{2,1}"],
        "grep: bad pattern 'a{2,1}': Invalid content of \\{\\}",
    );
    refused(
        &["tr", "-d", "a", "b"],
        "tr: extra operand 'b'; only one set may be given when deleting without squeezing repeats",
    );
    refused(
        &["sort", "-k0"],
        "sort: field number is zero: invalid field specification '0'",
    );
    refused(&["cut", "-f", "2-1"], "cut: invalid decreasing range");
    refused(&["head", "-n", "x"], "head: invalid number of lines: 'x'");
    assert!(matches!(run(&[], "", &ctx()), Err(FilterError::Empty)));
    // A huge pattern is refused by its length before it is compiled (git/pattern.rs's bound).
    let long = "a".repeat(5000);
    let message = run_words(&["grep", &long], "a\n").expect_err("refused");
    assert!(
        message.contains("patterns are limited to 4096 bytes"),
        "{message}"
    );
    assert!(message.len() < 200, "{message}");
    // Compiled size is bounded too.
    let message =
        run_words(&["grep", "-E", "(abcdefgh|ijklmnop){1000}{20}"], "a\n").expect_err("big");
    assert!(message.contains("exceed"), "{message}");
}

/// Each entry of the list in `mod.rs` that can be shown without the jq sandbox.
#[test]
fn intended_differences() {
    // 1. Bytes that are not UTF-8 print as U+FFFD (GNU prints the lone byte).
    check(&["cut", "-c", "1"], "é\n", Ok(("\u{FFFD}\n", 0)));
    // `©` is C2 A9 and `é` C3 A9: deleting the bytes of one leaves half of the other.
    check(&["tr", "-d", "©"], "é\n", Ok(("\u{FFFD}\n", 0)));
    check(&["grep", "-o", "."], "é\n", Ok(("\u{FFFD}\n\u{FFFD}\n", 0)));
    // 4. Files are never read; `-` is the input.
    check(
        &["sort", "/etc/passwd"],
        "",
        Err(
            "sort: reads only the previous command's output; file arguments such as \
             '/etc/passwd' are not supported",
        ),
    );
    check(&["sort", "-"], "b\na\n", Ok(("a\nb\n", 0)));
    check(
        &["jq", ".", "secret.json"],
        "",
        Err(
            "jq: reads only the previous command's output; file arguments such as \
             'secret.json' are not supported",
        ),
    );
    // 5. No size suffixes.
    check(
        &["head", "-n", "1K"],
        "a\n",
        Err("head: invalid number of lines: '1K'"),
    );
    // 6. NUL bytes are text to grep; back-references are refused (above).
    check(&["grep", "b"], "a\0b\nc\n", Ok(("a\0b\n", 0)));
}

#[test]
fn output_and_input_are_capped() {
    let lines = "\n".repeat(3 << 20);
    let err = run_words(&["cat", "-n"], &lines).expect_err("24 MiB of output");
    assert_eq!(
        err,
        "cat: its output is larger than 16 MiB; narrow it first (e.g. with head or grep)"
    );
    let big = "a".repeat(MAX_INPUT + 1);
    let err = run_words(&["wc", "-l"], &big).expect_err("too much input");
    assert_eq!(
        err,
        "wc: its input is larger than 16 MiB; narrow it first (e.g. with head or grep)"
    );
}

/// Every loop looks at the clock: a stage started after its deadline stops with an error
/// instead of working through its input.
#[test]
fn long_loops_stop_at_the_deadline() {
    let input: String = (0..200_000).map(|i| format!("line {i} x\n")).collect();
    let late = FilterContext {
        deadline: Instant::now() - Duration::from_millis(1),
        ..ctx()
    };
    for words in [
        &["head", "-n", "-1"][..],
        &["tail", "-n", "+2"],
        &["cat", "-n"],
        &["sort", "-k2n"],
        &["uniq", "-c"],
        &["grep", "-c", "x"],
        &["cut", "-d", " ", "-f2"],
        &["tr", "a-z", "A-Z"],
        &["wc", "-w"],
    ] {
        let got = run(&argv(words), &input, &late);
        assert!(
            matches!(got, Err(FilterError::Timeout { .. })),
            "{words:?}: {:?}",
            got.map(|o| o.text.len())
        );
    }
}

/// Property: whatever arguments and input a caller sends, a filter never panics, and every
/// refusal is one line.
#[test]
fn random_arguments_and_input_never_panic() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    let words: &[&str] = &[
        "-n",
        "-r",
        "-u",
        "-k",
        "-t",
        "-c",
        "-d",
        "-f",
        "-s",
        "-v",
        "-i",
        "-E",
        "-F",
        "-o",
        "-w",
        "-e",
        "-l",
        "-rn",
        "-k2,2n",
        "-t:",
        "-iE",
        "-ow",
        "--arg",
        "--",
        "-",
        "-5",
        "+2",
        "1",
        "0",
        "-1",
        "2,3",
        "1-",
        "-3",
        "3-1",
        "a-z",
        "z-a",
        "[:upper:]",
        "[:lower:]",
        "[:foo:]",
        "[x*]",
        "[x*3]",
        "[=a=]",
        "\\n",
        "\\",
        ":",
        ",",
        "",
        "é",
        "😀",
        "a\\|b",
        "\\(",
        "\\)",
        "(",
        ")",
        "[",
        "]",
        "[^]",
        "*",
        "+",
        "?",
        "^",
        "$",
        ".",
        "\\{1,2\\}",
        "{1,",
        "{,}",
        "\\1",
        "x{99999}",
        "a**",
        "\\<",
        "\\b",
        "[[:alpha:]-z]",
        "[[.a.]]",
        ".[]",
        "x",
        "-x",
        "--long",
        "1.2",
        "1.0,2.0",
        "99999999999999999999",
    ];
    let pieces: &[&str] = &[
        "a", "b", "A", "\n", "\r\n", " ", "\t", "é", "😀", "\0", "1", "-2.5", ":", ",", "{", "}",
        "\"", "[", "]", "aaaa", "\u{7f}", "x y", "10", ".5",
    ];
    for _ in 0..5_000 {
        let program = PROGRAMS[rng.random_range(0..PROGRAMS.len())];
        let mut args = vec![program.to_owned()];
        for _ in 0..rng.random_range(0..5) {
            args.push(words[rng.random_range(0..words.len())].to_owned());
        }
        let input: String = (0..rng.random_range(0..30))
            .map(|_| pieces[rng.random_range(0..pieces.len())])
            .collect();
        match run(&args, &input, &ctx()) {
            Ok(out) => assert!(out.text.len() <= MAX_OUTPUT, "{args:?}"),
            Err(e) => {
                let message = e.to_string();
                assert!(!message.contains('\n'), "{args:?}: {message}");
                assert!(message.len() < 400, "{args:?}: {message}");
            }
        }
    }
}
