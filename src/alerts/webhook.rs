//! Delivers `system.alerts` to a webhook: one JSON POST per event, signed, retried, and recorded
//! in `system.alert_deliveries` once the receiver answered 2xx (docs/operations.md).
//!
//! Headers: `X-Cdrlake-Event-Id` (receivers drop an id they have seen: delivery is at least
//! once), `X-Cdrlake-Timestamp` (Unix seconds) and `X-Cdrlake-Signature: sha256=<hex>`, the
//! HMAC-SHA256 under the shared secret of `<timestamp>.<body>`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cdrlake_catalog::WriteMode;

use crate::engine::Engine;

pub const DELIVERIES: (&str, &str) = ("system", "alert_deliveries");

/// The environment variable holding the shared secret (never a flag: flags show in `ps`).
pub const SECRET_ENV: &str = "CDRLAKE_WEBHOOK_SECRET";

/// Events sent per delivery round; the rest wait for the next.
const BATCH: usize = 500;

pub struct Webhook {
    url: url::Url,
    secret: String,
    client: reqwest::Client,
    /// Tries per event within one round.
    attempts: u32,
    pause: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Webhook")
            .field("endpoint", &self.endpoint())
            .finish()
    }
}

/// What a round did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    /// Still to send: the receiver failed, or more than one round's worth was waiting.
    pub pending: usize,
}

impl Webhook {
    pub fn new(url: url::Url, secret: String) -> Result<Self> {
        if !matches!(url.scheme(), "http" | "https") {
            bail!(
                "--alert-webhook must be an http(s) URL, not {}",
                url.scheme()
            );
        }
        if secret.len() < 16 {
            bail!("{SECRET_ENV} must hold a shared secret of at least 16 characters");
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            url,
            secret,
            client,
            attempts: 3,
            pause: Duration::from_secs(1),
        })
    }

    /// Where events go, without credentials or query (what the log and the table show).
    pub fn endpoint(&self) -> String {
        let mut shown = self.url.clone();
        shown.set_query(None);
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        shown.to_string()
    }

    /// Sends the events not sent yet (in `system.alerts`, which [`super::collect`] creates),
    /// oldest first, and records each one the receiver took.
    /// Stops at the first event the receiver refuses `attempts` times (order is kept; the next
    /// round begins with it).
    pub async fn deliver(&self, engine: &Engine) -> Result<Delivered> {
        let lakehouse = engine.lakehouse();
        lakehouse
            .ensure_table(DELIVERIES.0, DELIVERIES.1, deliveries_schema())
            .await?;
        let batches = engine
            .sql(&format!(
                "SELECT event_id, payload FROM system.alerts a WHERE NOT EXISTS \
                 (SELECT 1 FROM system.alert_deliveries d WHERE d.event_id = a.event_id) \
                 ORDER BY raised_at, event_id LIMIT {}",
                BATCH + 1
            ))
            .await?;
        let mut waiting = Vec::new();
        for b in &batches {
            // Delta scans give text as Utf8View.
            let ids = arrow::compute::cast(b.column(0), &DataType::Utf8)?;
            let bodies = arrow::compute::cast(b.column(1), &DataType::Utf8)?;
            let (ids, bodies) = (ids.as_string::<i32>(), bodies.as_string::<i32>());
            waiting.extend(ids.iter().zip(bodies.iter()).map(|(i, p)| {
                (
                    i.unwrap_or_default().to_string(),
                    p.unwrap_or_default().to_string(),
                )
            }));
        }
        let mut sent = Vec::new();
        let mut failure = None;
        for (id, body) in waiting.iter().take(BATCH) {
            match self.send(id, body).await {
                Ok(receipt) => sent.push((id.clone(), receipt)),
                Err(e) => {
                    failure =
                        Some(e.context(format!("event {id} not delivered to {}", self.endpoint())));
                    break;
                }
            }
        }
        self.record(engine, &sent).await?;
        let metrics = crate::metrics::metrics();
        metrics.alerts_delivered.inc_by(sent.len() as u64);
        if let Some(e) = failure {
            metrics.alert_delivery_failures.inc();
            return Err(e);
        }
        Ok(Delivered {
            sent: sent.len(),
            pending: waiting.len() - sent.len(),
        })
    }

    /// POSTs one event, trying again after a growing pause; the receiver's status and the tries.
    async fn send(&self, id: &str, body: &str) -> Result<(u16, u32)> {
        let mut last = None;
        for attempt in 1..=self.attempts {
            if attempt > 1 {
                tokio::time::sleep(self.pause * 2u32.pow(attempt - 2)).await;
            }
            let timestamp = chrono::Utc::now().timestamp().to_string();
            let outcome = self
                .client
                .post(self.url.clone())
                .header("Content-Type", "application/json")
                .header("X-Cdrlake-Event-Id", id)
                .header("X-Cdrlake-Timestamp", &timestamp)
                .header(
                    "X-Cdrlake-Signature",
                    format!("sha256={}", signature(&self.secret, &timestamp, body)),
                )
                .body(body.to_string())
                .send()
                .await;
            match outcome {
                Ok(r) if r.status().is_success() => return Ok((r.status().as_u16(), attempt)),
                Ok(r) => last = Some(anyhow::anyhow!("the receiver answered {}", r.status())),
                Err(e) => {
                    last = Some(anyhow::Error::new(e).context("the receiver could not be reached"))
                }
            }
        }
        Err(last.context("no attempt was made")?)
    }

    async fn record(&self, engine: &Engine, sent: &[(String, (u16, u32))]) -> Result<()> {
        if sent.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now().timestamp_micros();
        let endpoint = self.endpoint();
        let batch = RecordBatch::try_new(
            deliveries_schema(),
            vec![
                Arc::new(StringArray::from_iter_values(sent.iter().map(|(id, _)| id))),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![now; sent.len()]).with_timezone("UTC"),
                ),
                Arc::new(Int64Array::from_iter_values(
                    sent.iter().map(|(_, (_, n))| i64::from(*n)),
                )),
                Arc::new(Int64Array::from_iter_values(
                    sent.iter().map(|(_, (s, _))| i64::from(*s)),
                )),
                Arc::new(StringArray::from_iter_values(
                    sent.iter().map(|_| endpoint.as_str()),
                )),
            ],
        )?;
        engine
            .lakehouse()
            .write_batches(DELIVERIES.0, DELIVERIES.1, vec![batch], WriteMode::Append)
            .await?;
        Ok(())
    }
}

pub fn deliveries_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new(
            "delivered_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("attempts", DataType::Int64, false),
        Field::new("http_status", DataType::Int64, false),
        Field::new("endpoint", DataType::Utf8, false),
    ]))
}

/// `hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`: what a receiver recomputes to trust a POST.
pub fn signature(secret: &str, timestamp: &str, body: &str) -> String {
    cdrlake_udfs::analytics::hmac_token::hmac_sha256_hex(
        secret.as_bytes(),
        &[timestamp.as_bytes(), b".", body.as_bytes()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Against an independent computation (Python: hmac.new(b"secret",
        // b"1700000000.{}", "sha256").hexdigest()).
        assert_eq!(
            signature("secret", "1700000000", "{}"),
            "b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn endpoint_hides_credentials_and_query() {
        let hook = Webhook::new(
            "http://user:pw@127.0.0.1:9/hook?token=abc".parse().unwrap(),
            "0123456789abcdef".into(),
        )
        .unwrap();
        assert_eq!(hook.endpoint(), "http://127.0.0.1:9/hook");
    }

    #[test]
    fn refuses_a_short_secret_and_other_schemes() {
        let url: url::Url = "http://127.0.0.1:9/hook".parse().unwrap();
        assert!(Webhook::new(url.clone(), "short".into()).is_err());
        assert!(
            Webhook::new(
                "ftp://127.0.0.1/x".parse().unwrap(),
                "0123456789abcdef".into()
            )
            .is_err()
        );
    }
}
