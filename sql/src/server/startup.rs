//! Connection startup: the startup message, authentication (`trust`, or
//! SCRAM-SHA-256 run by pgwire's mechanism against the catalog's
//! verifiers, [`crate::auth`]), then the session's settings, its pid and
//! secret key (BackendKeyData, for CancelRequest), ParameterStatus and
//! ReadyForQuery.
//!
//! Failures are FATAL and close the connection, with PostgreSQL's codes
//! and words: 28P01 `password authentication failed for user "x"` (also
//! for users that do not exist, so that a client cannot tell them
//! apart), 28000 for a user that may not log in or, under `trust`, does
//! not exist.

use std::collections::HashMap;
use std::fmt::Debug;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::mechanism::{AuthMechanism, AuthMechanismFactory, AuthState};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    ServerParameterProvider, StartupHandler,
};
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::cancel::Registration;
use super::ConnState;
use crate::auth::{self, AuthMethod};
use crate::error::code;

/// Where a connection's startup stands.
#[derive(Default)]
pub struct StartupState {
    /// The SCRAM exchange under way.
    mechanism: Option<Box<dyn AuthMechanism>>,
    /// Settings of the startup message, applied once authenticated.
    settings: Vec<(String, String)>,
    /// The connection's entry in the node's cancel registry.
    registration: Option<Registration>,
}

fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".into(),
        code.into(),
        message,
    )))
}

/// The ParameterStatus values PostgreSQL 15 sends at startup.
struct Parameters {
    superuser: bool,
}

impl ServerParameterProvider for Parameters {
    fn server_parameters<C: ClientInfo>(&self, client: &C) -> Option<HashMap<String, String>> {
        let meta = client.metadata();
        let user = meta
            .get("user")
            .cloned()
            .unwrap_or_else(|| auth::BOOTSTRAP_USER.into());
        let app = meta.get("application_name").cloned().unwrap_or_default();
        let tz = meta
            .get("TimeZone")
            .cloned()
            .unwrap_or_else(|| "UTC".into());
        let on_off = |b: bool| if b { "on" } else { "off" }.to_string();
        Some(HashMap::from([
            ("application_name".into(), app),
            ("client_encoding".into(), "UTF8".into()),
            ("DateStyle".into(), "ISO, MDY".into()),
            ("default_transaction_read_only".into(), "off".into()),
            ("in_hot_standby".into(), "off".into()),
            ("integer_datetimes".into(), "on".into()),
            ("IntervalStyle".into(), "postgres".into()),
            ("is_superuser".into(), on_off(self.superuser)),
            ("server_encoding".into(), "UTF8".into()),
            ("server_version".into(), crate::SERVER_VERSION.into()),
            ("session_authorization".into(), user),
            ("standard_conforming_strings".into(), "on".into()),
            ("TimeZone".into(), tz),
        ]))
    }
}

/// The settings in a startup message's `options` (`-c name=value`,
/// `-cname=value`, `--name=value`), as libpq's `PGOPTIONS` sends them.
fn options(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        let setting = if w == "-c" {
            words.next()
        } else {
            w.strip_prefix("-c").or_else(|| w.strip_prefix("--"))
        };
        if let Some((k, v)) = setting.and_then(|s| s.split_once('=')) {
            out.push((k.replace('-', "_"), v.to_string()));
        }
    }
    out
}

impl ConnState {
    fn user_of<C: ClientInfo>(client: &C) -> PgWireResult<String> {
        match client.metadata().get("user") {
            Some(u) if !u.is_empty() => Ok(u.clone()),
            _ => Err(fatal(
                code::INVALID_AUTHORIZATION,
                "no PostgreSQL user name specified in startup packet".into(),
            )),
        }
    }

    /// Whether `user` may log in (it exists, with LOGIN).
    async fn check_login(&self, user: &str) -> PgWireResult<bool> {
        match auth::user(&self.server.node, user).await {
            Ok(Some(u)) if u.login => Ok(u.superuser),
            Ok(Some(_)) => Err(fatal(
                code::INVALID_AUTHORIZATION,
                format!("role \"{user}\" is not permitted to log in"),
            )),
            Ok(None) => Err(fatal(
                code::INVALID_AUTHORIZATION,
                format!("role \"{user}\" does not exist"),
            )),
            Err(e) => Err(fatal(e.code, e.message)),
        }
    }

    /// Authenticated: sets the session up and tells the client.
    async fn finish<C>(
        &self,
        client: &mut C,
        superuser: bool,
        final_message: Option<Authentication>,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Some(m) = final_message {
            client.send(PgWireBackendMessage::Authentication(m)).await?;
        }
        let settings = std::mem::take(&mut self.startup.lock().settings);
        {
            let mut session = self.session.lock().await;
            for (k, v) in &settings {
                if let Err(e) = session.apply_startup_setting(k, v) {
                    tracing::debug!(setting = %k, "startup setting refused: {e}");
                }
            }
        }
        let (pid, key, registration) = self
            .server
            .registry
            .register(self.interrupts.clone(), client.protocol_version());
        client.set_pid_and_secret_key(pid, key);
        self.startup.lock().registration = Some(registration);
        finish_authentication(client, &Parameters { superuser }).await
    }
}

#[async_trait]
impl StartupHandler for ConnState {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(startup) => {
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                let user = Self::user_of(client)?;
                {
                    let mut state = self.startup.lock();
                    for (k, v) in &startup.parameters {
                        if k == "options" {
                            state.settings.extend(options(v));
                        } else {
                            state.settings.push((k.clone(), v.clone()));
                        }
                    }
                }
                match self.server.auth {
                    AuthMethod::Trust => {
                        let superuser = self.check_login(&user).await?;
                        self.finish(client, superuser, None).await
                    }
                    AuthMethod::Scram => {
                        let mut mechanism = self.server.scram.create();
                        match mechanism.begin(&*client).await? {
                            AuthState::InProgress(first) => {
                                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                                self.startup.lock().mechanism = Some(mechanism);
                                client
                                    .send(PgWireBackendMessage::Authentication(first))
                                    .await?;
                                Ok(())
                            }
                            AuthState::Ok { .. } | AuthState::Failed(_) => Err(fatal(
                                code::INTERNAL_ERROR,
                                "SCRAM authentication did not start".into(),
                            )),
                        }
                    }
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(msg) => {
                let user = Self::user_of(client)?;
                let mechanism = self.startup.lock().mechanism.take();
                let Some(mut mechanism) = mechanism else {
                    return Err(PgWireError::NoAuthenticationInProgress);
                };
                match mechanism.next(&*client, msg).await {
                    Ok(AuthState::InProgress(reply)) => {
                        self.startup.lock().mechanism = Some(mechanism);
                        client
                            .send(PgWireBackendMessage::Authentication(reply))
                            .await?;
                        Ok(())
                    }
                    Ok(AuthState::Ok { final_message, .. }) => {
                        let superuser = self.check_login(&user).await?;
                        tracing::debug!(%user, "authenticated");
                        self.finish(client, superuser, final_message).await
                    }
                    Ok(AuthState::Failed(e)) | Err(e) => {
                        tracing::info!(%user, peer = %client.socket_addr(), "authentication failed: {e}");
                        Err(match e {
                            PgWireError::InvalidPassword(_) => fatal(
                                code::INVALID_PASSWORD,
                                format!("password authentication failed for user \"{user}\""),
                            ),
                            other => other,
                        })
                    }
                }
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::options;

    #[test]
    fn startup_options_are_settings() {
        assert_eq!(
            options("-c statement_timeout=5s -cDateStyle=ISO --search-path=x"),
            vec![
                ("statement_timeout".to_string(), "5s".to_string()),
                ("DateStyle".to_string(), "ISO".to_string()),
                ("search_path".to_string(), "x".to_string()),
            ]
        );
    }
}
