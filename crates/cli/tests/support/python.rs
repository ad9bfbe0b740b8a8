//! Python packages from PyPI for the tests (moto's S3 server, deltalake and DuckDB as outside
//! readers), pinned in `tests/tools/{name}.txt` and installed under `target/test-tools/{name}`.

use std::path::PathBuf;
use std::process::Command;

/// The folder the packages pinned in `tests/tools/{name}.txt` are importable from. `.ci/run`
/// installs them there first; a test run on its own installs them on first use, with the same
/// rule: the folder is current when its `.installed` file holds the requirements it was made
/// from. Tests run as separate processes at once: one installs while the others wait on a lock.
pub fn site(name: &str) -> PathBuf {
    let requirements = super::repository().join(format!("tests/tools/{name}.txt"));
    let wanted = std::fs::read_to_string(&requirements).expect("the tool's requirements");
    let tools = super::repository().join("target/test-tools");
    let site = tools.join(name);
    let current = || {
        std::fs::read_to_string(site.join(".installed"))
            .ok()
            .as_ref()
            == Some(&wanted)
    };
    if current() {
        return site;
    }
    std::fs::create_dir_all(&tools).expect("create target/test-tools");
    let lock = std::fs::File::create(tools.join(format!("{name}.lock"))).expect("a lock file");
    lock.lock().expect("lock the install");
    if !current() {
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
            .arg("-r")
            .arg(&requirements)
            .output()
            .expect("python3 runs pip");
        assert!(
            install.status.success(),
            "pip install -r {}: {}",
            requirements.display(),
            String::from_utf8_lossy(&install.stderr)
        );
        std::fs::write(site.join(".installed"), &wanted).expect("mark the install");
    }
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
