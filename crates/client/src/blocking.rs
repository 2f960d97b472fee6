//! The blocking client: the async client driven by a thread that owns its
//! own single-threaded Tokio runtime.
//!
//! Blocking clients built on a runtime inside the caller's thread (like
//! `reqwest::blocking` or the `prometheus` crate's push) panic when called
//! from async code. Here the caller only waits on a channel, so a call
//! works the same from `main`, from a plain thread and from inside any
//! Tokio runtime (it blocks that runtime's thread while it waits, as any
//! blocking call does).

use std::sync::mpsc;

use tokio::sync::mpsc as tokio_mpsc;

use crate::transport::BoxFuture;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::{Client, ClientBuilder, DeleteMode, Error, Gauges, GroupStatus, GroupingKey, Payload};

type Job = Box<dyn FnOnce(Client) -> BoxFuture<'static, ()> + Send>;

/// A Pushgateway client whose methods block until the gateway answers.
///
/// Built with [`ClientBuilder::build_blocking`](crate::ClientBuilder::build_blocking)
/// or [`BlockingClient::new`]; the methods mirror [`Client`]'s. Clones share
/// the worker thread, which ends when the last clone is dropped.
///
/// ```
/// # let gateway = pushgateway_client::__doctest::FakeGateway::start();
/// # let url = gateway.url();
/// use pushgateway_client::{BlockingClient, GroupingKey, Payload};
///
/// let client = BlockingClient::new(url)?;
/// client.push_add(&GroupingKey::new("cron"), &Payload::text("runs 1\n"))?;
///
/// // Also fine from async code, where reqwest::blocking would panic.
/// tokio::runtime::Runtime::new()?.block_on(async {
///     client.delete(&GroupingKey::new("cron"))
/// })?;
/// # assert_eq!(gateway.requests().len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct BlockingClient {
    jobs: tokio_mpsc::UnboundedSender<Job>,
    client: Client,
}

impl ClientBuilder {
    /// Builds a [`BlockingClient`], which runs requests on a thread of its
    /// own and so works inside and outside a Tokio runtime.
    pub fn build_blocking(self) -> Result<BlockingClient, Error> {
        BlockingClient::start(self.build()?)
    }
}

impl BlockingClient {
    /// A blocking client for `gateway` with default settings (see
    /// [`Client::new`]).
    pub fn new(gateway: impl Into<String>) -> Result<BlockingClient, Error> {
        Client::builder(gateway).build_blocking()
    }

    fn start(client: Client) -> Result<BlockingClient, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the blocking client's runtime", e))?;
        let (jobs, mut queue) = tokio_mpsc::unbounded_channel::<Job>();
        let worker_client = client.clone();
        std::thread::Builder::new()
            .name("pushgateway-client".into())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = queue.recv().await {
                        tokio::spawn(job(worker_client.clone()));
                    }
                });
            })
            .map_err(|e| Error::io("starting the blocking client's thread", e))?;
        Ok(BlockingClient { jobs, client })
    }

    /// The gateway's base URL (see [`Client::gateway`]).
    pub fn gateway(&self) -> &str {
        self.client.gateway()
    }

    /// `PUT`: replaces the group (see [`Client::push`]).
    pub fn push(&self, key: &GroupingKey, payload: &Payload) -> Result<(), Error> {
        let (key, payload) = (key.clone(), payload.clone());
        self.run(move |c| Box::pin(async move { c.push(&key, &payload).await }))
    }

    /// `POST`: replaces the pushed names (see [`Client::push_add`]).
    pub fn push_add(&self, key: &GroupingKey, payload: &Payload) -> Result<(), Error> {
        let (key, payload) = (key.clone(), payload.clone());
        self.run(move |c| Box::pin(async move { c.push_add(&key, &payload).await }))
    }

    /// `DELETE`: removes the group (see [`Client::delete`]).
    pub fn delete(&self, key: &GroupingKey) -> Result<(), Error> {
        let key = key.clone();
        self.run(move |c| Box::pin(async move { c.delete(&key).await }))
    }

    /// One `PUT` per gauge group (see [`Client::push_gauges`]).
    pub fn push_gauges(&self, key: &GroupingKey, gauges: &Gauges) -> Result<usize, Error> {
        let (key, gauges) = (key.clone(), gauges.clone());
        self.run(move |c| Box::pin(async move { c.push_gauges(&key, &gauges).await }))
    }

    /// One `POST` per gauge group (see [`Client::push_add_gauges`]).
    pub fn push_add_gauges(&self, key: &GroupingKey, gauges: &Gauges) -> Result<usize, Error> {
        let (key, gauges) = (key.clone(), gauges.clone());
        self.run(move |c| Box::pin(async move { c.push_add_gauges(&key, &gauges).await }))
    }

    /// The groups on the gateway (see [`Client::groups`]).
    pub fn groups(&self) -> Result<Vec<GroupStatus>, Error> {
        self.run(|c| Box::pin(async move { c.groups().await }))
    }

    /// The groups `selectors` select (see [`Client::groups_matching`]).
    pub fn groups_matching<S: AsRef<str>>(
        &self,
        selectors: &[S],
    ) -> Result<Vec<GroupStatus>, Error> {
        let selectors: Vec<String> = selectors.iter().map(|s| s.as_ref().to_owned()).collect();
        self.run(move |c| Box::pin(async move { c.groups_matching(&selectors).await }))
    }

    /// Deletes the groups `selectors` select (see [`Client::delete_matching`]).
    pub fn delete_matching<S: AsRef<str>>(
        &self,
        selectors: &[S],
        older_than: Option<Duration>,
        mode: DeleteMode,
    ) -> Result<Vec<BTreeMap<String, String>>, Error> {
        let selectors: Vec<String> = selectors.iter().map(|s| s.as_ref().to_owned()).collect();
        self.run(move |c| {
            Box::pin(async move { c.delete_matching(&selectors, older_than, mode).await })
        })
    }

    /// Deletes every group (see [`Client::wipe`]).
    pub fn wipe(&self) -> Result<(), Error> {
        self.run(|c| Box::pin(async move { c.wipe().await }))
    }

    /// Runs `call` on the worker thread and waits for its result.
    fn run<T, F>(&self, call: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(Client) -> BoxFuture<'static, Result<T, Error>> + Send + 'static,
    {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            Box::pin(async move {
                let _ = reply.send(call(client).await);
            })
        });
        let stopped = || Error::Transport("the blocking client's worker thread has stopped".into());
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}
