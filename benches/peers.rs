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

/// Runs a Python script with DuckDB importable; returns the last non-empty line it printed. The
/// script goes through a file: a list of a snapshot's files exceeds the kernel's limit on one
/// command-line argument (128 KiB).
pub fn python(script: &str) -> Option<String> {
    let site = duckdb()?;
    let file = site
        .parent()?
        .join(format!("script-{}.py", std::process::id()));
    if let Err(error) = std::fs::write(&file, script) {
        eprintln!("duckdb: writing {}: {error}", file.display());
        return None;
    }
    let output = Command::new("python3")
        .env("PYTHONPATH", &site)
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    let output = match output {
        Ok(output) => output,
        Err(error) => {
            eprintln!("duckdb: starting python3: {error}");
            return None;
        }
    };
    if !output.status.success() {
        eprintln!("duckdb: {}", String::from_utf8_lossy(&output.stderr));
        return None;
    }
    let printed = String::from_utf8_lossy(&output.stdout)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string());
    if printed.is_none() {
        eprintln!("duckdb: the script printed nothing");
    }
    printed
}
