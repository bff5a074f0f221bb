//! The command-line run form. TEMPORARY (branch cmd-filters): only the filters live here on
//! this branch; the lexer, parser and executor's module replaces this file at merge.

pub mod filters;
