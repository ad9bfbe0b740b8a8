//! The real server on 127.0.0.1:0 inside the benchmark's process, so its memory is the process's.

use std::sync::Arc;

use talkhouse_server::{Server, ServerConfig};
use talkhouse_storage::EventTable;
use tonic::transport::Channel;

/// A running server and a channel to it.
pub struct InProcess {
    pub channel: Channel,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), talkhouse_server::ServeError>>,
}

/// Binds `config`'s server to 127.0.0.1:0 over `table` and connects to it.
pub async fn start(config: &ServerConfig, table: Arc<EventTable>) -> InProcess {
    let server = Server::bind(config, table).await.unwrap();
    let address = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    InProcess {
        channel,
        stop,
        serving,
    }
}

impl InProcess {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.serving.await;
    }
}
