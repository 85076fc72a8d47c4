//! Query cancellation. Every FlightInfo the server hands out names a query (a fresh id in a
//! statement ticket, the handle of a prepared statement); CancelFlightInfo / CancelQuery with that
//! FlightInfo flags it, and its DoGet stops (or never starts) with status CANCELLED. Dropping the
//! result stream stops DataFusion's execution.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use arrow_flight::sql::{Any, CommandPreparedStatementQuery, TicketStatementQuery};
use arrow_flight::{FlightInfo, Ticket};
use futures::{Stream, StreamExt};
use prost::Message;

/// A query's flag, and a way to wake its stream.
#[derive(Debug)]
pub struct CancelFlag {
    cancelled: AtomicBool,
    notify: tokio::sync::Notify,
    created: Instant,
}

impl CancelFlag {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            cancelled: AtomicBool::new(false),
            notify: tokio::sync::Notify::new(),
            created: Instant::now(),
        })
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Ids of queries that were described and may still be fetched.
#[derive(Debug, Default)]
pub struct Cancellations {
    flags: Mutex<HashMap<String, Arc<CancelFlag>>>,
}

/// FlightInfos never fetched would stay forever: ids older than this are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

pub const CANCELLED_MESSAGE: &str = "query cancelled by the client";

impl Cancellations {
    /// A fresh flag for `id` (a prepared statement executed again starts uncancelled).
    pub fn register(&self, id: &str) {
        let Ok(mut flags) = self.flags.lock() else {
            return;
        };
        flags.retain(|_, f| f.created.elapsed() < FORGET_AFTER);
        flags.insert(id.to_string(), CancelFlag::new());
    }

    /// The flag of `id`, registering it if DoGet came without a FlightInfo from us.
    pub fn flag(&self, id: &str) -> Arc<CancelFlag> {
        let mut flags = self.flags.lock().expect("cancellation registry poisoned");
        flags
            .entry(id.to_string())
            .or_insert_with(CancelFlag::new)
            .clone()
    }

    pub fn finished(&self, id: &str) {
        if let Ok(mut flags) = self.flags.lock() {
            flags.remove(id);
        }
    }

    /// Flags the query `info` describes; false when it is unknown or already finished.
    pub fn cancel(&self, info: &FlightInfo) -> bool {
        let Some(id) = info
            .endpoint
            .first()
            .and_then(|e| e.ticket.as_ref())
            .and_then(query_id)
        else {
            return false;
        };
        let flag = self.flags.lock().ok().and_then(|f| f.get(&id).cloned());
        match flag {
            Some(flag) => {
                flag.cancelled.store(true, Ordering::SeqCst);
                flag.notify.notify_waiters();
                true
            }
            None => false,
        }
    }
}

/// The query id a ticket carries: the id before the NUL of a statement ticket, or the handle of
/// a prepared statement.
pub fn query_id(ticket: &Ticket) -> Option<String> {
    let any = Any::decode(ticket.ticket.as_ref()).ok()?;
    if let Ok(Some(t)) = any.unpack::<TicketStatementQuery>() {
        return split_statement_handle(&t.statement_handle).map(|(id, _)| id.to_string());
    }
    if let Ok(Some(p)) = any.unpack::<CommandPreparedStatementQuery>() {
        return Some(String::from_utf8_lossy(&p.prepared_statement_handle).into_owned());
    }
    None
}

/// `<id>\0<sql>` -> (id, sql). Tickets without an id (older clients' reuse) give `None`.
pub fn split_statement_handle(handle: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(handle).ok()?;
    let (id, sql) = text.split_once('\0')?;
    (id.len() == 36).then_some((id, sql))
}

pub fn statement_handle(id: &str, sql: &str) -> Vec<u8> {
    format!("{id}\0{sql}").into_bytes()
}

type Batches = Pin<Box<dyn Stream<Item = datafusion::error::Result<RecordBatch>> + Send>>;

/// `batches` until `flag` is raised; then one cancellation error and the end (dropping the rest
/// of the plan stops its execution).
pub fn until_cancelled(batches: Batches, flag: Arc<CancelFlag>) -> Batches {
    Box::pin(futures::stream::unfold(
        Some((batches, flag)),
        |state| async move {
            let (mut batches, flag) = state?;
            if flag.is_cancelled() {
                return Some((Err(cancelled()), None));
            }
            let notified = flag.notify.notified();
            tokio::select! {
                item = batches.next() => item.map(|i| (i, Some((batches, flag)))),
                () = notified => Some((Err(cancelled()), None)),
            }
        },
    ))
}

fn cancelled() -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution(CANCELLED_MESSAGE.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_flight::FlightEndpoint;
    use arrow_flight::sql::ProstMessageExt;

    fn info_for(handle: Vec<u8>) -> FlightInfo {
        let ticket = TicketStatementQuery {
            statement_handle: handle.into(),
        };
        FlightInfo::new().with_endpoint(
            FlightEndpoint::new().with_ticket(Ticket::new(ticket.as_any().encode_to_vec())),
        )
    }

    #[tokio::test]
    async fn a_cancelled_query_ends_its_stream() {
        let registry = Cancellations::default();
        let id = uuid::Uuid::now_v7().to_string();
        registry.register(&id);
        let info = info_for(statement_handle(&id, "SELECT 1"));
        assert!(
            !registry.cancel(&info_for(statement_handle(
                &uuid::Uuid::now_v7().to_string(),
                "SELECT 1"
            ))),
            "unknown id"
        );
        let endless: Batches = Box::pin(futures::stream::pending());
        let mut stream = until_cancelled(endless, registry.flag(&id));
        let canceller = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(registry.cancel(&info));
        };
        let (item, ()) = tokio::join!(stream.next(), canceller);
        assert!(
            item.unwrap()
                .unwrap_err()
                .to_string()
                .contains(CANCELLED_MESSAGE)
        );
        assert!(stream.next().await.is_none());
        assert_eq!(
            split_statement_handle(&statement_handle(&id, "SELECT '\0'")),
            Some((id.as_str(), "SELECT '\0'"))
        );
        assert_eq!(split_statement_handle(b"SELECT 1"), None);
    }
}
