//! Arguments every command shares: where the lakehouse is (global flags) and where results go.
//! They live with the commands, not in `cli.rs`, so nothing below the CLI imports it.

use std::path::PathBuf;

use anyhow::Result;
use cdrlake_catalog::{LakehouseConfig, Overrides, S3Settings};
use clap::Args;

use crate::output::Format;

/// Where the lakehouse is. Precedence: these flags > environment > cdrlake.toml > defaults.
#[derive(Debug, Args, Default, Clone)]
pub struct GlobalArgs {
    /// Lakehouse root: a local directory or s3://bucket/prefix [env: CDRLAKE_LAKEHOUSE] [default: ./lakehouse]
    #[arg(long, global = true, value_name = "URL")]
    pub lakehouse: Option<String>,
    /// Configuration file [env: CDRLAKE_CONFIG] [default: ./cdrlake.toml when present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// S3 endpoint URL, e.g. http://127.0.0.1:9000 for MinIO [env: AWS_ENDPOINT_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// S3 region [env: AWS_REGION] [default: us-east-1]
    #[arg(long, global = true)]
    pub s3_region: Option<String>,
    /// S3 access key id [env: AWS_ACCESS_KEY_ID]
    #[arg(long, global = true)]
    pub s3_access_key_id: Option<String>,
    /// S3 secret access key (prefer the environment variable) [env: AWS_SECRET_ACCESS_KEY]
    #[arg(long, global = true)]
    pub s3_secret_access_key: Option<String>,
    /// Allow plain HTTP to the S3 endpoint [env: AWS_ALLOW_HTTP] [default: true for http:// endpoints]
    #[arg(long, global = true)]
    pub s3_allow_http: Option<bool>,
}

impl GlobalArgs {
    /// `--config`, else `$CDRLAKE_CONFIG`, else `./cdrlake.toml` when it exists.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.config
            .clone()
            .or_else(|| std::env::var_os("CDRLAKE_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("cdrlake.toml")).filter(|p| p.is_file()))
    }

    pub fn lakehouse_config(&self) -> Result<LakehouseConfig> {
        let file = self.config_file();
        let flags = Overrides {
            root: self.lakehouse.clone(),
            s3: S3Settings {
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
                access_key_id: self.s3_access_key_id.clone(),
                secret_access_key: self.s3_secret_access_key.clone(),
                session_token: None,
                allow_http: self.s3_allow_http,
            },
        };
        Ok(LakehouseConfig::resolve(
            file.as_deref(),
            |k| std::env::var(k).ok(),
            flags,
        )?)
    }
}

/// Where queries run: in this process, or on a Ballista cluster (docs/scale-out.md).
#[derive(Debug, Args, Default, Clone)]
pub struct EngineArgs {
    /// Run queries over lakehouse tables on the Ballista scheduler at ballista://HOST:PORT
    /// (`cdrlake scheduler`); the rest, and every Delta commit, stays in this process
    #[arg(long, value_name = "URL", env = "CDRLAKE_ENGINE")]
    pub engine: Option<String>,
}

/// Shared by commands that print results.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file instead of stdout
    #[arg(long, short, value_name = "FILE", value_parser = output_file)]
    pub output: Option<PathBuf>,
}

/// `-o json` reads like "output as JSON" but writes a file named `json`: a bare format name is
/// refused (`-o ./json` still writes that file).
fn output_file(text: &str) -> Result<PathBuf, String> {
    use clap::ValueEnum;
    let format = Format::value_variants()
        .iter()
        .filter_map(|f| f.to_possible_value())
        .find(|v| v.get_name().eq_ignore_ascii_case(text));
    match format {
        Some(v) => Err(format!(
            "'{text}' is a format, not a file: -o/--output names the file to write; use --format {} (or -o ./{text} for a file of that name)",
            v.get_name()
        )),
        None => Ok(PathBuf::from(text)),
    }
}
