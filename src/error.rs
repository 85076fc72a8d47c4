//! Errors as users see them: one line for the CLI, one gRPC status for the server. Both are
//! decided here, once, from the error's type where it has one.

use cdrlake_catalog::CatalogError;
use datafusion::error::DataFusionError;
use tonic::Status;

/// The error and its causes on one line, without repeating a cause already in the message. A
/// DataFusion error ends the line with its root cause (its own sources are in its message);
/// the context added around it (which model, which setting) is kept.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let datafusion = cause.downcast_ref::<DataFusionError>();
        let c = match datafusion {
            Some(df) => datafusion_message(df),
            None => cause.to_string(),
        };
        if !line.contains(&c) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&c);
        }
        if datafusion.is_some() {
            break;
        }
    }
    line.replace('\n', " ")
}

/// DataFusion's message without its Debug-formatted wrappers.
fn datafusion_message(e: &datafusion::error::DataFusionError) -> String {
    use datafusion::error::DataFusionError;
    match e.find_root() {
        DataFusionError::SQL(parser, _) => format!("SQL error: {parser}"),
        root => root.strip_backtrace(),
    }
}

/// The gRPC status of an error: a missing table is NotFound, a limit hit is
/// ResourceExhausted, every other problem with the request InvalidArgument.
pub fn status(e: &anyhow::Error) -> Status {
    let message = one_line(e);
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<CatalogError>() {
            match c {
                CatalogError::UnknownTable { .. } => return Status::not_found(message),
                // The schemas are fixed: naming another is a wrong request, not a missing thing.
                CatalogError::UnknownSchema(_) => return Status::invalid_argument(message),
                CatalogError::DataFusion(d) => return datafusion_status(d, message),
                _ => {}
            }
        }
        if let Some(d) = cause.downcast_ref::<DataFusionError>() {
            return datafusion_status(d, message);
        }
    }
    Status::invalid_argument(message)
}

fn datafusion_status(e: &DataFusionError, message: String) -> Status {
    match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => Status::resource_exhausted(message),
        // DataFusion reports a missing table or column as a planning error, by its message only.
        DataFusionError::Plan(m) if m.contains("not found") || m.contains("does not exist") => {
            Status::not_found(message)
        }
        DataFusionError::SchemaError(..) => Status::not_found(message),
        _ => Status::invalid_argument(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_error_type() {
        let missing = anyhow::Error::from(CatalogError::UnknownTable {
            schema: "gold".into(),
            table: "x".into(),
        });
        assert_eq!(status(&missing).code(), tonic::Code::NotFound);
        let limit = anyhow::Error::from(DataFusionError::ResourcesExhausted("memory".into()));
        assert_eq!(status(&limit).code(), tonic::Code::ResourceExhausted);
        let wrapped = anyhow::Error::from(DataFusionError::Context(
            "planning".into(),
            Box::new(DataFusionError::Plan("table 'gold.x' not found".into())),
        ));
        assert_eq!(status(&wrapped).code(), tonic::Code::NotFound);
        let other = anyhow::anyhow!("nonsense");
        assert_eq!(status(&other).code(), tonic::Code::InvalidArgument);
        assert_eq!(one_line(&anyhow::anyhow!("a\nb")), "a b");
    }

    #[test]
    fn one_line_keeps_the_context_around_a_datafusion_error() {
        let plan = || DataFusionError::Plan("No field named nope".into());
        let e = anyhow::Error::from(plan()).context("silver.windowed: @bind broken");
        assert_eq!(
            one_line(&e),
            "silver.windowed: @bind broken: Error during planning: No field named nope"
        );
        assert_eq!(
            one_line(&anyhow::Error::from(plan())),
            "Error during planning: No field named nope"
        );
    }
}
