//! The command line every example shares: its flags are checked against the ones it knows,
//! and anything else (an unknown flag, a value that does not parse) prints its usage and
//! exits 2, as a command of `basin` does, instead of panicking or being ignored. Each example
//! compiles this module on its own and uses part of it.
#![allow(dead_code)]

/// Prints `error: {msg}` and the example's `usage` to stderr and exits with status 2.
pub fn usage_error(usage: &str, msg: &str) -> ! {
    eprintln!("error: {msg}\nusage: {usage}");
    std::process::exit(2)
}

/// Whether `--quick` was given, the only flag of an example that takes `[-- --quick]`; any
/// other argument is a usage error.
pub fn quick_flag(usage: &str) -> bool {
    let mut quick = false;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--quick" => quick = true,
            "-h" | "--help" => {
                println!("usage: {usage}");
                std::process::exit(0)
            }
            other => usage_error(usage, &format!("unknown argument '{other}'")),
        }
    }
    quick
}
