//! Bucket-level S3 calls (aws-sdk-s3): a preflight check that turns connection, credential and
//! bucket problems into one clear error, and bucket creation for `cdrlake init`.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::config::S3Settings;
use crate::error::{CatalogError, Result};

pub(crate) fn endpoint_name(s3: &S3Settings) -> String {
    s3.endpoint.clone().unwrap_or_else(|| "AWS S3".to_string())
}

async fn client(s3: &S3Settings) -> Client {
    let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(30))
        .build();
    let retry = aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(2);
    let region = Region::new(s3.region_or_default().to_string());
    let mut builder = match (&s3.access_key_id, &s3.secret_access_key) {
        (Some(key), Some(secret)) => aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .credentials_provider(Credentials::new(
                key,
                secret,
                s3.session_token.clone(),
                None,
                "cdrlake",
            )),
        // No keys given: the standard AWS chain (profile, web identity, instance role).
        _ => {
            let shared = aws_config::defaults(BehaviorVersion::latest())
                .region(region.clone())
                .load()
                .await;
            aws_sdk_s3::config::Builder::from(&shared)
        }
    };
    builder = builder
        .region(region)
        .force_path_style(true)
        .timeout_config(timeouts)
        .retry_config(retry);
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Client::from_conf(builder.build())
}

/// Map an SDK failure on `bucket` to the error a user can act on.
fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    s3: &S3Settings,
    bucket: &str,
    err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> CatalogError {
    let endpoint = endpoint_name(s3);
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => CatalogError::Unreachable {
            endpoint,
            detail: root_cause(&err),
        },
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            match (status, code) {
                (404, _) | (_, "NoSuchBucket") => CatalogError::NoSuchBucket {
                    endpoint,
                    bucket: bucket.into(),
                },
                (401 | 403, _)
                | (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied") => {
                    CatalogError::AccessDenied {
                        endpoint,
                        bucket: bucket.into(),
                    }
                }
                _ => CatalogError::S3 {
                    endpoint,
                    detail: format!("HTTP {status} {code}"),
                },
            }
        }
        _ => CatalogError::S3 {
            endpoint,
            detail: root_cause(&err),
        },
    }
}

/// The innermost error message: the SDK wraps "connection refused" several layers deep.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &dyn std::error::Error = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Fails with a clear error unless `bucket` exists and the credentials may use it.
pub async fn check_bucket(s3: &S3Settings, bucket: &str) -> Result<()> {
    let client = client(s3).await;
    match client.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) => Err(classify(s3, bucket, e)),
    }
}

/// Creates `bucket` unless it exists. Returns true when it was created.
pub async fn ensure_bucket(s3: &S3Settings, bucket: &str) -> Result<bool> {
    match check_bucket(s3, bucket).await {
        Ok(()) => return Ok(false),
        Err(CatalogError::NoSuchBucket { .. }) => {}
        Err(e) => return Err(e),
    }
    let client = client(s3).await;
    let mut req = client.create_bucket().bucket(bucket);
    let region = s3.region_or_default();
    if region != "us-east-1" {
        let cfg = CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(region))
            .build();
        req = req.create_bucket_configuration(cfg);
    }
    match req.send().await {
        Ok(_) => Ok(true),
        Err(e) => match e.as_service_error().and_then(|s| s.code()) {
            Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists") => Ok(false),
            _ => Err(classify(s3, bucket, e)),
        },
    }
}
