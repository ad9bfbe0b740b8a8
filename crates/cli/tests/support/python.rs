//! Python packages from PyPI for the tests (moto's S3 server, deltalake and DuckDB as outside
//! readers), installed on first use under `target/test-tools/{name}`.

use std::path::PathBuf;
use std::process::Command;

/// The folder `packages` are importable from, installed there by pip the first time; `probe` is
/// a path inside it that exists once they are. Tests run as separate processes at once: one
/// installs while the others wait on a lock file.
pub fn site(name: &str, packages: &[&str], probe: &str) -> PathBuf {
    let tools = super::repository().join("target/test-tools");
    let site = tools.join(name);
    if site.join(probe).exists() {
        return site;
    }
    std::fs::create_dir_all(&tools).expect("create target/test-tools");
    let lock = std::fs::File::create(tools.join(format!("{name}.lock"))).expect("a lock file");
    lock.lock().expect("lock the install");
    if !site.join(probe).exists() {
        let _ = std::fs::remove_dir_all(&site);
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
            .args(packages)
            .output()
            .expect("python3 runs pip");
        assert!(
            install.status.success(),
            "pip install {packages:?}: {}",
            String::from_utf8_lossy(&install.stderr)
        );
    }
    assert!(site.join(probe).exists(), "{packages:?} are installed");
    site
}

/// Runs `script` with the packages of `site` importable; its standard output, after checking it
/// succeeded.
pub fn run(site: &std::path::Path, script: &str) -> String {
    let output = Command::new("python3")
        .env("PYTHONPATH", site)
        .args(["-c", script])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}
