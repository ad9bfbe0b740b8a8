//! Progress bars on stderr, shown only when stderr is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

pub fn bar(length: u64, template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(length);
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

pub fn bytes(length: u64) -> ProgressBar {
    bar(
        length,
        "{msg:>12} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    )
}

pub fn items(length: u64, unit: &str) -> ProgressBar {
    bar(
        length,
        &format!("{{msg:>12}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{eta}})"),
    )
}
