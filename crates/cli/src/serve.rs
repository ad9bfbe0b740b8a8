//! `talkhouse serve`: the gRPC server, until SIGINT or SIGTERM.

use std::sync::Arc;

use talkhouse_server::{Server, ServerConfig};
use talkhouse_storage::{DataLocation, EventTable};

use crate::args::ServeArgs;
use crate::{CliError, demo};

pub async fn run(data: &DataLocation, args: ServeArgs) -> Result<(), CliError> {
    let table = Arc::new(EventTable::open(data).await?);
    if !args.no_demo {
        demo::create_if_empty(&table).await?;
    }
    let mut config = ServerConfig::new(args.listen);
    config.services.limits.max_range_days = args.limits.max_range_days;
    config.services.limits.max_page_size = args.limits.max_page_size;
    config.services.limits.default_page_size = config
        .services
        .limits
        .default_page_size
        .min(args.limits.max_page_size);
    config.services.max_sample = args.limits.report_max_sample;
    let server = Server::bind(&config, table).await?;
    let address = server.local_addr()?;
    // Tests and scripts read this line to learn the port chosen for :0.
    println!("talkhouse listening on {address}");
    eprintln!("data: {}", data.root());
    server.serve(shutdown_signal()).await?;
    eprintln!("talkhouse stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
