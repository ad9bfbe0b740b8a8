//! A real S3-compatible server for the tests: moto's server mode, from PyPI (installed on first
//! use, see [`super::python`]), started per test on a free loopback port.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bucket every test writes under, each below a prefix of its own.
pub const BUCKET: &str = "talkhouse-test";

/// A running moto server with [`BUCKET`] created; stopped when dropped.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
    /// Where moto's recorder writes the requests it gets, one JSON line each.
    recording: PathBuf,
}

impl S3Server {
    pub fn start() -> Self {
        let site = moto_site();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let recording = std::env::temp_dir().join(format!("moto-recording-{port}.jsonl"));
        let child = Command::new("python3")
            .env("PYTHONPATH", &site)
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .arg(site.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts moto_server");
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            recording,
        };
        server.wait_until_listening(port);
        server.request(&format!("PUT /{BUCKET} HTTP/1.1"));
        server
    }

    /// The variables that point the `talkhouse` binary (or any AWS tool) at this server.
    pub fn environment(&self) -> [(&'static str, String); 5] {
        [
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// Starts recording the requests the server gets, forgetting those recorded before.
    pub fn record_requests(&self) {
        self.request("POST /moto-api/recorder/reset-recording HTTP/1.1");
        self.request("POST /moto-api/recorder/start-recording HTTP/1.1");
    }

    /// The method and URL of each request recorded since [`Self::record_requests`].
    pub fn recorded_requests(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|entry| {
                let text = |key: &str| entry[key].as_str().unwrap_or_default().to_string();
                (text("method"), text("url"))
            })
            .collect()
    }

    fn wait_until_listening(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends one request without a body (moto needs no signature) and checks it succeeded.
    fn request(&self, request_line: &str) {
        use std::io::{Read, Write};
        let host = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).expect("connect to moto");
        write!(
            stream,
            "{request_line}\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "{request_line}: {response}"
        );
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.recording);
    }
}

/// The folder moto is importable from.
fn moto_site() -> PathBuf {
    super::python::site("moto")
}
