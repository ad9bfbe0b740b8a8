fn main() -> std::process::ExitCode {
    talkhouse_cli::run()
}
