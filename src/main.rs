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
    /// Run PD and several stores on loopback in one process.
    Playground(cmd::playground::PlaygroundArgs),
    /// Inspect and operate a running cluster.
    Ctl(cmd::ctl::CtlArgs),
    /// Run load against a running cluster and print a report.
    Bench(cmd::bench::BenchArgs),
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Ctl(_) | Command::Bench(_));
    init_tracing(if quiet { "warn" } else { "info" });
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
