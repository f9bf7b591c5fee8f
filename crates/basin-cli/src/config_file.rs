//! Reading a run config: TOML file + `--set key=value` overrides, checked key by key against
//! the documented defaults so that a typo or a wrong type is a one-line error naming the key.

use crate::CliError;
use basin_core::estimators::config::drop_legacy_keys;
use basin_core::estimators::{ESTIMATOR_NAMES, EstimatorConfig};
use basin_core::train::TrainConfig;
use std::path::Path;

/// Reads `file` (or the defaults), applies `sets`, and returns the validated config.
pub fn load(file: Option<&Path>, sets: &[String]) -> Result<TrainConfig, CliError> {
    let text = match file {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| CliError::input(format!("{}: {e}", p.display())))?),
        None => None,
    };
    load_text(text.as_deref().zip(file), sets)
}

/// [`load`] on the text of a config file (`(text, its path)`, for messages).
pub fn load_text(file: Option<(&str, &Path)>, sets: &[String]) -> Result<TrainConfig, CliError> {
    let mut value: toml::Table = match file {
        Some((text, p)) => text.parse::<toml::Table>().map_err(|e| {
            CliError::input(format!("{}: {}", p.display(), e.message().lines().next().unwrap_or("invalid TOML")))
        })?,
        None => toml::Table::new(),
    };
    let file = file.map(|(_, p)| p);
    for s in sets {
        let (key, raw) = s.split_once('=').ok_or_else(|| CliError::input(format!("--set {s}: expected key=value")))?;
        let parsed = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        set_path(&mut value, key.trim(), parsed)?;
    }
    let mut defaults = toml::Table::try_from(TrainConfig::default()).expect("defaults serialize");
    // `[estimator]` holds the named method's keys only: check against that method's defaults
    let at = file.map(|p| format!("{}: ", p.display())).unwrap_or_default();
    if let Some(toml::Value::Table(est)) = value.get_mut("estimator") {
        drop_legacy_keys(est);
        defaults.insert("estimator".into(), method_defaults(est, "estimator", &at)?);
    }
    if let Some(toml::Value::Array(phases)) = value.get_mut("phases") {
        for (i, p) in phases.iter_mut().enumerate() {
            if let Some(toml::Value::Table(est)) = p.as_table_mut().and_then(|t| t.get_mut("estimator")) {
                drop_legacy_keys(est);
                let key = format!("phases[{i}].estimator");
                check_keys(est, method_defaults(est, &key, &at)?.as_table().expect("a table"), &key, file)?;
            }
        }
    }
    check_keys(&value, &defaults, "", file)?;
    let cfg: TrainConfig = serde_path_to_error::deserialize(toml::Value::Table(value)).map_err(|e| {
        let msg = e.inner().message().lines().next().unwrap_or("invalid value").to_string();
        CliError::input(format!("{}: {msg}", e.path()))
    })?;
    let cfg = cfg.migrate()?;
    cfg.validate()?;
    // a key named by --set is a choice even at its default value: one this config never reads
    // would be accepted and ignored (a config file written by a run holds every key, so the
    // file's own keys are checked against their defaults only, by validate)
    let unread = cfg.unread();
    for key in sets.iter().filter_map(|s| s.split_once('=')).map(|(k, _)| k.trim()) {
        if let Some((_, why)) = unread.iter().find(|(k, _)| *k == key) {
            return Err(CliError::input(format!("--set {key}: is set but not used: {why}")));
        }
    }
    Ok(cfg)
}

/// The defaults of the method an `[estimator]` table names (`sgd` when it names none); an
/// unknown name is an error naming `KEY.name` and the known ones.
fn method_defaults(est: &toml::Table, key: &str, at: &str) -> Result<toml::Value, CliError> {
    let name = match est.get("name") {
        None => "sgd",
        Some(toml::Value::String(n)) => n.as_str(),
        Some(v) => return Err(CliError::input(format!("{at}{key}.name: expected a string, got {}", type_name(v)))),
    };
    let d = EstimatorConfig::default_of(name)
        .ok_or_else(|| CliError::input(format!("{at}{key}.name: unknown estimator '{name}' (known: {})", ESTIMATOR_NAMES.join(", "))))?;
    Ok(toml::Value::try_from(d).expect("defaults serialize"))
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

#[cfg(test)]
mod tests {
    //! Property tests (issue 13): whatever the TOML tree or `--set` string, loading a config
    //! returns a config that validates or a one-line error; it never panics or hangs. Cases:
    //! `PROPTEST_CASES` (proptest's default 256 in CI; docs/guide/reliability.md lists the local counts).
    use super::*;
    use proptest::prelude::*;

    /// Real keys (so that values reach the deserializer and the validators) and junk.
    const KEYS: &[&str] = &[
        "seed", "model", "name", "ghost_batch", "relu_noise", "data", "validation", "augment", "train_subset", "test_subset", "train", "epochs",
        "batch_size", "eval_batch_size", "log_every", "checkpoint_every", "halve_lr_at_loss", "stop_at_loss", "loss_window", "optimizer", "lr",
        "momentum", "weight_decay", "schedule", "kind", "milestones", "gamma", "t0", "t_mult", "eta_min", "warmup_epochs", "lr_scaling",
        "base_batch", "estimator", "a", "noise", "copies", "level", "alpha", "rho", "eta", "directions", "every", "subset", "lanczos_iter",
        "mode", "operator", "curvature", "track_every", "top_k", "max_iter", "tol", "eps", "slice_at", "phases", "zzz", "",
    ];

    fn scalar() -> impl Strategy<Value = toml::Value> {
        prop_oneof![
            any::<i64>().prop_map(toml::Value::Integer),
            (-3i64..200).prop_map(toml::Value::Integer),
            any::<f64>().prop_map(toml::Value::Float),
            prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-f64::INFINITY), Just(0.0), Just(1e-300), Just(1e300)].prop_map(toml::Value::Float),
            any::<bool>().prop_map(toml::Value::Boolean),
            "[a-z0-9-]{0,12}".prop_map(toml::Value::String),
            prop_oneof![Just("sgd"), Just("smoothout"), Just("det-smoothout"), Just("s-sgd"), Just("sam"), Just("cosine"), Just("step"), Just("ne-f1"), Just("hessian"), Just("nsgd")]
                .prop_map(|s| toml::Value::String(s.into())),
        ]
    }

    fn tree() -> impl Strategy<Value = toml::Value> {
        scalar().prop_recursive(3, 40, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
                prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..6)
                    .prop_map(|m| toml::Value::Table(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    fn check(r: Result<TrainConfig, CliError>) -> Result<(), TestCaseError> {
        match r {
            Ok(cfg) => {
                prop_assert!(cfg.validate().is_ok());
                // the schedules of every phase give finite rates, in bounded time
                if let Ok(phases) = basin_core::train::phases::resolve(&cfg) {
                    for p in &phases {
                        for t in [0.0, 0.5, 3.7, 1e3] {
                            prop_assert!(p.schedule.lr_at(p.lr, t).is_finite());
                        }
                    }
                }
            }
            Err(e) => {
                prop_assert_eq!(e.code, 2);
                prop_assert!(!e.message.contains('\n'), "multi-line error: {}", e.message);
            }
        }
        Ok(())
    }

    /// A key named by `--set` that the config never reads is refused at its default value too;
    /// the same key in a file (every run's config.toml holds every key) passes at its default.
    #[test]
    fn a_set_key_the_config_never_reads_is_refused_even_at_its_default() {
        let sgd = "optimizer.name=\"sgd\"".to_string();
        let e = load_text(None, &[sgd.clone(), "optimizer.momentum=0.9".into()]).unwrap_err();
        assert!(e.message.starts_with("--set optimizer.momentum: is set but not used"), "{}", e.message);
        let e = load_text(None, &[sgd.clone(), "schedule.gamma=0.1".into()]).unwrap_err();
        assert!(e.message.contains("schedule.gamma") && e.message.contains("not \"step\""), "{}", e.message);
        // read where the config names it: momentum under the default optimizer, gamma under step
        load_text(None, &["optimizer.momentum=0.9".into(), "schedule.kind=\"step\"".into(), "schedule.gamma=0.1".into()]).unwrap();
        let file = "[optimizer]\nname = \"sgd\"\nmomentum = 0.9\n";
        load_text(Some((file, Path::new("config.toml"))), &[]).unwrap();
        load_text(Some((file, Path::new("config.toml"))), &[sgd]).unwrap();
    }

    proptest! {
        #[test]
        fn random_toml_trees_load_or_fail_cleanly(t in prop::collection::btree_map(prop::sample::select(KEYS), tree(), 0..8)) {
            let table: toml::Table = t.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            // NaN and infinities are not TOML text everywhere; whatever serializes is tried
            if let Ok(text) = toml::to_string(&table) {
                check(load_text(Some((&text, Path::new("random.toml"))), &[]))?;
            }
        }

        #[test]
        fn random_set_strings_load_or_fail_cleanly(sets in prop::collection::vec((prop::collection::vec(prop::sample::select(KEYS), 1..4), "\\PC{0,16}"), 0..5)) {
            let sets: Vec<String> = sets.into_iter().map(|(k, v)| format!("{}={v}", k.join("."))).collect();
            check(load_text(None, &sets))?;
        }

        #[test]
        fn arbitrary_text_loads_or_fails_cleanly(text in "\\PC{0,200}") {
            check(load_text(Some((&text, Path::new("random.toml"))), &[]))?;
        }
    }
}
