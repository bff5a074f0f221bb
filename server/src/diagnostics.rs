//! The operator's log: errors written with their whole cause chain, since the top-level message
//! of a library error names only what failed, not why (its source says why).

use std::fmt;

/// Displays an error and each of its sources, `top: cause: root cause`, as `anyhow`'s `{:#}`
/// does, for `tracing` fields: `error = %chain(&e)`.
pub fn chain<E: std::error::Error + ?Sized>(error: &E) -> Chain<'_, E> {
    Chain(error)
}

/// See [`chain`].
pub struct Chain<'a, E: ?Sized>(&'a E);

impl<E: std::error::Error + ?Sized> fmt::Display for Chain<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("the audit log could not be written")]
    struct Top(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause() {
        let e = Top(std::io::Error::other("disk full"));
        assert_eq!(
            chain(&e).to_string(),
            "the audit log could not be written: disk full"
        );
    }
}
