//! The `strata` binary: argument parsing and wiring only. Each subcommand
//! lives in its own module under `src/cmd/`.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Strata: a distributed SQL database with a PostgreSQL face.
///
/// A cluster is a placement driver (`strata pd`) and storage nodes
/// (`strata kv`) that replicate range-sharded data with Raft. `strata
/// playground` runs a whole local cluster in one command.
#[derive(Parser)]
#[command(name = "strata", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the placement driver (routing table, ids, timestamps, scheduling).
    Pd(cmd::pd::PdArgs),
    /// Run a storage node that serves Regions over gRPC.
    Kv(cmd::kv::KvArgs),
    /// Run a SQL node: the PostgreSQL wire protocol over the cluster.
    Sql(cmd::sql::SqlArgs),
    /// Run PD, several stores and a SQL node on loopback in one process.
    Playground(cmd::playground::PlaygroundArgs),
    /// Inspect and operate a running cluster.
    Ctl(cmd::ctl::CtlArgs),
    /// Run load against a running cluster and print a report.
    Bench(cmd::bench::BenchArgs),
}

/// Logs go to stderr, or for the playground to `DATA_DIR/strata.log` so the
/// terminal keeps the summary; `STRATA_LOG` overrides the level.
fn init_tracing(default: &str, file: Option<std::fs::File>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match file {
        Some(f) => builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(f))
            .init(),
        None => builder.with_writer(std::io::stderr).init(),
    }
}

fn log_file(cmd: &Command) -> Result<Option<std::fs::File>, String> {
    let Command::Playground(a) = cmd else {
        return Ok(None);
    };
    let open = || {
        std::fs::create_dir_all(&a.data_dir)?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(a.data_dir.join("strata.log"))
    };
    open()
        .map(Some)
        .map_err(|e| format!("cannot write logs under {}: {e}", a.data_dir.display()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Ctl(_) | Command::Bench(_));
    let file = match log_file(&cli.command) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_tracing(if quiet { "warn" } else { "info" }, file);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Pd(a) => cmd::pd::run(a).await,
            Command::Kv(a) => cmd::kv::run(a).await,
            Command::Sql(a) => cmd::sql::run(a).await,
            Command::Playground(a) => cmd::playground::run(a).await,
            Command::Ctl(a) => cmd::ctl::run(a).await,
            Command::Bench(a) => cmd::bench::run(a).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
