//! The price table: USD per million input and output tokens per model (`harness/prices.toml`
//! by default, `--prices FILE` to replace it).

use std::collections::BTreeMap;

use serde::Deserialize;

/// The price table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub models: BTreeMap<String, Price>,
}

/// One model's prices, USD per million tokens.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

/// The embedded default table.
pub const DEFAULT_TOML: &str = include_str!("../prices.toml");

impl Prices {
    /// Parses a table; every price must be a non-negative number.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let prices: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        if prices.models.is_empty() {
            return Err("the price table names no [models.NAME]".into());
        }
        for (name, p) in &prices.models {
            if !(p.input >= 0.0 && p.output >= 0.0) {
                return Err(format!("{name}: prices must be non-negative numbers"));
            }
        }
        Ok(prices)
    }

    /// The embedded default.
    pub fn default_table() -> Self {
        Self::from_toml(DEFAULT_TOML).expect("the embedded price table parses (unit-tested)")
    }

    /// Cost of `input` tokens sent and `output` tokens written, per model.
    pub fn cost(&self, input: u64, output: u64) -> BTreeMap<String, f64> {
        self.models
            .iter()
            .map(|(name, p)| {
                (
                    name.clone(),
                    (input as f64 * p.input + output as f64 * p.output) / 1e6,
                )
            })
            .collect()
    }

    /// Input prices by model (for the report's meta).
    pub fn input_per_mtok(&self) -> BTreeMap<String, f64> {
        self.models
            .iter()
            .map(|(n, p)| (n.clone(), p.input))
            .collect()
    }

    /// Output prices by model (for the report's meta).
    pub fn output_per_mtok(&self) -> BTreeMap<String, f64> {
        self.models
            .iter()
            .map(|(n, p)| (n.clone(), p.output))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_table_parses_and_prices() {
        let p = Prices::default_table();
        assert!(p.models.len() >= 2);
        let m = Prices::from_toml("[models.x]\ninput = 2.0\noutput = 8.0\n").unwrap();
        assert_eq!(m.cost(1_000_000, 500_000)["x"], 6.0);
        assert!(Prices::from_toml("[models.x]\ninput = -1.0\noutput = 1.0\n").is_err());
        assert!(Prices::from_toml("").is_err());
        assert!(Prices::from_toml("[models.x]\ninput = 1.0\n").is_err());
    }
}
