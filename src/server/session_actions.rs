//! The Flight session actions (`SetSessionOptions`, `GetSessionOptions`, `CloseSession`, from
//! Flight.proto; arrow-flight 59 has no types for them). The Flight SQL JDBC driver sends its
//! `catalog` and `schema` connection properties through SetSessionOptions and fails the
//! connection on an error, so these answer for the caller's own session.

use std::collections::HashMap;

use prost::Message;

use super::middleware::Caller;
use super::session::{OptionError, Sessions};

pub const SET_SESSION_OPTIONS: &str = "SetSessionOptions";
pub const GET_SESSION_OPTIONS: &str = "GetSessionOptions";
pub const CLOSE_SESSION: &str = "CloseSession";

#[derive(Clone, PartialEq, Message)]
pub struct StringListValue {
    #[prost(string, repeated, tag = "1")]
    pub values: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum OptionValue {
    #[prost(string, tag = "1")]
    String(String),
    #[prost(bool, tag = "2")]
    Bool(bool),
    #[prost(sfixed64, tag = "3")]
    Int64(i64),
    #[prost(double, tag = "4")]
    Double(f64),
    #[prost(message, tag = "5")]
    StringList(StringListValue),
}

#[derive(Clone, PartialEq, Message)]
pub struct SessionOptionValue {
    #[prost(oneof = "OptionValue", tags = "1, 2, 3, 4, 5")]
    pub option_value: Option<OptionValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct SetSessionOptionsRequest {
    #[prost(map = "string, message", tag = "1")]
    pub session_options: HashMap<String, SessionOptionValue>,
}

/// SetSessionOptionsResult.ErrorValue
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum ErrorValue {
    Unspecified = 0,
    InvalidName = 1,
    InvalidValue = 2,
    Error = 3,
}

#[derive(Clone, PartialEq, Message)]
pub struct SetError {
    #[prost(enumeration = "ErrorValue", tag = "1")]
    pub value: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct SetSessionOptionsResult {
    #[prost(map = "string, message", tag = "1")]
    pub errors: HashMap<String, SetError>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetSessionOptionsResult {
    #[prost(map = "string, message", tag = "1")]
    pub session_options: HashMap<String, SessionOptionValue>,
}

/// CloseSessionResult.Status
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum CloseStatus {
    Unspecified = 0,
    Closed = 1,
    Closing = 2,
    NotCloseable = 3,
}

#[derive(Clone, PartialEq, Message)]
pub struct CloseSessionResult {
    #[prost(enumeration = "CloseStatus", tag = "1")]
    pub status: i32,
}

/// Sets each option on the caller's session; the result names those that were not set.
pub fn set_options(caller: &Caller, body: &[u8]) -> Result<Vec<u8>, tonic::Status> {
    let request = SetSessionOptionsRequest::decode(body)
        .map_err(|e| tonic::Status::invalid_argument(format!("SetSessionOptions: {e}")))?;
    let mut errors = HashMap::new();
    for (name, value) in request.session_options {
        let text = match value.option_value {
            Some(OptionValue::String(s)) => Some(s),
            Some(OptionValue::Bool(b)) => Some(b.to_string()),
            Some(OptionValue::Int64(i)) => Some(i.to_string()),
            Some(OptionValue::Double(d)) => Some(d.to_string()),
            Some(OptionValue::StringList(_)) => None,
            // A valueless option asks for the default.
            None => {
                let reset = caller.session.reset_option(&name);
                if let Err(e) = reset {
                    errors.insert(name, error_of(&e));
                }
                continue;
            }
        };
        let result = match text {
            Some(t) => caller.session.set_option(&name, &t),
            None => Err(OptionError::InvalidValue(
                "lists are not option values".into(),
            )),
        };
        if let Err(e) = result {
            tracing::info!(
                "{}: SetSessionOptions refused: {}",
                caller.session.user,
                e.message()
            );
            errors.insert(name, error_of(&e));
        }
    }
    Ok(SetSessionOptionsResult { errors }.encode_to_vec())
}

fn error_of(e: &OptionError) -> SetError {
    let value = match e {
        OptionError::InvalidName(_) => ErrorValue::InvalidName,
        OptionError::InvalidValue(_) => ErrorValue::InvalidValue,
    };
    SetError {
        value: value as i32,
    }
}

/// The caller's options, every value a string.
pub fn get_options(caller: &Caller) -> Vec<u8> {
    let session_options = caller
        .session
        .options()
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                SessionOptionValue {
                    option_value: Some(OptionValue::String(v)),
                },
            )
        })
        .collect();
    GetSessionOptionsResult { session_options }.encode_to_vec()
}

/// Ends the caller's session (and with it their token: the next call must log in again).
pub fn close(caller: &Caller, sessions: &Sessions) -> Vec<u8> {
    let status = if sessions.close(&caller.key) {
        CloseStatus::Closed
    } else {
        CloseStatus::NotCloseable
    };
    CloseSessionResult {
        status: status as i32,
    }
    .encode_to_vec()
}
