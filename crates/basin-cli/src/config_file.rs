//! Reading a run config: TOML file + `--set key=value` overrides, checked key by key against
//! the documented defaults so that a typo or a wrong type is a one-line error naming the key.

use crate::CliError;
use basin::train::TrainConfig;
use std::path::Path;

/// Reads `file` (or the defaults), applies `sets`, and returns the validated config.
pub fn load(file: Option<&Path>, sets: &[String]) -> Result<TrainConfig, CliError> {
    let mut value: toml::Table = match file {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| CliError::input(format!("{}: {e}", p.display())))?;
            text.parse::<toml::Table>().map_err(|e| {
                CliError::input(format!("{}: {}", p.display(), e.message().lines().next().unwrap_or("invalid TOML")))
            })?
        }
        None => toml::Table::new(),
    };
    for s in sets {
        let (key, raw) = s.split_once('=').ok_or_else(|| CliError::input(format!("--set {s}: expected key=value")))?;
        let parsed = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        set_path(&mut value, key.trim(), parsed)?;
    }
    let defaults = toml::Table::try_from(TrainConfig::default()).expect("defaults serialize");
    check_keys(&value, &defaults, "", file)?;
    let cfg: TrainConfig = toml::Value::Table(value)
        .try_into()
        .map_err(|e: toml::de::Error| CliError::input(format!("config: {}", e.message().lines().next().unwrap_or(""))))?;
    cfg.validate()?;
    Ok(cfg)
}

fn set_path(t: &mut toml::Table, key: &str, v: toml::Value) -> Result<(), CliError> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().ok_or_else(|| CliError::input("--set: empty key"))?;
    let mut cur = t;
    for p in parts {
        cur = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| CliError::input(format!("--set {key}: '{p}' is not a table")))?;
    }
    cur.insert(last.to_string(), v);
    Ok(())
}

fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "true or false",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// Every key of `user` must exist in `defaults`, with a compatible type (an integer is accepted
/// where a number is expected).
fn check_keys(user: &toml::Table, defaults: &toml::Table, prefix: &str, file: Option<&Path>) -> Result<(), CliError> {
    let at = file.map(|p| format!("{}: ", p.display())).unwrap_or_default();
    for (k, v) in user {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        let Some(d) = defaults.get(k) else {
            let known: Vec<&str> = defaults.keys().map(String::as_str).collect();
            return Err(CliError::input(format!("{at}{key}: unknown key (known here: {})", known.join(", "))));
        };
        match (v, d) {
            (toml::Value::Table(u), toml::Value::Table(dd)) => check_keys(u, dd, &key, file)?,
            (toml::Value::Integer(_), toml::Value::Float(_)) => {}
            (toml::Value::Array(_), toml::Value::Array(_)) => {}
            (u, d) if std::mem::discriminant(u) != std::mem::discriminant(d) => {
                return Err(CliError::input(format!("{at}{key}: expected {}, got {}", type_name(d), type_name(u))));
            }
            _ => {}
        }
    }
    Ok(())
}
