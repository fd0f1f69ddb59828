//! User DDL: `CREATE USER|ROLE`, `ALTER USER|ROLE … PASSWORD`, `DROP
//! USER|ROLE`, written into the session's transaction like any DDL (they
//! commit or roll back with it, and bump the catalog version).
//!
//! A role has no privileges to grant here: what matters is whether it may
//! log in, whether it is a superuser, and its password (kept only as a
//! SCRAM verifier, [`super::scram`]). Only superusers change roles; any
//! user may change its own password.

use client::BufferedTxn;
use datafusion::sql::sqlparser::ast::{
    AlterRoleOperation, AlterUser, CreateRole, CreateUser, Expr, Ident, ObjectName, ObjectType,
    Password, RoleOption, Statement, Value,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use super::scram::Verifier;
use crate::catalog::store::{get_user, CatalogWriter};
use crate::catalog::UserDesc;
use crate::error::{code, Error, Result};
use crate::exec::ddl::ident_name;

/// Id of the bootstrap superuser (PostgreSQL's `BOOTSTRAP_SUPERUSERID`).
pub const BOOTSTRAP_USER_ID: u32 = 10;

/// What a user DDL statement did.
#[derive(Debug)]
pub struct Done {
    /// Its completion tag (`CREATE ROLE`, `ALTER ROLE`, `DROP ROLE`).
    pub tag: String,
    /// Whether it changed the catalog.
    pub changed: bool,
    /// Notices to send (`… does not exist, skipping`).
    pub notices: Vec<String>,
}

/// Whether `stmt` is user DDL (run by [`execute`]).
pub fn is_user_ddl(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::CreateRole(_)
            | Statement::CreateUser(_)
            | Statement::AlterRole { .. }
            | Statement::AlterUser(_)
            | Statement::Drop {
                object_type: ObjectType::Role | ObjectType::User,
                ..
            }
    )
}

/// Runs user DDL `stmt` in `txn` for the session user `me`.
pub async fn execute(txn: &mut BufferedTxn, stmt: &Statement, me: &str) -> Result<Done> {
    match stmt {
        Statement::CreateRole(cr) => create_role(txn, cr, me).await,
        Statement::CreateUser(cu) => create_user(txn, cu, me).await,
        Statement::AlterRole { name, operation } => alter_role(txn, name, operation, me).await,
        Statement::AlterUser(au) => alter_user(txn, au, me).await,
        Statement::Drop {
            object_type: ObjectType::Role | ObjectType::User,
            if_exists,
            names,
            ..
        } => drop_roles(txn, names, *if_exists, me).await,
        _ => Err(Error::internal("not user DDL")),
    }
}

fn role_name(name: &ObjectName) -> Result<String> {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .map(ident_name)
            .ok_or_else(|| Error::syntax(format!("invalid role name {name}"))),
        _ => Err(Error::syntax(format!("invalid role name {name}"))),
    }
}

fn undefined_role(name: &str) -> Error {
    Error::new(
        code::UNDEFINED_OBJECT,
        format!("role \"{name}\" does not exist"),
    )
}

fn denied(what: &str) -> Error {
    Error::new(
        code::INSUFFICIENT_PRIVILEGE,
        format!("permission denied to {what}"),
    )
    .with_detail("Only superusers may change roles.")
}

/// Whether the session user is a superuser (as the transaction sees it).
async fn is_superuser(txn: &BufferedTxn, me: &str) -> Result<bool> {
    Ok(get_user(&txn.reader(), me)
        .await?
        .is_some_and(|u| u.superuser))
}

/// What `PASSWORD …` sets: a verifier (`None`: no password), and a notice.
fn password(p: &Password) -> Result<(Option<String>, Option<String>)> {
    let text = match p {
        Password::NullPassword => return Ok((None, None)),
        Password::Password(Expr::Value(v)) => match &v.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => s.clone(),
            Value::Null => return Ok((None, None)),
            other => return Err(Error::syntax(format!("invalid password {other}"))),
        },
        Password::Password(other) => {
            return Err(Error::syntax(format!("invalid password {other}")))
        }
    };
    password_text(&text)
}

fn password_text(text: &str) -> Result<(Option<String>, Option<String>)> {
    if text.is_empty() {
        return Ok((
            None,
            Some("empty string is not a valid password, clearing password".into()),
        ));
    }
    if Verifier::parse(text).is_some() {
        // Already a verifier (pg_dump writes these): kept as given.
        return Ok((Some(text.to_string()), None));
    }
    if text.starts_with("md5") && text.len() == 35 {
        return Err(Error::unsupported("an MD5 password hash")
            .with_hint("Give the password itself, or a SCRAM-SHA-256 verifier."));
    }
    Ok((Some(Verifier::from_password(text).to_string()), None))
}

/// Role options Strata has nothing to do with (no privileges, no
/// replication): accepted for scripts written for PostgreSQL.
fn unsupported_role_option(cr: &CreateRole) -> Option<&'static str> {
    if cr.connection_limit.is_some() {
        Some("CONNECTION LIMIT")
    } else if cr.valid_until.is_some() {
        Some("VALID UNTIL")
    } else if !cr.in_role.is_empty() || !cr.in_group.is_empty() {
        Some("IN ROLE")
    } else if !cr.role.is_empty() || !cr.user.is_empty() || !cr.admin.is_empty() {
        Some("role membership")
    } else if cr.authorization_owner.is_some() {
        Some("AUTHORIZATION")
    } else {
        None
    }
}

async fn create(
    txn: &mut BufferedTxn,
    names: Vec<String>,
    if_not_exists: bool,
    desc: UserDesc,
    me: &str,
) -> Result<Done> {
    if !is_superuser(txn, me).await? {
        return Err(denied("create role"));
    }
    let mut notices = Vec::new();
    let mut changed = false;
    for name in names {
        if get_user(&txn.reader(), &name).await?.is_some() {
            if if_not_exists {
                notices.push(format!("role \"{name}\" already exists, skipping"));
                continue;
            }
            return Err(Error::new(
                code::DUPLICATE_OBJECT,
                format!("role \"{name}\" already exists"),
            ));
        }
        let mut w = CatalogWriter::new(txn);
        let id = w.allocate_id().await?;
        w.put_user(&UserDesc {
            id,
            name,
            ..desc.clone()
        })?;
        changed = true;
    }
    if changed {
        CatalogWriter::new(txn).bump_version().await?;
    }
    Ok(Done {
        tag: "CREATE ROLE".into(),
        changed,
        notices,
    })
}

async fn create_role(txn: &mut BufferedTxn, cr: &CreateRole, me: &str) -> Result<Done> {
    if let Some(what) = unsupported_role_option(cr) {
        return Err(Error::unsupported(format!("CREATE ROLE … {what}")));
    }
    let (verifier, notice) = match &cr.password {
        Some(p) => password(p)?,
        None => (None, None),
    };
    let names = cr.names.iter().map(role_name).collect::<Result<Vec<_>>>()?;
    let desc = UserDesc {
        id: 0,
        name: String::new(),
        scram_verifier: verifier,
        superuser: cr.superuser.unwrap_or(false),
        login: cr.login.unwrap_or(false),
    };
    let mut done = create(txn, names, cr.if_not_exists, desc, me).await?;
    done.notices.extend(notice);
    Ok(done)
}

/// `CREATE USER name` with no options (the only form the parser reads as
/// this statement; the others come through [`reparse`] as CREATE ROLE).
async fn create_user(txn: &mut BufferedTxn, cu: &CreateUser, me: &str) -> Result<Done> {
    if cu.or_replace || !cu.options.options.is_empty() || !cu.tags.options.is_empty() {
        return Err(Error::syntax(format!(
            "syntax error in \"{}\"",
            first_words(&cu.to_string())
        )));
    }
    let desc = UserDesc {
        id: 0,
        name: String::new(),
        scram_verifier: None,
        superuser: false,
        login: true,
    };
    create(txn, vec![ident_name(&cu.name)], cu.if_not_exists, desc, me).await
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Changes of `ALTER USER|ROLE`.
#[derive(Default)]
struct Changes {
    password: Option<(Option<String>, Option<String>)>,
    login: Option<bool>,
    superuser: Option<bool>,
    rename: Option<String>,
}

async fn alter(txn: &mut BufferedTxn, name: &Ident, changes: Changes, me: &str) -> Result<Done> {
    let name = ident_name(name);
    let superuser = is_superuser(txn, me).await?;
    let only_own_password = name == me
        && changes.login.is_none()
        && changes.superuser.is_none()
        && changes.rename.is_none();
    if !superuser && !only_own_password {
        return Err(denied("alter role"));
    }
    let Some(mut user) = get_user(&txn.reader(), &name).await? else {
        return Err(undefined_role(&name));
    };
    let mut notices = Vec::new();
    if let Some((verifier, notice)) = changes.password {
        user.scram_verifier = verifier;
        notices.extend(notice);
    }
    if let Some(login) = changes.login {
        user.login = login;
    }
    if let Some(s) = changes.superuser {
        if !s && user.id == BOOTSTRAP_USER_ID {
            return Err(Error::new(
                code::FEATURE_NOT_SUPPORTED,
                format!(
                    "permission denied: bootstrap user \"{}\" must be superuser",
                    user.name
                ),
            ));
        }
        user.superuser = s;
    }
    let mut w = CatalogWriter::new(txn);
    if let Some(new_name) = changes.rename {
        if name == me {
            return Err(Error::new(
                code::FEATURE_NOT_SUPPORTED,
                "session user cannot be renamed",
            ));
        }
        if get_user(&w.txn().reader(), &new_name).await?.is_some() {
            return Err(Error::new(
                code::DUPLICATE_OBJECT,
                format!("role \"{new_name}\" already exists"),
            ));
        }
        w.delete_user(&user.name)?;
        user.name = new_name;
    }
    w.put_user(&user)?;
    w.bump_version().await?;
    Ok(Done {
        tag: "ALTER ROLE".into(),
        changed: true,
        notices,
    })
}

async fn alter_role(
    txn: &mut BufferedTxn,
    name: &Ident,
    operation: &AlterRoleOperation,
    me: &str,
) -> Result<Done> {
    let mut changes = Changes::default();
    match operation {
        AlterRoleOperation::WithOptions { options } => {
            for o in options {
                match o {
                    RoleOption::Password(p) => changes.password = Some(password(p)?),
                    RoleOption::Login(b) => changes.login = Some(*b),
                    RoleOption::SuperUser(b) => changes.superuser = Some(*b),
                    RoleOption::BypassRLS(_)
                    | RoleOption::CreateDB(_)
                    | RoleOption::CreateRole(_)
                    | RoleOption::Inherit(_)
                    | RoleOption::Replication(_) => {}
                    other => return Err(Error::unsupported(format!("ALTER ROLE … {other}"))),
                }
            }
        }
        AlterRoleOperation::RenameRole { role_name } => {
            changes.rename = Some(ident_name(role_name))
        }
        other => return Err(Error::unsupported(format!("ALTER ROLE … {other}"))),
    }
    alter(txn, name, changes, me).await
}

async fn alter_user(txn: &mut BufferedTxn, au: &AlterUser, me: &str) -> Result<Done> {
    let mut changes = Changes::default();
    if let Some(p) = &au.password {
        changes.password = Some(match &p.password {
            Some(text) => password_text(text)?,
            None => (None, None),
        });
    }
    changes.rename = au.rename_to.as_ref().map(ident_name);
    if changes.password.is_none() && changes.rename.is_none() {
        return Err(Error::unsupported(format!(
            "\"{}\"",
            first_words(&au.to_string())
        )));
    }
    alter(txn, &au.name, changes, me).await
}

async fn drop_roles(
    txn: &mut BufferedTxn,
    names: &[ObjectName],
    if_exists: bool,
    me: &str,
) -> Result<Done> {
    if !is_superuser(txn, me).await? {
        return Err(denied("drop role"));
    }
    let mut notices = Vec::new();
    let mut changed = false;
    for n in names {
        let name = role_name(n)?;
        let Some(user) = get_user(&txn.reader(), &name).await? else {
            if if_exists {
                notices.push(format!("role \"{name}\" does not exist, skipping"));
                continue;
            }
            return Err(undefined_role(&name));
        };
        if name == me {
            return Err(Error::new(
                code::OBJECT_IN_USE,
                "current user cannot be dropped",
            ));
        }
        if user.id == BOOTSTRAP_USER_ID {
            return Err(Error::new(
                code::DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop role {name} because it is required by the database system"),
            ));
        }
        CatalogWriter::new(txn).delete_user(&name)?;
        changed = true;
    }
    if changed {
        CatalogWriter::new(txn).bump_version().await?;
    }
    Ok(Done {
        tag: "DROP ROLE".into(),
        changed,
        notices,
    })
}

/// Parses `sql` again after the parser refused it with `e`, with
/// PostgreSQL's `CREATE USER …` and `ALTER USER …` options (which the
/// parser only reads after `ROLE`) spelled as `CREATE ROLE … LOGIN` and
/// `ALTER ROLE …`; `e` back when there is no such statement or it still
/// does not parse.
pub fn reparse(sql: &str, e: ParserError) -> std::result::Result<Vec<Statement>, ParserError> {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return Err(e);
    };
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len() + 2);
    let mut changed = false;
    for (n, stmt) in tokens.split(|t| *t == Token::SemiColon).enumerate() {
        if n > 0 {
            out.push(Token::SemiColon);
        }
        let words: Vec<(usize, &Token)> = stmt
            .iter()
            .enumerate()
            .filter(|(_, t)| !matches!(t, Token::Whitespace(_) | Token::EOF))
            .collect();
        let kw = |i: usize, k: Keyword| matches!(words.get(i), Some((_, Token::Word(w))) if w.keyword == k && w.quote_style.is_none());
        let is_create = kw(0, Keyword::CREATE) && kw(1, Keyword::USER);
        let is_alter = kw(0, Keyword::ALTER) && kw(1, Keyword::USER);
        if !(is_create || is_alter) {
            out.extend(stmt.iter().filter(|t| **t != Token::EOF).cloned());
            continue;
        }
        changed = true;
        let user_at = words[1].0;
        let has_login = words.iter().any(|(_, t)| {
            matches!(t, Token::Word(w) if w.quote_style.is_none()
                && matches!(w.keyword, Keyword::LOGIN | Keyword::NOLOGIN))
        });
        for (i, t) in stmt.iter().enumerate() {
            match t {
                Token::EOF => {}
                _ if i == user_at => out.push(Token::make_keyword("ROLE")),
                other => out.push(other.clone()),
            }
        }
        if is_create && !has_login {
            out.push(Token::Whitespace(Whitespace::Space));
            out.push(Token::make_keyword("LOGIN"));
        }
    }
    if !changed {
        return Err(e);
    }
    Parser::new(&dialect)
        .with_tokens(out)
        .parse_statements()
        .map_err(|_| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> Vec<Statement> {
        Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .or_else(|e| reparse(sql, e))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    #[test]
    fn create_user_reads_as_a_role_that_logs_in() {
        for sql in [
            "CREATE USER alice WITH PASSWORD 'pw'",
            "CREATE USER alice PASSWORD 'pw'",
            "create user alice with password 'pw' superuser",
        ] {
            match parse(sql).as_slice() {
                [Statement::CreateRole(cr)] => {
                    assert_eq!(cr.login, Some(true), "{sql}");
                    assert!(cr.password.is_some(), "{sql}");
                }
                other => panic!("{sql}: {other:?}"),
            }
        }
        match parse("CREATE USER bob NOLOGIN PASSWORD 'x'").as_slice() {
            [Statement::CreateRole(cr)] => assert_eq!(cr.login, Some(false)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("CREATE USER carol").as_slice(),
            [Statement::CreateUser(_)]
        ));
    }

    #[test]
    fn alter_and_drop_user_parse() {
        match parse("ALTER USER alice WITH PASSWORD 'pw2'").as_slice() {
            [Statement::AlterUser(au)] => {
                assert_eq!(
                    au.password.as_ref().and_then(|p| p.password.clone()),
                    Some("pw2".into())
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("ALTER USER alice WITH LOGIN").as_slice(),
            [Statement::AlterRole { .. }]
        ));
        assert!(matches!(
            parse("DROP USER IF EXISTS alice, bob").as_slice(),
            [Statement::Drop {
                object_type: ObjectType::User,
                if_exists: true,
                ..
            }]
        ));
    }
}
