//! The local files a report is written to before it is uploaded. Each is named after the process
//! that writes it, so a server killed mid-report leaves files the next start recognises as
//! abandoned and deletes; the spools of live processes (another server on this machine) stay.

use std::path::{Path, PathBuf};

const PREFIX: &str = "talkhouse-spool-";

/// A new spool file in `folder`, deleted when dropped.
pub fn create(folder: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{}-", std::process::id()))
        .tempfile_in(folder)
}

/// The folder spool files are written in.
pub fn folder() -> PathBuf {
    std::env::temp_dir()
}

/// Deletes the spool files in `folder` whose process has ended; returns how many.
pub fn delete_abandoned(folder: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    let mut deleted = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !is_running(pid) && std::fs::remove_file(entry.path()).is_ok() {
            deleted += 1;
        }
    }
    deleted
}

/// Whether a process `pid` runs on this machine; where that cannot be told, it is assumed to.
fn is_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_spools_of_ended_processes_are_deleted() {
        let folder = tempfile::tempdir().unwrap();
        let ours = create(folder.path()).unwrap();
        // No process has this id: Linux caps ids far below it.
        let abandoned = folder.path().join(format!("{PREFIX}4000000000-abc"));
        std::fs::write(&abandoned, b"half a report").unwrap();
        let unrelated = folder.path().join("other-file");
        std::fs::write(&unrelated, b"").unwrap();
        assert_eq!(delete_abandoned(folder.path()), 1);
        assert!(!abandoned.exists());
        assert!(ours.path().exists());
        assert!(unrelated.exists());
    }
}
