//! Lakehouse configuration: `cdrlake.toml` < environment < command-line flags.
//!
//! The later source wins field by field, so a config file can hold the endpoint while the
//! secret comes from the environment.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{CatalogError, Result};

/// The embedded default: a directory next to where cdrlake runs, no server needed.
pub const DEFAULT_ROOT: &str = "./lakehouse";
pub const DEFAULT_REGION: &str = "us-east-1";

/// Everything needed to reach one lakehouse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LakehouseConfig {
    /// A local directory or `s3://bucket/prefix`.
    pub root: String,
    pub s3: S3Settings,
    /// Key of `hmac_token` (gold name tokens); none: the key stored in the lakehouse.
    pub hmac_key: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub allow_http: Option<bool>,
}

/// The shape of `cdrlake.toml`. Sections other than `[lakehouse]` belong to other parts of
/// cdrlake (server, models) and are read there.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    lakehouse: LakehouseSection,
    #[serde(default)]
    analytics: AnalyticsSection,
}

#[derive(Debug, Default, Deserialize)]
struct AnalyticsSection {
    hmac_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LakehouseSection {
    root: Option<String>,
    #[serde(default)]
    s3: S3Settings,
}

/// Values given on the command line; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub root: Option<String>,
    pub s3: S3Settings,
}

impl S3Settings {
    fn overlay(&mut self, other: S3Settings) {
        let S3Settings {
            endpoint,
            region,
            access_key_id,
            secret_access_key,
            session_token,
            allow_http,
        } = other;
        if endpoint.is_some() {
            self.endpoint = endpoint;
        }
        if region.is_some() {
            self.region = region;
        }
        if access_key_id.is_some() {
            self.access_key_id = access_key_id;
        }
        if secret_access_key.is_some() {
            self.secret_access_key = secret_access_key;
        }
        if session_token.is_some() {
            self.session_token = session_token;
        }
        if allow_http.is_some() {
            self.allow_http = allow_http;
        }
    }

    /// The usual AWS variables, read through `lookup` so tests need not touch the process env.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let allow_http = match get("AWS_ALLOW_HTTP") {
            None => None,
            Some(v) => Some(parse_bool("AWS_ALLOW_HTTP", &v)?),
        };
        Ok(Self {
            endpoint: get("AWS_ENDPOINT_URL").or_else(|| get("AWS_ENDPOINT_URL_S3")),
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            access_key_id: get("AWS_ACCESS_KEY_ID"),
            secret_access_key: get("AWS_SECRET_ACCESS_KEY"),
            session_token: get("AWS_SESSION_TOKEN"),
            allow_http,
        })
    }

    pub fn region_or_default(&self) -> &str {
        self.region.as_deref().unwrap_or(DEFAULT_REGION)
    }

    /// HTTP is allowed when asked for, or when the endpoint itself says `http://`.
    pub fn allows_http(&self) -> bool {
        self.allow_http.unwrap_or_else(|| {
            self.endpoint
                .as_deref()
                .is_some_and(|e| e.starts_with("http://"))
        })
    }

    /// Storage options in the spelling delta-rs and object_store understand.
    pub fn storage_options(&self) -> HashMap<String, String> {
        let mut o = HashMap::new();
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                o.insert(k.to_string(), v.to_string());
            }
        };
        put("AWS_ENDPOINT_URL", self.endpoint.as_deref());
        put("AWS_REGION", Some(self.region_or_default()));
        put("AWS_ACCESS_KEY_ID", self.access_key_id.as_deref());
        put("AWS_SECRET_ACCESS_KEY", self.secret_access_key.as_deref());
        put("AWS_SESSION_TOKEN", self.session_token.as_deref());
        put(
            "AWS_ALLOW_HTTP",
            Some(if self.allows_http() { "true" } else { "false" }),
        );
        // Path-style addressing: MinIO and most self-hosted S3 servers need it.
        put("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", Some("false"));
        o
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(CatalogError::Config(format!(
            "{name}='{v}' is not a boolean (use true or false)"
        ))),
    }
}

impl LakehouseConfig {
    /// Resolve the configuration: file (if any) < environment < flags.
    pub fn resolve(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: Overrides,
    ) -> Result<Self> {
        let file = match file {
            Some(path) => read_file(path)?,
            None => ConfigFile::default(),
        };
        let from_file = file.lakehouse;
        let hmac_key = env("CDRLAKE_HMAC_KEY")
            .filter(|v| !v.is_empty())
            .or(file.analytics.hmac_key);
        let mut s3 = from_file.s3;
        s3.overlay(S3Settings::from_env(&env)?);
        s3.overlay(flags.s3);
        let root = flags
            .root
            .or_else(|| env("CDRLAKE_LAKEHOUSE").filter(|v| !v.is_empty()))
            .or(from_file.root)
            .unwrap_or_else(|| DEFAULT_ROOT.to_string());
        Ok(Self { root, s3, hmac_key })
    }

    /// A local-directory lakehouse at `root`, for tests and embedded use.
    pub fn local(root: impl Into<String>) -> Self {
        Self {
            root: root.into(),
            s3: S3Settings::default(),
            hmac_key: None,
        }
    }
}

fn read_file(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CatalogError::Config(format!("cannot read {}: {e}", path.display())))?;
    let parsed: ConfigFile = toml::from_str(&text)
        .map_err(|e| CatalogError::Config(format!("{}: {}", path.display(), e.message())))?;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cdrlake.toml");
        std::fs::write(
            &path,
            "[lakehouse]\nroot = \"s3://from-file/lake\"\n[lakehouse.s3]\nendpoint = \"http://127.0.0.1:1\"\nregion = \"eu-west-3\"\naccess_key_id = \"filekey\"\n",
        )
        .unwrap();
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "envkey"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
        ]);
        let flags = Overrides {
            root: None,
            s3: S3Settings {
                endpoint: Some("http://127.0.0.1:2".into()),
                ..Default::default()
            },
        };
        let cfg = LakehouseConfig::resolve(Some(&path), env, flags).unwrap();
        assert_eq!(cfg.root, "s3://from-file/lake");
        assert_eq!(cfg.s3.endpoint.as_deref(), Some("http://127.0.0.1:2"));
        assert_eq!(cfg.s3.region.as_deref(), Some("eu-west-3"));
        assert_eq!(cfg.s3.access_key_id.as_deref(), Some("envkey"));
        assert_eq!(cfg.s3.secret_access_key.as_deref(), Some("envsecret"));
        assert!(
            cfg.s3.allows_http(),
            "an http:// endpoint implies AWS_ALLOW_HTTP"
        );
    }

    #[test]
    fn default_root_is_local_directory() {
        let cfg = LakehouseConfig::resolve(None, env_of(&[]), Overrides::default()).unwrap();
        assert_eq!(cfg.root, DEFAULT_ROOT);
    }

    #[test]
    fn bad_bool_and_unknown_key_are_named() {
        let err = S3Settings::from_env(env_of(&[("AWS_ALLOW_HTTP", "maybe")])).unwrap_err();
        assert!(err.to_string().contains("AWS_ALLOW_HTTP='maybe'"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cdrlake.toml");
        std::fs::write(&path, "[lakehouse]\nrot = \"x\"\n").unwrap();
        let err =
            LakehouseConfig::resolve(Some(&path), env_of(&[]), Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("rot"), "{err}");
    }

    #[test]
    fn storage_options_use_path_style() {
        let s3 = S3Settings {
            endpoint: Some("http://127.0.0.1:9000".into()),
            ..Default::default()
        };
        let o = s3.storage_options();
        assert_eq!(o["AWS_ALLOW_HTTP"], "true");
        assert_eq!(o["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"], "false");
        assert_eq!(o["AWS_REGION"], DEFAULT_REGION);
        assert!(!o.contains_key("AWS_S3_ALLOW_UNSAFE_RENAME"));
    }
}
