//! What every handler shares: the configuration, the web config (TLS,
//! users), the authenticator, the store, the gateway's own metrics, and the
//! quit signal.

use std::sync::Arc;

use store::{Persistence, PushTime, Store, StoreOptions};
use tokio::sync::watch;

use crate::auth::BasicAuth;
use crate::authorization::{AuthConfigError, AuthConfigHandle};
use crate::flags::Config;
use crate::inflight::InflightBudget;
use crate::own::OwnMetrics;
use crate::webconfig::{WebConfigError, WebConfigHandle};

struct Inner {
    config: Config,
    web: Option<Arc<WebConfigHandle>>,
    policy: Option<Arc<AuthConfigHandle>>,
    auth: BasicAuth,
    store: Arc<Store>,
    persistence: Option<Arc<Persistence>>,
    own: OwnMetrics,
    inflight: Arc<InflightBudget>,
    started: PushTime,
    shutdown: watch::Sender<bool>,
}

/// Why the gateway cannot start with its configuration files.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// `--web.config.file` is invalid.
    #[error("invalid --web.config.file: {0}")]
    Web(#[from] WebConfigError),
    /// `--web.auth-config` is invalid.
    #[error("invalid --web.auth-config: {0}")]
    Auth(#[from] AuthConfigError),
}

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl AppState {
    /// State for a configuration, with a fresh in-memory store. Fails when
    /// `--web.config.file` or `--web.auth-config` names an invalid file.
    pub fn new(config: Config) -> Result<AppState, ConfigFileError> {
        let store = Arc::new(Store::new(store_options(&config)));
        AppState::with_store(config, store)
    }

    /// State around a store restored from `--persistence.file`, whose
    /// health the gateway reports.
    pub fn with_persistence(
        config: Config,
        persistence: Arc<Persistence>,
    ) -> Result<AppState, ConfigFileError> {
        AppState::build(config, persistence.store(), Some(persistence))
    }

    /// State around an existing store.
    pub fn with_store(config: Config, store: Arc<Store>) -> Result<AppState, ConfigFileError> {
        AppState::build(config, store, None)
    }

    fn build(
        config: Config,
        store: Arc<Store>,
        persistence: Option<Arc<Persistence>>,
    ) -> Result<AppState, ConfigFileError> {
        let web = if config.web_config_file.is_empty() {
            None
        } else {
            Some(Arc::new(WebConfigHandle::open(&config.web_config_file)?))
        };
        let policy = if config.auth_config_file.is_empty() {
            None
        } else {
            let users = match &web {
                Some(web) => web.current().ok(),
                None => None,
            };
            let users = users.as_ref().map(|active| &active.config.basic_auth_users);
            Some(Arc::new(AuthConfigHandle::open(
                &config.auth_config_file,
                users,
            )?))
        };
        let (shutdown, _) = watch::channel(false);
        Ok(AppState {
            inner: Arc::new(Inner {
                inflight: InflightBudget::new(config.limits.max_inflight_size),
                config,
                web,
                policy,
                auth: BasicAuth::new(),
                store,
                persistence,
                own: OwnMetrics::new(),
                started: PushTime::now(),
                shutdown,
            }),
        })
    }

    /// The TLS configuration to accept connections with, if the web config
    /// turns TLS on (decided at start, as exporter-toolkit does; the
    /// certificate itself follows the file).
    pub fn tls(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.inner.web.as_ref()?.current().ok()?.tls.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// A handle on the store that outlives the state.
    pub fn store_handle(&self) -> Arc<Store> {
        self.inner.store.clone()
    }

    /// How persistence is doing, when `--persistence.file` is set.
    pub(crate) fn persistence_health(&self) -> Option<crate::own::PersistenceHealth> {
        let p = self.inner.persistence.as_deref()?;
        Some(crate::own::PersistenceHealth {
            failures: p.failures(),
            refusing: p.refusing().is_some(),
        })
    }

    /// The web config, when `--web.config.file` is set.
    pub(crate) fn web(&self) -> Option<&WebConfigHandle> {
        self.inner.web.as_deref()
    }

    /// The authorization policy, when `--web.auth-config` is set.
    pub(crate) fn policy(&self) -> Option<&AuthConfigHandle> {
        self.inner.policy.as_deref()
    }

    /// The basic-auth checker.
    pub(crate) fn auth(&self) -> &BasicAuth {
        &self.inner.auth
    }

    pub(crate) fn own(&self) -> &OwnMetrics {
        &self.inner.own
    }

    pub(crate) fn started(&self) -> PushTime {
        self.inner.started
    }

    /// Asks the server to stop (`/-/quit`).
    pub(crate) fn request_quit(&self) {
        // Nobody listening means the server is stopping anyway.
        let _ = self.inner.shutdown.send(true);
    }

    /// Groups expired so far, once TTLs are in use (configured, or asked
    /// for by a push); `None` before, so that `/metrics` is unchanged.
    pub(crate) fn expired_groups(&self) -> Option<u64> {
        let store = self.store();
        (self.config().ttl.configured() || store.lifetimes_used()).then(|| store.expired_count())
    }

    /// The memory budget of requests in flight.
    pub(crate) fn inflight(&self) -> &Arc<InflightBudget> {
        &self.inner.inflight
    }

    /// Resolves when `/-/quit` asked the gateway to stop.
    pub fn quit_requested(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }
}

/// The store options a configuration implies.
pub fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        consistency: config.consistency,
        names: config.names,
        own_families: crate::own::own_family_types(config),
        max_groups: config.limits.max_groups,
        default_lifetime: config.ttl.default_lifetime(),
    }
}
