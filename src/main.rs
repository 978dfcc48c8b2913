//! The `creo` command: `serve`, `worker`, `token`, `migrate`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use creo::auth::{Role, TokenKeys};
use creo::config::Config;

#[derive(Parser)]
#[command(name = "creo", version, about = "Real-time collaboration server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded store by default; no other service needed).
    Serve {
        /// Listen address (overrides CREO_ADDR).
        #[arg(long)]
        addr: Option<String>,
        /// Data directory (overrides CREO_DATA).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Print an access token signed with the configured key, alone on stdout.
    Token {
        #[arg(long)]
        account: String,
        #[arg(long)]
        user: String,
        #[arg(long, value_enum)]
        role: Role,
        /// Scope the token to one document.
        #[arg(long)]
        doc: Option<String>,
        /// Lifetime, e.g. 15m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// Run the job consumers alone (scheduled publishing), without serving HTTP: from RabbitMQ
    /// with CREO_AMQP_URL, from the store's queue otherwise (use the servers' store).
    Worker,
    /// Create or update the store's schema (idempotent).
    Migrate,
    /// Turn off a person's second factor (a lost phone and every recovery code), once you have
    /// checked by other means who they are. No server needs to be stopped.
    ResetMfa {
        /// The address they signed up with.
        #[arg(long)]
        email: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("creo: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    creo::telemetry::init_logging(&config.log);
    match run(cli.command, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Logs already go to stderr; one plain line says why it stopped.
            eprintln!("creo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { addr, data } => {
            if let Some(addr) = addr {
                config.addr = addr;
            }
            if let Some(data) = data {
                config.data = data;
            }
            actix_rt::System::new().block_on(creo::server::serve(config))
        }
        Command::Token {
            account,
            user,
            role,
            doc,
            ttl,
        } => {
            let keys = TokenKeys::from_config(&config)?;
            println!("{}", keys.mint(&user, &account, role, doc, ttl)?);
            Ok(())
        }
        Command::Worker => actix_rt::System::new().block_on(creo::server::work(config)),
        Command::Migrate => {
            actix_rt::System::new().block_on(creo::server::open_store(&config))?;
            tracing::info!(store = %config.store, "schema is up to date");
            Ok(())
        }
        Command::ResetMfa { email } => {
            actix_rt::System::new().block_on(creo::operator::reset_second_factor(&config, &email))
        }
    }
}
