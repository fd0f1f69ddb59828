//! Users and how they prove who they are.
//!
//! - [`scram`]: SCRAM-SHA-256 verifiers in PostgreSQL's format (a password
//!   is never stored).
//! - [`users`]: `CREATE|ALTER|DROP USER|ROLE`.
//! - [`AuthMethod`]: what a SQL node asks of a connecting client: nothing
//!   but an existing user name (`trust`), or a password checked by
//!   SCRAM-SHA-256 (`scram`), as PostgreSQL's `pg_hba.conf` methods of the
//!   same names. The exchange itself is pgwire's (`server::startup`).

pub mod scram;
pub mod users;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::auth::sasl::scram::ScramSecret;
use pgwire::api::auth::{AuthSource, LoginInfo, Password};
use pgwire::error::{PgWireError, PgWireResult};

use crate::catalog::{store, UserDesc, DEFAULT_DATABASE};
use crate::error::{code, Error, Result};
use crate::session::Node;
use scram::Verifier;

/// Name of the superuser every cluster starts with.
pub const BOOTSTRAP_USER: &str = DEFAULT_DATABASE;

/// How a SQL node authenticates clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthMethod {
    /// Any client may log in as any user that exists and may log in
    /// (PostgreSQL's `trust`): for local development only.
    #[default]
    Trust,
    /// Users log in with a password, checked by SCRAM-SHA-256 against the
    /// verifier kept in the catalog (PostgreSQL's `scram-sha-256`).
    Scram,
}

impl FromStr for AuthMethod {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "trust" => Ok(AuthMethod::Trust),
            "scram" | "scram-sha-256" => Ok(AuthMethod::Scram),
            other => Err(format!(
                "unknown authentication method {other:?} (trust or scram)"
            )),
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthMethod::Trust => "trust",
            AuthMethod::Scram => "scram",
        })
    }
}

/// Makes the node ready for `method`: with `scram`, the bootstrap
/// superuser needs a password, which `initial_password` gives it if it has
/// none yet (a password set before, by an earlier start or by `ALTER
/// USER`, is kept). Refuses to start a `scram` node nobody could log in
/// to.
pub async fn prepare(
    node: &Node,
    method: AuthMethod,
    initial_password: Option<&str>,
) -> Result<()> {
    let kv = node.kv().clone();
    if let Some(pw) = initial_password.filter(|p| !p.is_empty()) {
        let verifier = Verifier::from_password(pw).to_string();
        if store::set_initial_password(kv.clone(), BOOTSTRAP_USER, &verifier).await? {
            tracing::info!(user = BOOTSTRAP_USER, "initial password set");
            node.catalog().refresh().await?;
        } else {
            tracing::info!(
                user = BOOTSTRAP_USER,
                "the user already has a password; the initial password is ignored"
            );
        }
    }
    if method == AuthMethod::Scram {
        let reader = client::TxnReader::snapshot(kv).await?;
        let has_password = store::get_user(&reader, BOOTSTRAP_USER)
            .await?
            .is_some_and(|u| u.scram_verifier.is_some());
        if !has_password {
            return Err(Error::new(
                code::INVALID_AUTHORIZATION,
                format!(
                    "with password authentication, the superuser \"{BOOTSTRAP_USER}\" needs a password: \
                     give one with --initial-password or STRATA_PASSWORD"
                ),
            ));
        }
    }
    Ok(())
}

/// The user `name` as the node's catalog has it.
pub async fn user(node: &Node, name: &str) -> Result<Option<UserDesc>> {
    Ok(node.catalog().current().await?.users.get(name).cloned())
}

/// pgwire's source of SCRAM secrets: the verifiers in the node's catalog,
/// and a mock verifier for users that do not exist, may not log in or
/// have no password (the exchange then fails as for a wrong password).
pub struct CatalogAuthSource {
    node: Arc<Node>,
    seed: u64,
}

impl CatalogAuthSource {
    /// Secrets from `node`'s catalog.
    pub fn new(node: Arc<Node>) -> CatalogAuthSource {
        CatalogAuthSource {
            node,
            seed: rand::random(),
        }
    }
}

impl fmt::Debug for CatalogAuthSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CatalogAuthSource")
    }
}

#[async_trait]
impl AuthSource for CatalogAuthSource {
    async fn get_password(&self, _login: &LoginInfo) -> PgWireResult<Password> {
        // Only SCRAM is offered, and it asks get_scram_secret.
        Err(PgWireError::UserError(Box::new(
            pgwire::error::ErrorInfo::new(
                "FATAL".into(),
                code::FEATURE_NOT_SUPPORTED.into(),
                "only SCRAM-SHA-256 authentication is supported".into(),
            ),
        )))
    }

    async fn get_scram_secret(&self, login: &LoginInfo) -> PgWireResult<(ScramSecret, Option<()>)> {
        let name = login.user().unwrap_or_default();
        let found = user(&self.node, name)
            .await
            .map_err(super::server::to_pgwire)?;
        let verifier = found
            .filter(|u| u.login)
            .and_then(|u| u.scram_verifier)
            .and_then(|v| Verifier::parse(&v));
        let verifier = match verifier {
            Some(v) => v,
            None => Verifier::mock(name, self.seed),
        };
        Ok((verifier.secret(), None))
    }
}
