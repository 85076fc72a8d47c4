//! Test harness: a real S3 server (s3s-fs, the same code as `cdrlake s3-server`) on 127.0.0.1,
//! sample data, and a runner for the real `cdrlake` binary.
#![allow(dead_code, reason = "each test binary uses only some of these helpers")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{ArrayRef, Decimal128Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use cdrlake::s3_server::{S3Credentials, serve};
use cdrlake_catalog::{LakehouseConfig, S3Settings};

pub mod flight;
pub mod server;
pub mod webhook;
pub mod worked;

pub const ACCESS_KEY: &str = "cdrlake-test";
pub const SECRET_KEY: &str = "cdrlake-test-secret";

/// An S3 endpoint on a free loopback port, serving a temporary directory until the test ends.
pub struct TestS3 {
    pub endpoint: String,
    pub root: tempfile::TempDir,
}

impl TestS3 {
    pub fn start() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let dir = root.path().to_path_buf();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let creds = S3Credentials {
                    access_key: ACCESS_KEY.into(),
                    secret_key: SECRET_KEY.into(),
                };
                serve(listener, dir, creds).await
            })
        });
        Self { endpoint, root }
    }

    pub fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            access_key_id: Some(ACCESS_KEY.into()),
            secret_access_key: Some(SECRET_KEY.into()),
            session_token: None,
            allow_http: Some(true),
        }
    }

    pub fn config(&self, root: &str) -> LakehouseConfig {
        LakehouseConfig {
            root: root.into(),
            s3: self.settings(),
            hmac_key: None,
        }
    }

    /// Environment for a `cdrlake` child process using this endpoint.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }
}

/// Rows `ids` of a small call table: text, integer and money columns.
pub fn calls(ids: std::ops::Range<i64>) -> RecordBatch {
    let msisdn: Vec<String> = ids.clone().map(|i| format!("+21261{i:07}")).collect();
    let duration: Vec<i64> = ids.clone().map(|i| 60 + i).collect();
    // 1.2345 MAD * (i+1), in units of 10^-4
    let charge: Vec<i128> = ids.clone().map(|i| 12_345 * (i as i128 + 1)).collect();
    RecordBatch::try_from_iter(vec![
        (
            "call_id",
            Arc::new(Int64Array::from_iter_values(ids)) as ArrayRef,
        ),
        (
            "served_msisdn",
            Arc::new(StringArray::from(msisdn)) as ArrayRef,
        ),
        (
            "duration_s",
            Arc::new(Int64Array::from(duration)) as ArrayRef,
        ),
        (
            "charge",
            Arc::new(
                Decimal128Array::from(charge)
                    .with_precision_and_scale(18, 4)
                    .expect("decimal"),
            ) as ArrayRef,
        ),
    ])
    .expect("batch")
}

/// Runs the real binary with a clean AWS environment plus `env`, in `cwd`.
pub fn cdrlake(cwd: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cdrlake"));
    cmd.current_dir(cwd).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("CDRLAKE_") {
            cmd.env_remove(k);
        }
    }
    // Never ask a cloud metadata service for credentials: tests talk to loopback only.
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run cdrlake")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a failed run printed exactly one `error:` line mentioning every `needle`, and no panic.
pub fn assert_clean_error(o: &Output, needles: &[&str]) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "expected exit 1, stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr should mention {n:?}: {err}");
    }
    err
}

/// A lakehouse in a temporary directory, driven through the binary (`./lakehouse` in its cwd).
pub struct Lake {
    dir: tempfile::TempDir,
}

#[allow(dead_code, reason = "each test binary uses only some of these helpers")]
impl Lake {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn cwd(&self) -> &Path {
        self.dir.path()
    }
    pub fn file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.cwd().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }
    pub fn ingest(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["ingest"];
        all.extend_from_slice(args);
        cdrlake(self.cwd(), &all, &[])
    }
    pub fn csv(&self, sql: &str) -> String {
        let o = cdrlake(self.cwd(), &["query", "--format", "csv", sql], &[]);
        assert!(o.status.success(), "{sql}\n{}", stderr(&o));
        stdout(&o)
    }
    /// Runs a command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = cdrlake(self.cwd(), args, &[]);
        assert!(
            o.status.success(),
            "cdrlake {args:?} failed:\n{}{}",
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }
    pub fn version(&self, table: &str) -> String {
        let o = cdrlake(self.cwd(), &["history", table, "--format", "csv"], &[]);
        if !o.status.success() {
            return "none".into();
        }
        stdout(&o)
            .lines()
            .nth(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .unwrap_or_default()
    }
}

/// A CSV of a bronze event table with the contract's columns in order: the given fields set,
/// the others empty; fields with a comma are quoted.
#[allow(dead_code, reason = "each test binary uses only some of these helpers")]
pub fn contract_csv<'k, R, V>(table: &str, rows: &[R]) -> String
where
    R: AsRef<[(&'k str, V)]>,
    V: AsRef<str>,
{
    let columns = cdrlake::contract::bronze_event_columns(table).expect("a bronze event table");
    let mut out = columns.join(",") + "\n";
    for row in rows {
        let line: Vec<String> = columns
            .iter()
            .map(|c| {
                let value = row
                    .as_ref()
                    .iter()
                    .find(|(k, _)| k == c)
                    .map_or("", |(_, v)| v.as_ref());
                if value.contains(',') {
                    format!("\"{value}\"")
                } else {
                    value.to_string()
                }
            })
            .collect();
        out += &(line.join(",") + "\n");
    }
    out
}

/// Copies directory `from` into `to`, recursively (a project to change in a test).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}
