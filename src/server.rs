//! Wiring: open the store, start any dedicated document threads, serve HTTP, and shut down
//! cleanly on SIGTERM/SIGINT (stop accepting, close sockets with 1001, flush every document,
//! exit 0).

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::Arbiter;
use std::time::Duration;

use actix_http::{HttpService, KeepAlive};
use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_web::dev::AppConfig;
use actix_web::{web, App};
use anyhow::Context;

use crate::actors::account::Accounts;
use crate::actors::registry::DocumentRegistry;
use crate::actors::session::ConnectionSlots;
use crate::app::AppState;
use crate::auth::TokenKeys;
use crate::billing::limits::RequestLimiter;
use crate::bus::limits::SharedLimits;
use crate::bus::{AccessChange, Bus};
use crate::config::Config;
use crate::store::embedded::EmbeddedStore;
use crate::store::scylla::{parse_consistency, ScyllaOptions, ScyllaStore};
use crate::store::{JobStore, StoreHealth, Stores};
use actix::Actor;

/// Opens the configured backend and applies its schema (idempotent).
pub async fn open_store(config: &Config) -> anyhow::Result<Stores> {
    if config.store == "embedded" {
        let store = Arc::new(
            EmbeddedStore::open_paced(
                &config.data,
                &config.sqlite_synchronous,
                config.sqlite_commits_per_second,
            )
            .context("opening the embedded store")?,
        );
        return Ok(Stores::of(store));
    }
    if config.store.starts_with("scylla://") {
        let options = ScyllaOptions {
            replication: config.scylla_replication.clone(),
            request_timeout: std::time::Duration::from_millis(config.scylla_request_timeout_ms),
            write_consistency: parse_consistency(&config.scylla_write_consistency)?,
            read_consistency: parse_consistency(&config.scylla_read_consistency)?,
        };
        let store = ScyllaStore::connect(&config.store, &options)
            .await
            .with_context(|| format!("connecting to {}", config.store))?;
        return Ok(Stores::of(store));
    }
    anyhow::bail!(
        "unknown store {:?} (embedded, or scylla://host:9042/keyspace)",
        config.store
    )
}

/// What job handlers use.
struct JobDeps {
    stores: Stores,
    pool: crate::gpu::Pool,
    accounts: Arc<Accounts>,
    events: Arc<crate::events::Events>,
    outbound: crate::outbound::Outbound,
    sealer: Arc<crate::auth::sealed::SecretBox>,
    hashtags: Arc<crate::ai::vocabulary::Vocabulary>,
    /// `None` when email is off.
    mailer: Option<Arc<crate::mail::Mailer>>,
    /// Where handlers queue follow-up jobs.
    jobs: Arc<crate::queue::JobQueue>,
    media: crate::media::Library,
}

/// The media library of this process: rows in `stores`, bytes under `CREO_DATA/media`. Only
/// a serving process takes uploads in several requests (`serving`): it alone opens, and sweeps,
/// the sessions under `CREO_DATA/media-uploads`.
fn media_library(
    config: &Config,
    stores: &Stores,
    jobs: &Arc<crate::queue::JobQueue>,
    serving: bool,
) -> anyhow::Result<crate::media::Library> {
    let dir = config.data.join("media-uploads");
    let expiry = std::time::Duration::from_secs(config.upload_expiry_secs.max(1));
    let sessions = if serving {
        crate::media::resumable::Sessions::open(dir, expiry, config.upload_pending_bytes)
    } else {
        crate::media::resumable::Sessions::none(dir, expiry)
    };
    Ok(crate::media::Library::new(
        stores.clone(),
        crate::media::files::Files::from_config(config)?,
        config.data.join("media-incoming"),
        jobs.clone(),
        sessions,
    ))
}

/// Starts the job consumers on this runtime: on RabbitMQ when configured (they reconnect by
/// themselves), on the store's queue otherwise.
fn start_job_consumers(config: &Arc<Config>, deps: JobDeps) {
    let JobDeps {
        stores,
        pool,
        accounts,
        events,
        outbound,
        sealer,
        hashtags,
        mailer,
        jobs,
        media,
    } = deps;
    let credentials = Arc::new(crate::channels::tokens::Credentials::new(
        stores.channels.clone(),
        sealer.clone(),
        outbound.clone(),
        config.clone(),
    ));
    let breakers = Arc::new(crate::jobs::breaker::Breakers::new(
        config.breaker_failures,
        std::time::Duration::from_millis(config.breaker_open_ms),
    ));
    let handlers = Arc::new(crate::jobs::Handlers {
        publisher: crate::jobs::publish::Publisher::new(
            stores.clone(),
            config.clone(),
            outbound.clone(),
            breakers.clone(),
            events.clone(),
            credentials.clone(),
            jobs.clone(),
            sealer.clone(),
        ),
        renderer: crate::jobs::renditions::Renderer { media },
        collector: crate::jobs::collect::Collector {
            stores: stores.clone(),
            jobs: jobs.clone(),
            credentials,
            outbound: outbound.clone(),
            first_ms: config.metrics_poll_first_ms.max(1) as i64,
        },
        generator: crate::jobs::generate::Generator {
            stores: stores.clone(),
            pool,
            model: config.embedding_model.clone(),
            timeout: std::time::Duration::from_millis(config.inference_timeout_ms),
            accounts,
            events,
            hashtags,
            min_score: config.hashtag_min_score,
            jobs: jobs.clone(),
            retention_ms: config.generation_retention_ms as i64,
        },
        deliverer: crate::jobs::deliver::Deliverer::new(
            stores.webhooks.clone(),
            outbound,
            sealer.clone(),
            breakers.clone(),
            config.job_max_attempts,
        ),
        mailer: crate::jobs::mail::MailSender {
            stores: stores.clone(),
            mailer,
            breakers,
            sealer,
            public_url: config.public_url(),
            reset_ttl_minutes: config.password_reset_ttl_secs.div_ceil(60),
            verify_ttl_hours: config
                .email_verification_ttl_secs
                .min(86_400)
                .div_ceil(3600),
        },
    });
    let run = move |job| {
        let handlers = handlers.clone();
        async move { handlers.run(job).await }
    };
    match config.amqp_url.clone() {
        Some(url) => {
            actix_rt::spawn(crate::queue::rabbit::run_forever(
                url,
                config.amqp_prefix.clone(),
                config.job_prefetch,
                config.job_max_attempts,
                config.job_retry_base_ms,
                run,
            ));
        }
        None => {
            let settings = crate::queue::local::Settings {
                prefetch: usize::from(config.job_prefetch),
                max_attempts: config.job_max_attempts,
                retry_base_ms: config.job_retry_base_ms,
                lease_ms: config.job_lease_ms as i64,
            };
            actix_rt::spawn(crate::queue::local::run(stores.jobs, settings, run));
        }
    }
}

/// `creo worker`: the job consumers alone (with their own inference pool), until SIGTERM or
/// SIGINT. Their events reach editors through the bus (`redis_url`).
pub async fn work(config: Config) -> anyhow::Result<()> {
    let _ = crate::telemetry::init_metrics()?;
    let stores = open_store(&config).await?;
    let (bus, _) = Bus::start(&config)?;
    let config = Arc::new(config);
    let jobs = Arc::new(job_queue(&config, &stores.jobs).await?);
    let pool = start_inference(&config);
    let events = crate::events::Events::new(
        None,
        bus.clone(),
        stores.clone(),
        jobs.clone(),
        mail_policy(&config),
    );
    let deps = JobDeps {
        media: media_library(&config, &stores, &jobs, false)?,
        jobs,
        mailer: crate::mail::Mailer::from_config(&config)?.map(Arc::new),
        accounts: Accounts::new(stores.clone(), config.clone()),
        stores,
        pool,
        events,
        outbound: config.outbound()?,
        sealer: Arc::new(crate::auth::sealed::SecretBox::from_config(&config)?),
        hashtags: Arc::default(),
    };
    start_job_consumers(&config, deps);
    tracing::info!("creo worker consuming jobs");
    wait_for_signal().await;
    bus.shutdown().await;
    Ok(())
}

/// Whether email is on, and its digest windows.
fn mail_policy(config: &Config) -> crate::notify::MailPolicy {
    crate::notify::MailPolicy {
        enabled: config.smtp_url.is_some(),
        hour_ms: config.digest_hour_ms.max(1) as i64,
        day_ms: config.digest_day_ms.max(1) as i64,
    }
}

/// RabbitMQ when `amqp_url` is set, the store otherwise.
async fn job_queue(
    config: &Config,
    store: &Arc<dyn JobStore>,
) -> anyhow::Result<crate::queue::JobQueue> {
    Ok(match &config.amqp_url {
        Some(url) => crate::queue::JobQueue::Rabbit(
            crate::queue::rabbit::RabbitQueue::connect(url, &config.amqp_prefix)
                .await
                .with_context(|| "connecting to RabbitMQ (CREO_AMQP_URL)")?,
        ),
        None => crate::queue::JobQueue::Store(store.clone()),
    })
}

/// The inference pool, with its supervisor on this thread.
fn start_inference(config: &Config) -> crate::gpu::Pool {
    let pool = crate::gpu::Pool::default();
    crate::gpu::supervisor::InferenceSupervisor::new(
        pool.clone(),
        config.models.clone(),
        config.onnxruntime_library(),
        config.inference_threads(),
        std::time::Duration::from_millis(config.model_scan_ms.max(100)),
    )
    .start();
    pool
}

/// Binds `config.addr` and serves until SIGTERM or SIGINT (what `creo serve` runs).
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind(&config.addr).with_context(|| format!("binding {}", config.addr))?;
    serve_on(config, listener, wait_for_signal()).await
}

/// Serves on `listener` until `shutdown` completes, then shuts down as on a signal: sockets
/// closed with "going away", every document flushed. Tests run the server in process with it.
pub async fn serve_on(
    mut config: Config,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + 'static,
) -> anyhow::Result<()> {
    let metrics = crate::telemetry::init_metrics()?;
    if config.public_url.is_none() {
        // The address actually bound (`addr` may name port 0).
        config.public_url = Some(format!("http://{}", listener.local_addr()?));
    }
    // Every socket is a file descriptor; Debian's default soft limit (1024) would cap editors.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open file limit"),
    }
    let keys = Arc::new(TokenKeys::from_config(&config)?);
    let outbound = config.outbound()?;
    let sealer = Arc::new(crate::auth::sealed::SecretBox::from_config(&config)?);
    // Checked at start: a wrong `smtp_url` or `mail_from` stops the server instead of every mail.
    let mailer = crate::mail::Mailer::from_config(&config)?.map(Arc::new);
    let proxies =
        crate::app::proxies::Proxies::parse(&config.trusted_proxies, &config.client_ip_header)
            .map_err(|e| anyhow::anyhow!(e))?;
    let mut stores = open_store(&config).await?;
    let mut faults = None;
    if config.fault_injection {
        tracing::warn!("store fault injection is ON: /debug/store-faults can break the store");
        let (faulty, plan) = stores.with_faults();
        (stores, faults) = (faulty, Some(plan));
    }
    let health = Arc::new(StoreHealth::default());
    let workers = if config.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        config.workers
    };
    let arbiters: Vec<Arbiter> = (0..config.document_threads)
        .map(|_| Arbiter::new())
        .collect();
    // The bus's tasks run on this (the main) thread, apart from the HTTP workers.
    let (bus, mut access_changes) = Bus::start(&config)?;
    let limits = SharedLimits::start(&config, bus.node())?;
    let config = Arc::new(config);
    let accounts = Accounts::new(stores.clone(), config.clone());
    let jobs = Arc::new(job_queue(&config, &stores.jobs).await?);
    let pool = start_inference(&config);
    let request_limits = Arc::new(RequestLimiter::new(limits.clone()));
    let logins = Arc::new(crate::auth::sessions::SessionGate::new(
        stores.logins.clone(),
        std::time::Duration::from_millis(config.session_check_ms),
        std::time::Duration::from_secs(config.access_token_ttl_secs),
    ));
    let decoy_hash = {
        let cost = crate::auth::password::Cost::of(&config);
        tokio::task::spawn_blocking(move || crate::auth::password::decoy(cost)).await?
    };
    let registry = DocumentRegistry::new(
        stores.documents.clone(),
        config.clone(),
        health.clone(),
        bus.clone(),
        arbiters.iter().map(|a| a.handle()).collect(),
    );
    let search = Arc::new(crate::ai::index::SearchIndex::new(
        stores.embeddings.clone(),
        config.embedding_model.clone(),
        std::time::Duration::from_millis(config.search_refresh_ms),
    ));
    let indexer = crate::ai::indexer::SearchIndexer::new(
        stores.documents.clone(),
        pool.clone(),
        search.clone(),
        std::time::Duration::from_millis(config.search_settle_ms),
        std::time::Duration::from_millis(config.inference_timeout_ms),
    )
    .start();
    registry.report_changes_to(indexer.recipient());
    let events = crate::events::Events::new(
        Some(registry.clone()),
        bus.clone(),
        stores.clone(),
        jobs.clone(),
        mail_policy(&config),
    );
    let debouncer = crate::events::debounce::UpdateDebouncer::new(
        events.clone(),
        std::time::Duration::from_millis(config.webhook_debounce_ms),
    )
    .start();
    registry.report_changes_to(debouncer.recipient());
    // One vocabulary per process: it is embedded on first use.
    let hashtags: Arc<crate::ai::vocabulary::Vocabulary> = Arc::default();
    let media = media_library(&config, &stores, &jobs, true)?;
    let sessions = media.resumable.clone();
    actix_rt::spawn(async move {
        // Swept often enough that a session outlives its expiry by at most a tenth of it.
        let every = (sessions.expiry() / 10).clamp(
            std::time::Duration::from_millis(200),
            std::time::Duration::from_secs(600),
        );
        let mut tick = actix_rt::time::interval(every);
        loop {
            tick.tick().await;
            sessions.sweep();
        }
    });
    if config.jobs_in_process {
        let deps = JobDeps {
            media: media.clone(),
            stores: stores.clone(),
            pool: pool.clone(),
            accounts: accounts.clone(),
            events: events.clone(),
            outbound: outbound.clone(),
            sealer: sealer.clone(),
            hashtags: hashtags.clone(),
            mailer: mailer.clone(),
            jobs: jobs.clone(),
        };
        start_job_consumers(&config, deps);
    }
    let revocations = Arc::new(crate::app::revocations::RevocationCache::new(
        stores.revocations.clone(),
        bus.clone(),
    ));
    let (documents, directory, gate, revoked) = (
        registry.clone(),
        accounts.clone(),
        logins.clone(),
        revocations.clone(),
    );
    actix_rt::spawn(async move {
        while let Some(change) = access_changes.recv().await {
            match change {
                AccessChange::Revoke(r) => {
                    revoked.forget(&r.account_id);
                    documents.revoke(&r)
                }
                AccessChange::Lift { account, .. } => revoked.forget(&account),
                AccessChange::Role {
                    account,
                    user,
                    role,
                } => {
                    documents.change_role(&account, &user, role);
                    directory.refresh(&account);
                }
                AccessChange::Account { account } => directory.refresh(&account),
                AccessChange::SecondFactorRequired { account, users } => {
                    documents.require_second_factor(&account, users)
                }
                AccessChange::Session { session } => {
                    gate.revoked(&session);
                    documents.close_session(&session);
                }
                AccessChange::DocumentDeleted { doc } => documents.deleted(&doc),
            }
        }
    });
    let forgetting = request_limits.clone();
    actix_rt::spawn(async move {
        let mut tick = actix_rt::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            forgetting.forget_idle();
        }
    });
    let shutting_down = Arc::new(AtomicBool::new(false));
    let state = web::Data::new(AppState {
        config: config.clone(),
        keys,
        stores,
        revocations,
        registry: registry.clone(),
        slots: Arc::new(ConnectionSlots::default()),
        metrics,
        shutting_down: shutting_down.clone(),
        health,
        bus: bus.clone(),
        limits,
        accounts,
        logins,
        request_limits,
        pool,
        jobs,
        events,
        search,
        hashtags,
        password_hashing: Arc::new(tokio::sync::Semaphore::new(
            config.password_hash_concurrency.max(1),
        )),
        decoy_hash: decoy_hash.into(),
        outbound,
        proxies,
        sealer,
        faults,
        media,
    });

    let addr = listener.local_addr()?;
    // actix-web's `HttpServer`, but for the upgrade service: a WebSocket upgrade takes its
    // connection out of the HTTP dispatcher (`http::ws::upgraded`) instead of being served
    // through it, so an open socket keeps none of the dispatcher's buffers.
    let server = actix_server::Server::build()
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(5)
        .listen("creo-http", listener, move || {
            let app = App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(state.config.max_message_bytes * 2))
                .app_data(web::JsonConfig::default().limit(64 * 1024))
                .configure(crate::http::routes)
                .configure(|cfg| crate::http::frontend::routes(cfg, &state.config.frontend))
                .into_factory()
                .map_err(|e: actix_web::Error| e.error_response());
            let upgrade_state = state.clone();
            HttpService::build()
                .keep_alive(KeepAlive::default())
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                // Small frames must not wait for Nagle: one peer without this had a 4x worse p99.
                .tcp_nodelay(true)
                .local_addr(addr)
                .upgrade(fn_service(move |(req, framed)| {
                    crate::http::ws::upgraded(upgrade_state.clone(), req, framed)
                }))
                // The host and address an app config carries are only fallbacks for requests
                // without a Host header and for URL generation; creo reads neither.
                .finish(map_config(app, |_| AppConfig::default()))
                .tcp()
        })?
        .run();
    tracing::info!(data = %config.data.display(), store = %config.store, "creo listening on http://{addr}");
    if config.frontend.join("index.html").is_file() {
        tracing::info!(dir = %config.frontend.display(), "browser editor at http://{addr}/");
    } else {
        tracing::info!(dir = %config.frontend.display(), "no browser editor built there (npm run build in frontend/); serving the API only");
    }

    let handle = server.handle();
    let shutdown_timeout = config.shutdown_timeout();
    actix_rt::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: closing sockets and flushing documents");
        shutting_down.store(true, Ordering::SeqCst);
        handle.pause().await;
        // Inbox streams end now (editors reconnect to another node), not at the stop timeout.
        bus.close_inboxes();
        registry.shutdown(shutdown_timeout).await;
        // Sockets are closing: let their writers put the close frames on the wire.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while crate::socket::writer::open_connections() > 0 && std::time::Instant::now() < deadline
        {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        bus.shutdown().await;
        handle.stop(true).await;
    });
    server.await?;
    for arbiter in arbiters {
        arbiter.stop();
    }
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
