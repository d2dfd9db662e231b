//! `portal`: the Enkaku web application (sign-in, membership administration, audit) and the
//! `enkaku` binary. Its screens and APIs call `radvision` for images.
//!
//! `build` is what `main` and the integration tests both call.

pub mod api;
pub mod cli;
pub mod cli_admin;
pub mod demo;
pub mod i18n;
pub mod state;
pub mod telemetry;
pub mod web;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, Logger};
use actix_web::{web as aweb, App, HttpServer};
use shared::settings::Settings;

use crate::state::AppState;

/// A built, not yet running, platform: the HTTP server, the DICOM listener and the outbox
/// worker.
pub struct Application {
    pub server: Server,
    pub port: u16,
    pub dicom_port: u16,
    pub state: AppState,
    dicom: TcpListener,
}

impl Application {
    /// Sweeps the blob store (temporary files and orphans of a crash), starts the DICOM
    /// listener and the outbox worker, and serves HTTP until the server stops (then stops
    /// the worker gracefully).
    pub async fn run(self) -> std::io::Result<()> {
        // Instances acknowledged before a crash may live only in the ingest journal: without
        // replaying it the index could name blobs nobody can read, so do not start.
        if let Err(e) = self.state.ingestor.recover_journal().await {
            tracing::error!(error = %e, "could not replay the ingest journal; not starting");
            return Err(std::io::Error::other(format!("ingest journal: {e}")));
        }
        match self.state.ingestor.sweep_store().await {
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "start-up sweep failed"),
        }
        self.dicom.set_nonblocking(true)?;
        let ctx = std::sync::Arc::new(radvision::ingest::scp::ScpContext {
            ingestor: self.state.ingestor.clone(),
            pool: self.state.pool.clone(),
            ae_title: self.state.settings.dicom.ae_title.clone(),
            max_associations: self.state.settings.ingest.max_associations,
        });
        // The DICOM listener runs on its own multi-threaded runtime, apart from the HTTP
        // workers, so that associations use every core.
        let runtime = RuntimeGuard(Some(
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("enkaku-dicom")
                .enable_all()
                .build()?,
        ));
        let dicom = self.dicom;
        let scp = runtime.handle()?.spawn(async move {
            match tokio::net::TcpListener::from_std(dicom) {
                Ok(listener) => radvision::ingest::scp::serve(listener, ctx).await,
                Err(e) => tracing::error!(error = %e, "DICOM listener could not start"),
            }
        });
        tracing::info!(
            port = self.dicom_port,
            "DICOM listener (C-STORE, C-ECHO) started"
        );
        // The outbox worker (sends to workstations) runs beside the listener; at shutdown
        // it hands back a job in progress between two instances.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let worker = if self.state.settings.worker.enabled {
            let w = radvision::worker::Worker::new(
                self.state.pool.clone(),
                &self.state.settings.worker,
            )
            .with_handler(std::sync::Arc::new(radvision::send::SendHandler::new(
                self.state.pool.clone(),
                self.state.ingestor.store().clone(),
                &self.state.settings,
            )));
            Some(runtime.handle()?.spawn(w.run(stopped)))
        } else {
            None
        };
        let r = self.server.await;
        let _ = stop.send(true);
        if let Some(w) = worker {
            let abort = w.abort_handle();
            if tokio::time::timeout(WORKER_SHUTDOWN, w).await.is_err() {
                tracing::warn!("outbox worker did not stop in time; its job will be retried");
                abort.abort();
            }
        }
        scp.abort();
        // Copy what the ingest journal still holds into the blob store (what is left is
        // replayed at the next start, so this only saves that work).
        if let Some(j) = self.state.ingestor.journal().cloned() {
            let copied = tokio::task::spawn_blocking(move || j.drain(JOURNAL_SHUTDOWN)).await;
            if !matches!(copied, Ok(true)) {
                tracing::warn!("ingest journal not fully copied at shutdown; replayed at start-up");
            }
        }
        drop(runtime);
        r
    }
}

/// How long `run` spends at shutdown copying the ingest journal into the blob store.
const JOURNAL_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(20);

/// How long `run` waits at shutdown for the outbox worker to hand back its job.
const WORKER_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(15);

/// Shuts a runtime down without blocking, also when dropped inside another runtime (as when
/// a test's server future is dropped).
struct RuntimeGuard(Option<tokio::runtime::Runtime>);

impl RuntimeGuard {
    fn handle(&self) -> std::io::Result<tokio::runtime::Handle> {
        self.0
            .as_ref()
            .map(|r| r.handle().clone())
            .ok_or_else(|| std::io::Error::other("runtime gone"))
    }
}

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Connects the database, runs pending migrations, binds the HTTP listener and builds the
/// server.
pub fn build(settings: Settings) -> Result<Application, shared::Error> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
        shared::Error::Config(format!("data_dir {}: {e}", settings.data_dir.display()))
    })?;
    let pool = shared::db::pool(settings.database.url.expose(), settings.database.pool_size)?;
    {
        let mut conn = pool.get()?;
        shared::db::migrate(&mut conn)?;
    }
    let listener = TcpListener::bind(&settings.http.bind)
        .map_err(|e| shared::Error::Config(format!("http.bind {}: {e}", settings.http.bind)))?;
    let dicom = TcpListener::bind(&settings.dicom.bind)
        .map_err(|e| shared::Error::Config(format!("dicom.bind {}: {e}", settings.dicom.bind)))?;
    let state = AppState::new(settings, pool)?;
    build_with(state, listener, dicom)
}

/// Builds the platform on existing listeners and state (tests use their own).
pub fn build_with(
    state: AppState,
    listener: TcpListener,
    dicom: TcpListener,
) -> Result<Application, shared::Error> {
    let port = listener
        .local_addr()
        .map_err(|e| shared::Error::Internal(e.to_string()))?
        .port();
    let dicom_port = dicom
        .local_addr()
        .map_err(|e| shared::Error::Internal(e.to_string()))?
        .port();
    let workers = match state.settings.http.workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    let data = aweb::Data::new(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(aweb::FormConfig::default().limit(web::csrf::FORM_LIMIT))
            .app_data(aweb::PathConfig::default().error_handler(web::authz::path_error))
            .wrap(
                DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("Referrer-Policy", "same-origin"))
                    .add((
                        "Content-Security-Policy",
                        "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
                    )),
            )
            // The access log records method, path (ids only, never patient data), status, time.
            .wrap(Logger::new("%a \"%r\" %s %Dms"))
            .configure(web::configure)
            .configure(api::configure)
            .default_service(aweb::to(|| async {
                actix_web::ResponseError::error_response(&web::error::WebError::NotFound)
            }))
    })
    .workers(workers)
    .listen(listener)
    .map_err(|e| shared::Error::Internal(e.to_string()))?
    .run();
    Ok(Application {
        server,
        port,
        dicom_port,
        state,
        dicom,
    })
}
