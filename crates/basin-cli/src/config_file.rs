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
    let cfg: TrainConfig = serde_path_to_error::deserialize(toml::Value::Table(value)).map_err(|e| {
        let msg = e.inner().message().lines().next().unwrap_or("invalid value").to_string();
        CliError::input(format!("{}: {msg}", e.path()))
    })?;
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
            (toml::Value::Float(f), _) if !f.is_finite() => {
                return Err(CliError::input(format!("{at}{key}: must be a finite number, got {f}")));
            }
            (toml::Value::Integer(i), toml::Value::Integer(_)) if *i < 0 => {
                return Err(CliError::input(format!("{at}{key}: must be ≥ 0, got {i}")));
            }
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

/// The first key (dotted) whose value differs between two configs, with both values.
pub fn first_difference(a: &TrainConfig, b: &TrainConfig) -> Option<(String, String, String)> {
    fn walk(a: &toml::Table, b: &toml::Table, prefix: &str) -> Option<(String, String, String)> {
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for k in keys {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match (a.get(k), b.get(k)) {
                (Some(toml::Value::Table(x)), Some(toml::Value::Table(y))) => {
                    if let Some(d) = walk(x, y, &key) {
                        return Some(d);
                    }
                }
                (x, y) if x != y => {
                    let show = |v: Option<&toml::Value>| v.map_or("(absent)".to_string(), |v| v.to_string());
                    return Some((key, show(x), show(y)));
                }
                _ => {}
            }
        }
        None
    }
    let (ta, tb) = (toml::Table::try_from(a).expect("config serializes"), toml::Table::try_from(b).expect("config serializes"));
    walk(&ta, &tb, "")
}
