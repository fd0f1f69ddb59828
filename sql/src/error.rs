//! The SQL layer's error: a PostgreSQL SQLSTATE, a message, and optional
//! detail and hint, as PostgreSQL reports them. Every error a user can
//! cause is one of these with the code PostgreSQL 15 would give; the
//! pgwire edge turns it into an ErrorResponse without looking inside.

use std::fmt;

/// SQLSTATE codes used by the SQL layer (PostgreSQL's names).
pub mod code {
    /// successful_completion (not an error; notices).
    pub const WARNING: &str = "01000";
    /// feature_not_supported.
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    /// cardinality_violation (a scalar subquery returned several rows).
    pub const CARDINALITY_VIOLATION: &str = "21000";
    /// string_data_right_truncation.
    pub const STRING_DATA_RIGHT_TRUNCATION: &str = "22001";
    /// numeric_value_out_of_range.
    pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
    /// invalid_datetime_format.
    pub const INVALID_DATETIME_FORMAT: &str = "22007";
    /// datetime_field_overflow.
    pub const DATETIME_FIELD_OVERFLOW: &str = "22008";
    /// division_by_zero.
    pub const DIVISION_BY_ZERO: &str = "22012";
    /// invalid_parameter_value.
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    /// invalid_text_representation.
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    /// character_not_in_repertoire (invalid UTF-8).
    pub const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";
    /// invalid_binary_representation.
    pub const INVALID_BINARY_REPRESENTATION: &str = "22P03";
    /// data_exception (generic).
    pub const DATA_EXCEPTION: &str = "22000";
    /// not_null_violation.
    pub const NOT_NULL_VIOLATION: &str = "23502";
    /// foreign_key_violation.
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    /// unique_violation.
    pub const UNIQUE_VIOLATION: &str = "23505";
    /// check_violation.
    pub const CHECK_VIOLATION: &str = "23514";
    /// active_sql_transaction (e.g. a nested BEGIN: a warning in PG).
    pub const ACTIVE_SQL_TRANSACTION: &str = "25001";
    /// no_active_sql_transaction.
    pub const NO_ACTIVE_SQL_TRANSACTION: &str = "25P01";
    /// in_failed_sql_transaction.
    pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
    /// read_only_sql_transaction.
    pub const READ_ONLY_SQL_TRANSACTION: &str = "25006";
    /// invalid_password.
    pub const INVALID_PASSWORD: &str = "28P01";
    /// invalid_authorization_specification.
    pub const INVALID_AUTHORIZATION: &str = "28000";
    /// invalid_sql_statement_name (unknown prepared statement).
    pub const INVALID_SQL_STATEMENT_NAME: &str = "26000";
    /// duplicate_prepared_statement.
    pub const DUPLICATE_PSTATEMENT: &str = "42P05";
    /// object_in_use (e.g. dropping the current user).
    pub const OBJECT_IN_USE: &str = "55006";
    /// invalid_savepoint_specification.
    pub const INVALID_SAVEPOINT: &str = "3B001";
    /// serialization_failure: retry the transaction.
    pub const SERIALIZATION_FAILURE: &str = "40001";
    /// syntax_error.
    pub const SYNTAX_ERROR: &str = "42601";
    /// invalid_name (e.g. a malformed relation name given as text).
    pub const INVALID_NAME: &str = "42602";
    /// insufficient_privilege.
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    /// undefined_column.
    pub const UNDEFINED_COLUMN: &str = "42703";
    /// undefined_function.
    pub const UNDEFINED_FUNCTION: &str = "42883";
    /// undefined_table.
    pub const UNDEFINED_TABLE: &str = "42P01";
    /// undefined_object (e.g. unknown setting, constraint).
    pub const UNDEFINED_OBJECT: &str = "42704";
    /// undefined_schema.
    pub const UNDEFINED_SCHEMA: &str = "3F000";
    /// duplicate_table.
    pub const DUPLICATE_TABLE: &str = "42P07";
    /// duplicate_column.
    pub const DUPLICATE_COLUMN: &str = "42701";
    /// duplicate_schema.
    pub const DUPLICATE_SCHEMA: &str = "42P06";
    /// duplicate_object.
    pub const DUPLICATE_OBJECT: &str = "42710";
    /// ambiguous_column.
    pub const AMBIGUOUS_COLUMN: &str = "42702";
    /// datatype_mismatch.
    pub const DATATYPE_MISMATCH: &str = "42804";
    /// grouping_error.
    pub const GROUPING_ERROR: &str = "42803";
    /// windowing_error.
    pub const WINDOWING_ERROR: &str = "42P20";
    /// wrong_object_type.
    pub const WRONG_OBJECT_TYPE: &str = "42809";
    /// invalid_table_definition.
    pub const INVALID_TABLE_DEFINITION: &str = "42P16";
    /// invalid_column_definition.
    pub const INVALID_COLUMN_DEFINITION: &str = "42611";
    /// dependent_objects_still_exist.
    pub const DEPENDENT_OBJECTS_STILL_EXIST: &str = "2BP01";
    /// cannot_coerce / undefined cast.
    pub const CANNOT_COERCE: &str = "42846";
    /// program_limit_exceeded (e.g. a transaction too large).
    pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
    /// object_not_in_prerequisite_state (e.g. currval before nextval).
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";
    /// query_canceled.
    pub const QUERY_CANCELED: &str = "57014";
    /// protocol_violation.
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    /// internal_error.
    pub const INTERNAL_ERROR: &str = "XX000";
    /// connection_failure (the KV layer could not be reached).
    pub const CONNECTION_FAILURE: &str = "08006";
    /// sequence_generator_limit_exceeded.
    pub const SEQUENCE_LIMIT: &str = "2200H";
    /// A value given for a `GENERATED ALWAYS` column.
    pub const GENERATED_ALWAYS: &str = "428C9";
    /// A view (or other object) whose definition cannot work.
    pub const INVALID_OBJECT_DEFINITION: &str = "42P17";
    /// A foreign key that references no unique key.
    pub const INVALID_FOREIGN_KEY: &str = "42830";
    /// An ON CONFLICT target that names no unique key.
    pub const INVALID_COLUMN_REFERENCE: &str = "42P10";
}

/// An error as PostgreSQL reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The SQLSTATE.
    pub code: &'static str,
    /// The primary message.
    pub message: String,
    /// More detail, if any.
    pub detail: Option<String>,
    /// What to do about it, if anything.
    pub hint: Option<String>,
}

impl Error {
    /// An error with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    /// The same error with a detail line.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    /// The same error with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }

    /// 0A000: the statement uses something Strata does not support.
    pub fn unsupported(what: impl fmt::Display) -> Error {
        Error::new(
            code::FEATURE_NOT_SUPPORTED,
            format!("{what} is not supported"),
        )
    }

    /// 42601.
    pub fn syntax(message: impl Into<String>) -> Error {
        Error::new(code::SYNTAX_ERROR, message)
    }

    /// XX000: a bug or broken invariant, not the user's fault.
    pub fn internal(message: impl fmt::Display) -> Error {
        Error::new(code::INTERNAL_ERROR, format!("internal error: {message}"))
    }

    /// 42P01.
    pub fn undefined_table(name: &str) -> Error {
        Error::new(
            code::UNDEFINED_TABLE,
            format!("relation \"{name}\" does not exist"),
        )
    }

    /// 42703.
    pub fn undefined_column(name: &str) -> Error {
        Error::new(
            code::UNDEFINED_COLUMN,
            format!("column \"{name}\" does not exist"),
        )
    }

    /// Whether the whole transaction may succeed if retried.
    pub fn is_retryable(&self) -> bool {
        self.code == code::SERIALIZATION_FAILURE
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Error {}

/// Results of the SQL layer.
pub type Result<T> = std::result::Result<T, Error>;

impl From<client::Error> for Error {
    fn from(e: client::Error) -> Self {
        use client::Error as C;
        match e {
            C::TxnConflict(m) => Error::new(
                code::SERIALIZATION_FAILURE,
                "could not serialize access due to concurrent update",
            )
            .with_detail(m)
            .with_hint("Retry the transaction."),
            C::TxnTooLarge(m) => Error::new(
                code::PROGRAM_LIMIT_EXCEEDED,
                format!("transaction is too large: {m}"),
            )
            .with_hint("Split the work into smaller transactions."),
            C::TxnUndetermined(m) => Error::new(
                code::CONNECTION_FAILURE,
                format!("the outcome of the commit is unknown: {m}"),
            ),
            C::Deadline(..) | C::Pd(_) | C::Remote(_) | C::Unsupported(_) => Error::new(
                code::CONNECTION_FAILURE,
                format!("storage unavailable: {e}"),
            ),
            e => Error::internal(e),
        }
    }
}

impl From<crate::codec::key::KeyError> for Error {
    fn from(e: crate::codec::key::KeyError) -> Self {
        Error::new(code::FEATURE_NOT_SUPPORTED, e.to_string())
    }
}

impl From<crate::codec::row::RowError> for Error {
    fn from(e: crate::codec::row::RowError) -> Self {
        Error::internal(format!("corrupted row: {e}"))
    }
}
