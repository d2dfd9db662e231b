//! Application state shared by all handlers: settings, the database pool, translations and
//! the clock. No global singletons: tests build their own.

use std::sync::Arc;

use actix_web::web;
use shared::db::{DbConnection, DbPool};
use shared::settings::Settings;

use crate::i18n::Messages;
use crate::web::error::WebError;

/// The time source, so tests can move time (session expiry, TOTP windows).
pub trait Clock: Send + Sync {
    fn now(&self) -> chrono::NaiveDateTime;
    fn unix(&self) -> u64 {
        self.now().and_utc().timestamp().max(0) as u64
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> chrono::NaiveDateTime {
        shared::db::now()
    }
}

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub pool: DbPool,
    /// The ingest pipeline (blob store + index) shared by the DICOM listener, STOW-RS and
    /// uploads.
    pub ingestor: Arc<radvision::ingest::pipeline::Ingestor>,
    pub messages: Arc<Messages>,
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    pub fn new(settings: Settings, pool: DbPool) -> Result<Self, shared::Error> {
        let store = radvision::store::factory::from_settings(&settings.storage)
            .map_err(|e| shared::Error::Config(format!("storage: {e}")))?;
        let ingestor = match (&settings.ingest.journal, &settings.ingest.journal_dir) {
            (true, Some(dir)) => radvision::ingest::pipeline::Ingestor::journaled(
                pool.clone(),
                store,
                &settings.ingest,
                dir,
            )
            .map_err(|e| shared::Error::Config(format!("ingest journal: {e}")))?,
            _ => radvision::ingest::pipeline::Ingestor::new(pool.clone(), store, &settings.ingest),
        };
        let ingestor = Arc::new(ingestor);
        Ok(AppState {
            settings: Arc::new(settings),
            pool,
            ingestor,
            messages: Arc::new(Messages::load()?),
            clock: Arc::new(SystemClock),
        })
    }

    /// Runs blocking database work on the blocking thread pool with a pooled connection.
    pub async fn db<T, F>(&self, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, shared::Error> + Send + 'static,
    {
        let pool = self.pool.clone();
        let r = web::block(move || {
            let mut conn = pool.get().map_err(shared::Error::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| WebError::Internal(format!("blocking task: {e}")))?;
        r.map_err(WebError::from)
    }

    pub fn timeouts(&self) -> shared::auth::sessions::Timeouts {
        shared::auth::sessions::Timeouts {
            idle: chrono::Duration::minutes(i64::from(self.settings.auth.idle_timeout_minutes)),
            absolute: chrono::Duration::hours(i64::from(self.settings.auth.absolute_timeout_hours)),
        }
    }
}
