//! `basin report` end to end, checked in a real headless browser (Debian's `chromium`, which
//! `.ci/run` installs): the page loads from a file with every outside request routed to a
//! proxy that this test holds and that must see no connection, and the DOM the browser built
//! holds every section and one `<svg>` per figure.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

fn basin(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_basin")).args(args).current_dir(cwd).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn ok(args: &[&str], cwd: &Path) {
    let (code, out, err) = basin(args, cwd);
    assert_eq!(code, 0, "basin {args:?}\n{out}\n{err}");
}

/// Two tiny runs on the bundled slice, the first with tracking, a spectrum, sharpness with
/// noise sensitivity and a 2-D surface written into its folder.
fn two_runs(dir: &Path) {
    ok(&["train", "--out", "a", "--set", "train.epochs=2", "--set", "data.train_subset=256", "--set", "data.test_subset=128", "--set", "train.log_every=2", "--set", "curvature.track_every=4"], dir);
    ok(&["train", "--out", "b", "--set", "train.epochs=2", "--set", "data.train_subset=256", "--set", "data.test_subset=128", "--set", "train.batch_size=128"], dir);
    ok(&["hessian", "--run", "a", "--top-k", "2", "--density", "--json", "a/hessian.json"], dir);
    ok(&["sharpness", "--run", "a", "--samples", "128", "--restarts", "1", "--max-evals", "3", "--noise", "0,0.01", "--json", "a/sharpness.json"], dir);
    ok(&["landscape", "surface", "--run", "a", "--dims", "2", "--points", "4", "--train-subset", "64", "--test-subset", "64", "--out", "a/surface"], dir);
}

const SECTIONS: &[&str] = &["summary", "training", "curvature", "sharpness", "landscapes", "config"];

fn browser() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"].iter().find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success())).map(|b| b.to_string())
}

/// Hosts Chromium itself calls in the background (clock, component updates, sign-in), which
/// no flag fully silences; a request to them does not come from the page.
const BROWSER_OWN: &[&str] = &["google.com", "googleapis.com", "gvt1.com", "gstatic.com"];

/// Loads `page` in headless Chromium with every request that is not a file routed to a
/// proxy held here; returns the DOM Chromium built and the first line of each request the
/// proxy saw, less Chromium's own background calls.
fn load(chromium: &str, page: &Path) -> (String, Vec<String>) {
    // the proxy answers every request with 502 at once, so nothing waits on it
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = proxy.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for mut s in proxy.incoming().flatten() {
            let mut buf = [0u8; 1024];
            s.set_read_timeout(Some(std::time::Duration::from_millis(500))).ok();
            let n = s.read(&mut buf).unwrap_or(0);
            let _ = s.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if tx.send(String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string()).is_err() {
                break;
            }
        }
    });
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.display());
    // coreutils' timeout bounds a browser that would hang
    let out = Command::new("timeout")
        .args([
            "120",
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-domain-reliability",
            "--no-pings",
            &format!("--proxy-server=http://127.0.0.1:{port}"),
            "--proxy-bypass-list=<-loopback>",
            &format!("--user-data-dir={}", profile.path().display()),
            "--virtual-time-budget=3000",
            "--dump-dom",
            &url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(300)) {
        let host = line.split_whitespace().nth(1).unwrap_or("").trim_start_matches("http://").split(['/', ':']).next().unwrap_or("").to_string();
        if !BROWSER_OWN.iter().any(|own| host == *own || host.ends_with(&format!(".{own}"))) {
            seen.push(line);
        }
    }
    (String::from_utf8_lossy(&out.stdout).into_owned(), seen)
}

#[test]
fn report_renders_offline_in_a_headless_browser() {
    let dir = tempfile::tempdir().unwrap();
    two_runs(dir.path());
    ok(&["report", "a", "b", "--out", "r.html"], dir.path());
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();

    // self-contained by construction: no script, no stylesheet link, no source attribute, no
    // URL but the SVG namespace
    for bad in ["<script", "<link", "src=", "url(", "@import", "https://"] {
        assert!(!html.contains(bad), "report contains {bad}");
    }
    assert_eq!(html.matches("http://").count(), html.matches("http://www.w3.org/2000/svg").count(), "a URL other than the SVG namespace");

    let Some(chromium) = browser() else {
        if std::env::var("BASIN_SKIP_BROWSER").is_ok() {
            eprintln!("BASIN_SKIP_BROWSER set: the browser half of this test is skipped");
            return;
        }
        panic!("no chromium: apt-get install chromium (bash .ci/run does), or set BASIN_SKIP_BROWSER=1 to skip the browser half");
    };
    let (dom, seen) = load(&chromium, &dir.path().join("r.html"));
    assert!(seen.is_empty(), "the page requested from outside: {seen:?}");

    // the same check catches a page that does fetch something
    std::fs::write(dir.path().join("probe.html"), "<!DOCTYPE html><html><body><img src=\"http://basin-report-probe.test/x.png\"></body></html>").unwrap();
    let (_, probe) = load(&chromium, &dir.path().join("probe.html"));
    assert!(probe.iter().any(|r| r.contains("basin-report-probe.test")), "the proxy did not see the probe's request: {probe:?}");

    for id in SECTIONS {
        assert!(dom.contains(&format!("<section id=\"{id}\">")), "section {id} missing from the DOM");
    }
    // one inline SVG per figure: training (loss by step, loss by epoch, test loss, test
    // accuracy, learning rate), curvature (tracked λ₁, density), noise sensitivity, surface
    let figures = dom.matches("<figure>").count();
    let svgs = dom.matches("<svg").count();
    assert_eq!(figures, 9, "figures in the DOM");
    assert_eq!(svgs, figures, "one <svg> per figure");
    for heading in ["Summary", "Training curves", "Tracked top eigenvalue of the Hessian", "Spectral density of the Hessian", "Noise sensitivity", "(log scale)"] {
        assert!(dom.contains(heading), "{heading} missing from the DOM");
    }
    // both runs in the summary table and the curves' legends
    assert!(dom.matches("<td>a</td>").count() >= 1 && dom.matches("<td>b</td>").count() >= 1);
}

#[test]
fn report_refuses_what_is_not_a_run_folder_and_keeps_an_existing_page() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let (code, _, err) = basin(&["report", "empty"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("empty") && err.contains("config.toml") && err.lines().count() == 1, "{err}");
    ok(&["train", "--out", "a", "--set", "train.epochs=1", "--set", "data.train_subset=128", "--set", "data.test_subset=64"], dir.path());
    std::fs::write(dir.path().join("r.html"), "mine").unwrap();
    let (code, _, err) = basin(&["report", "a", "--out", "r.html"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.path().join("r.html")).unwrap(), "mine");
    std::fs::write(dir.path().join("a/metrics.jsonl"), "{not json\n").unwrap();
    let (code, _, err) = basin(&["report", "a", "--out", "s.html"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("metrics.jsonl line 1"), "{err}");
    assert!(!dir.path().join("s.html").exists());
}
