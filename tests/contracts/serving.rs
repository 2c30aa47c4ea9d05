//! angzarr-local served on a loopback port, as every system of the
//! contracts runs it: started, stopped and restarted the same way.

use std::sync::Arc;

use angzarr_client::{DomainClient, ListenAddress};
use angzarr_local::{Coordinator, LocalCoordinator};
use tokio::sync::watch;

/// A future that ends when `stopped` is sent to (or dropped).
pub fn signal(
    stopped: &watch::Sender<()>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut stopped = stopped.subscribe();
    async move {
        let _ = stopped.changed().await;
    }
}

/// angzarr-local serving, with a client connected to it.
pub struct Serving {
    pub client: DomainClient,
    pub coordinator: Arc<Coordinator>,
    stop: watch::Sender<()>,
}

impl Serving {
    /// Serves `local` on a free loopback port and connects to it.
    pub async fn start(local: LocalCoordinator) -> Serving {
        let coordinator = Arc::clone(local.coordinator());
        let (stop, _) = watch::channel(());
        let bound = local
            .bind(ListenAddress::loopback(0), signal(&stop))
            .await
            .expect("angzarr-local binds");
        let address = bound.local_address().to_string();
        tokio::spawn(bound.serve());
        let client = DomainClient::connect(&address).await.expect("connects");
        Serving {
            client,
            coordinator,
            stop,
        }
    }

    /// Stops delivery and the server (delivery keeps its positions).
    pub fn stop(&self) {
        self.coordinator.stop_delivery();
        let _ = self.stop.send(());
    }

    /// Waits until every consumer has processed every book written so far.
    pub async fn settled(&self) {
        tokio::time::timeout(crate::bank::PATIENCE, self.coordinator.settled())
            .await
            .expect("delivery settles")
            .expect("the store answers");
    }
}
