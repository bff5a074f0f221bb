//! Arguments as GNU's getopt reads them: short flags alone or clustered (`-rn`), a flag's value
//! attached or in the next word (`-k2`, `-k 2`, `-rnk2`), options after operands, `--` ending the
//! options, and `-` an operand. Long options are refused: none of the supported flags needs one.

use super::FilterError;

/// The flags one program accepts.
pub(super) struct Spec {
    pub program: &'static str,
    /// Short flags that take no value.
    pub flags: &'static str,
    /// Short flags that take a value.
    pub valued: &'static str,
    /// The supported flags as the refusal lists them.
    pub supported: &'static str,
    /// Options end at the first operand (getopt's `+` mode, which GNU tr uses: `tr x -a`
    /// translates to `-` and `a`); the others take options anywhere.
    pub options_first: bool,
}

/// One parsed argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arg<'a> {
    Flag(char),
    Value(char, &'a str),
    Operand(&'a str),
}

impl Spec {
    /// `args` split into flags, flag values and operands, or the first unsupported flag.
    pub fn parse<'a>(&self, args: &'a [String]) -> Result<Vec<Arg<'a>>, FilterError> {
        let mut out = Vec::new();
        let mut words = args.iter();
        let mut options_ended = false;
        while let Some(word) = words.next() {
            if options_ended || word == "-" || !word.starts_with('-') {
                out.push(Arg::Operand(word));
                options_ended |= self.options_first;
                continue;
            }
            if word == "--" {
                options_ended = true;
                continue;
            }
            if let Some(long) = word.strip_prefix("--") {
                let name = long.split('=').next().unwrap_or(long);
                return Err(self.unsupported(&format!("--{name}")));
            }
            let cluster = &word[1..];
            for (at, flag) in cluster.char_indices() {
                if self.flags.contains(flag) {
                    out.push(Arg::Flag(flag));
                    continue;
                }
                if !self.valued.contains(flag) {
                    return Err(self.unsupported(&format!("-{flag}")));
                }
                let attached = &cluster[at + flag.len_utf8()..];
                let value = if attached.is_empty() {
                    words.next().map(String::as_str).ok_or_else(|| {
                        self.bad(format!(
                            "option -{flag} needs a value; supported: {}",
                            self.supported
                        ))
                    })?
                } else {
                    attached
                };
                out.push(Arg::Value(flag, value));
                break;
            }
        }
        Ok(out)
    }

    pub fn unsupported(&self, flag: &str) -> FilterError {
        FilterError::Unsupported {
            program: self.program,
            flag: super::text::shown(flag),
            supported: self.supported,
        }
    }

    pub fn bad(&self, message: String) -> FilterError {
        FilterError::BadArgument {
            program: self.program,
            message,
        }
    }

    /// Refuses operands that name files; `-` (the input) is accepted once. Whether it was
    /// given (`wc` then prints its name).
    pub fn stdin_only(&self, operands: &[&str]) -> Result<bool, FilterError> {
        if let Some(file) = operands.iter().find(|&&o| o != "-") {
            return Err(FilterError::FileOperand {
                program: self.program,
                operand: super::text::shown(file),
            });
        }
        if operands.len() > 1 {
            return Err(self.bad("the input can be read only once; give - at most once".into()));
        }
        Ok(!operands.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        program: "sort",
        flags: "nru",
        valued: "kt",
        supported: "-u -n -r -k N[,M] -t C",
        options_first: false,
    };

    fn check(args: &[&str], expected: Result<Vec<Arg<'_>>, &str>) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let got = SPEC.parse(&args).map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_owned), "{args:?}");
    }

    #[test]
    fn flags_cluster_take_values_and_mix_with_operands() {
        use Arg::*;
        check(&["-rn"], Ok(vec![Flag('r'), Flag('n')]));
        check(
            &["-rnk2,2", "x"],
            Ok(vec![Flag('r'), Flag('n'), Value('k', "2,2"), Operand("x")]),
        );
        check(
            &["-k", "2", "-t:"],
            Ok(vec![Value('k', "2"), Value('t', ":")]),
        );
        check(
            &["x", "-n", "--", "-r", "-"],
            Ok(vec![Operand("x"), Flag('n'), Operand("-r"), Operand("-")]),
        );
        check(&["-t", "-"], Ok(vec![Value('t', "-")]));
        check(
            &["-M"],
            Err("sort: unsupported flag -M; supported: -u -n -r -k N[,M] -t C"),
        );
        check(
            &["-nM"],
            Err("sort: unsupported flag -M; supported: -u -n -r -k N[,M] -t C"),
        );
        check(
            &["--numeric-sort=x"],
            Err("sort: unsupported flag --numeric-sort; supported: -u -n -r -k N[,M] -t C"),
        );
        check(
            &["-k"],
            Err("sort: option -k needs a value; supported: -u -n -r -k N[,M] -t C"),
        );
    }
}
