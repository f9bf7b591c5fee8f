//! A grid of independent evaluations split across processes (issue 24, `basin landscape
//! surface --shard I/N`): shard I of N owns a contiguous block of the points and writes each
//! point, as soon as it is computed, as one JSON line of `DIR/shard-I-of-N.jsonl` after a
//! header line that names the grid. Run again, a shard skips the points its file holds (as
//! loss-landscape's MPI scheduler skips computed points), so a killed or requeued task loses at
//! most the point it was computing; a torn last line is cut off. Once every shard is complete,
//! [`merge`] reads them back in grid order — the same values, so the merged outputs are the
//! unsharded ones bit for bit (JSON numbers are written with the shortest form that reads back
//! to the same f64).

use crate::CliError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Parses `I/N` (`--shard 3/8`): shard I of N, 0 ≤ I < N.
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or_else(|| format!("'{s}' is not I/N"))?;
    let (i, n) = (i.trim().parse::<usize>().map_err(|_| format!("'{s}': I is not a number"))?, n.trim().parse::<usize>().map_err(|_| format!("'{s}': N is not a number"))?);
    if n == 0 || i >= n {
        return Err(format!("'{s}': needs 0 ≤ I < N"));
    }
    Ok((i, n))
}

/// The points of shard `i` of `n` in a grid of `total`: a contiguous block, sizes differing by
/// at most one.
pub fn share(total: usize, i: usize, n: usize) -> std::ops::Range<usize> {
    (i * total / n)..((i + 1) * total / n)
}

/// Shard `i` of `n`'s file in `dir`.
pub fn path(dir: &Path, i: usize, n: usize) -> PathBuf {
    dir.join(format!("shard-{i}-of-{n}.jsonl"))
}

#[derive(Serialize, serde::Deserialize)]
struct Line<T> {
    i: usize,
    point: T,
}

/// Reads the points a shard file holds, checking its header against `header` (a file of
/// another grid is an error naming it). A last line without its newline (the process was
/// killed while writing it) is dropped, and cut off the file when `repair`.
fn read<T: DeserializeOwned>(file: &Path, header: &serde_json::Value, repair: bool) -> Result<BTreeMap<usize, T>, CliError> {
    let text = std::fs::read_to_string(file).map_err(|e| CliError::input(format!("{}: {e}", file.display())))?;
    let complete = match text.rfind('\n') {
        Some(k) => &text[..=k],
        None => "",
    };
    if repair && complete.len() < text.len() {
        let f = std::fs::OpenOptions::new().write(true).open(file).map_err(|e| CliError::input(format!("{}: {e}", file.display())))?;
        f.set_len(complete.len() as u64).map_err(|e| CliError::input(format!("{}: {e}", file.display())))?;
    }
    let mut lines = complete.lines();
    let bad = |what: &str| CliError::input(format!("{}: {what}", file.display()));
    let head: serde_json::Value = match lines.next() {
        Some(l) => serde_json::from_str(l).map_err(|e| bad(&format!("header: {e}")))?,
        None => return Ok(BTreeMap::new()),
    };
    if &head != header {
        return Err(bad("holds another grid (its header line differs from this command's); delete it or choose another --out"));
    }
    let mut points = BTreeMap::new();
    for (k, l) in lines.enumerate() {
        let line: Line<T> = serde_json::from_str(l).map_err(|e| bad(&format!("line {}: {e}", k + 2)))?;
        points.insert(line.i, line.point);
    }
    Ok(points)
}

/// One shard's file, open for appending points.
pub struct ShardWriter {
    file: std::fs::File,
}

impl ShardWriter {
    /// Opens shard `i` of `n` in `dir` (creating it with `header`, or resuming it), and returns
    /// the points it already holds.
    pub fn open<T: DeserializeOwned>(dir: &Path, i: usize, n: usize, header: &serde_json::Value) -> Result<(ShardWriter, BTreeMap<usize, T>), CliError> {
        std::fs::create_dir_all(dir).map_err(|e| CliError::input(format!("{}: {e}", dir.display())))?;
        let p = path(dir, i, n);
        let done = if p.is_file() { read(&p, header, true)? } else { BTreeMap::new() };
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&p).map_err(|e| CliError::input(format!("{}: {e}", p.display())))?;
        if file.metadata().map(|m| m.len() == 0).unwrap_or(true) {
            writeln!(file, "{header}").map_err(|e| CliError::run(format!("{}: {e}", p.display())))?;
        }
        Ok((ShardWriter { file }, done))
    }

    /// Appends point `i` as one line and puts it on disk before returning.
    pub fn append<T: Serialize>(&mut self, i: usize, point: &T) -> Result<(), CliError> {
        let mut line = serde_json::to_string(&Line { i, point }).expect("serializes");
        line.push('\n');
        self.file.write_all(line.as_bytes()).and_then(|_| self.file.sync_data()).map_err(|e| CliError::run(format!("shard file: {e}")))
    }
}

/// The whole grid of `total` points from the `n` shard files in `dir`, in grid order; an error
/// naming the first shard that is missing or incomplete.
pub fn merge<T: DeserializeOwned>(dir: &Path, n: usize, total: usize, header: &serde_json::Value) -> Result<Vec<T>, CliError> {
    let mut all = Vec::with_capacity(total);
    for i in 0..n {
        let p = path(dir, i, n);
        if !p.is_file() {
            return Err(CliError::input(format!("{}: missing; run shard {i}/{n} first", p.display())));
        }
        let mut points = read::<T>(&p, header, false)?;
        let want = share(total, i, n);
        let have = want.clone().filter(|k| points.contains_key(k)).count();
        if have < want.len() {
            return Err(CliError::input(format!("{}: {have} of its {} points; run shard {i}/{n} again to finish it", p.display(), want.len())));
        }
        all.extend(want.map(|k| points.remove(&k).expect("checked")));
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_grid_once_in_order() {
        for (total, n) in [(2601, 4), (10, 3), (3, 3), (5, 1)] {
            let all: Vec<usize> = (0..n).flat_map(|i| share(total, i, n)).collect();
            assert_eq!(all, (0..total).collect::<Vec<_>>());
        }
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        assert!(parse_shard("4/4").is_err() && parse_shard("1/0").is_err() && parse_shard("x/2").is_err() && parse_shard("3").is_err());
    }

    #[test]
    fn a_resumed_shard_keeps_its_points_and_drops_a_torn_line() {
        let d = tempfile::tempdir().unwrap();
        let h = serde_json::json!({ "grid": 1 });
        let (mut w, done) = ShardWriter::open::<f64>(d.path(), 1, 2, &h).unwrap();
        assert!(done.is_empty());
        w.append(4, &0.1f64).unwrap();
        w.append(5, &0.437_940_686_941_146_85_f64).unwrap();
        drop(w);
        let p = path(d.path(), 1, 2);
        std::fs::OpenOptions::new().append(true).open(&p).unwrap().write_all(b"{\"i\":6,\"po").unwrap();
        let (mut w, done) = ShardWriter::open::<f64>(d.path(), 1, 2, &h).unwrap();
        assert_eq!(done.keys().copied().collect::<Vec<_>>(), vec![4, 5]);
        // serde_json reads this one back 1 ulp off without its float_roundtrip feature
        assert_eq!(done[&5].to_bits(), 0.437_940_686_941_146_85_f64.to_bits(), "bit for bit through JSON");
        w.append(6, &2.0f64).unwrap();
        w.append(7, &2.5f64).unwrap();
        assert!(merge::<f64>(d.path(), 2, 8, &h).unwrap_err().message.contains("shard-0-of-2.jsonl: missing"));
        let (mut w0, _) = ShardWriter::open::<f64>(d.path(), 0, 2, &h).unwrap();
        for k in 0..3 {
            w0.append(k, &(k as f64)).unwrap();
        }
        assert!(merge::<f64>(d.path(), 2, 8, &h).unwrap_err().message.contains("3 of its 4 points"));
        w0.append(3, &3.0f64).unwrap();
        assert_eq!(merge::<f64>(d.path(), 2, 8, &h).unwrap(), vec![0.0, 1.0, 2.0, 3.0, 0.1, 0.437_940_686_941_146_85, 2.0, 2.5]);
        let other = serde_json::json!({ "grid": 2 });
        assert!(ShardWriter::open::<f64>(d.path(), 0, 2, &other).err().unwrap().message.contains("another grid"));
    }
}
