//! The JSON Schema of `report.json`, generated from [`RunReport`] and committed as
//! `schemas/report.schema.json` (`gitgate-bench schema --out FILE [--check]`).

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::model::RunReport;

/// The schema as the committed file holds it: pretty JSON ending in a newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(RunReport);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes the schema to `path`.
pub fn write(path: &Path) -> Result<()> {
    std::fs::write(path, schema_json()).with_context(|| format!("writing {}", path.display()))
}

/// Fails when `path` does not hold exactly the generated schema.
pub fn check(path: &Path) -> Result<()> {
    let committed =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if committed != schema_json() {
        bail!(
            "{} is stale: regenerate it with `gitgate-bench schema --out {}`",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    fn committed() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/report.schema.json")
    }

    #[test]
    fn committed_schema_is_current() {
        if let Err(e) = super::check(&committed()) {
            panic!("{e:#}");
        }
    }

    #[test]
    fn a_changed_schema_is_reported_stale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.schema.json");
        super::write(&path).unwrap();
        super::check(&path).unwrap();
        std::fs::write(&path, super::schema_json().replace("RunReport", "Other")).unwrap();
        assert!(super::check(&path).is_err());
    }
}
