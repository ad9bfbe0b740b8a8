//! The peers the benchmarks measure in the same run: DuckDB from PyPI, installed once under
//! `target/bench-peers`.

use std::path::PathBuf;
use std::process::Command;

/// The folder DuckDB's Python package is installed in, installing it the first time.
pub fn duckdb() -> Option<PathBuf> {
    let site = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-peers/python");
    if !site.join("duckdb").exists() {
        let install = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("--target")
            .arg(&site)
            .arg("duckdb")
            .output()
            .ok()?;
        if !install.status.success() {
            eprintln!(
                "pip install duckdb: {}",
                String::from_utf8_lossy(&install.stderr)
            );
            return None;
        }
    }
    Some(site)
}

/// Runs a Python script with DuckDB importable; returns the last non-empty line it printed.
pub fn python(script: &str) -> Option<String> {
    let site = duckdb()?;
    let output = Command::new("python3")
        .env("PYTHONPATH", &site)
        .args(["-c", script])
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!("duckdb: {}", String::from_utf8_lossy(&output.stderr));
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
}
