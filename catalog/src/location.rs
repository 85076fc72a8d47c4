//! Where a lakehouse lives and where each table sits under it: `<root>/<schema>/<table>/`.

use std::path::PathBuf;

use url::Url;

use crate::error::{CatalogError, Result};

/// The four schemas of the one catalog `cdrlake`.
pub const SCHEMAS: [&str; 4] = ["bronze", "silver", "gold", "system"];
pub const CATALOG_NAME: &str = "cdrlake";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An absolute local directory.
    Local(PathBuf),
    /// A bucket and a key prefix without leading or trailing '/' (may be empty).
    S3 { bucket: String, prefix: String },
}

impl Location {
    pub fn parse(root: &str) -> Result<Self> {
        let bad = |detail: &str| CatalogError::Root {
            root: root.to_string(),
            detail: detail.to_string(),
        };
        if let Some(rest) = root
            .strip_prefix("s3://")
            .or_else(|| root.strip_prefix("s3a://"))
        {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket name after s3://"));
            }
            return Ok(Self::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if root.contains("://") && !root.starts_with("file://") {
            return Err(bad("use a local directory or s3://bucket/prefix"));
        }
        let path = match root.strip_prefix("file://") {
            Some(p) => PathBuf::from(p),
            None => PathBuf::from(root),
        };
        let abs = std::path::absolute(&path).map_err(|e| bad(&e.to_string()))?;
        Ok(Self::Local(normalize(abs)))
    }

    pub fn is_s3(&self) -> bool {
        matches!(self, Self::S3 { .. })
    }

    /// The URL of a table directory (always with a trailing '/'). Both names are checked here,
    /// the one place names become paths, whoever the caller.
    pub fn table_url(&self, schema: &str, table: &str) -> Result<Url> {
        check_schema(schema)?;
        check_table_name(table)?;
        match self {
            Self::Local(dir) => {
                Url::from_directory_path(dir.join(schema).join(table)).map_err(|()| {
                    CatalogError::Root {
                        root: dir.display().to_string(),
                        detail: "not an absolute path".into(),
                    }
                })
            }
            Self::S3 { bucket, .. } => {
                let key = self.key(&format!("{schema}/{table}/"));
                Url::parse(&format!("s3://{bucket}/{key}")).map_err(|e| CatalogError::Root {
                    root: self.to_string(),
                    detail: e.to_string(),
                })
            }
        }
    }

    /// Object key (S3) or path relative to the root directory (local) of `rel`.
    pub fn key(&self, rel: &str) -> String {
        match self {
            Self::S3 { prefix, .. } if !prefix.is_empty() => format!("{prefix}/{rel}"),
            _ => rel.to_string(),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(p) => write!(f, "{}", p.display()),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// Drop `.` and resolve `..` lexically, so `./lakehouse` prints as a clean path.
fn normalize(path: PathBuf) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `schema.table` (or `cdrlake.schema.table`) split and checked; names are lower-case identifiers.
pub fn parse_table_name(name: &str) -> Result<(String, String)> {
    let parts: Vec<&str> = name.split('.').collect();
    let (schema, table) = match parts.as_slice() {
        [s, t] => (*s, *t),
        [c, s, t] if *c == CATALOG_NAME => (*s, *t),
        _ => return Err(CatalogError::BadTableName(name.to_string())),
    };
    check_schema(schema)?;
    check_table_name(table).map_err(|_| CatalogError::BadTableName(name.to_string()))?;
    Ok((schema.to_string(), table.to_string()))
}

pub fn check_schema(schema: &str) -> Result<()> {
    if SCHEMAS.contains(&schema) {
        Ok(())
    } else {
        Err(CatalogError::UnknownSchema(schema.to_string()))
    }
}

/// Longest table name: far beyond any real one, short of every object store's key limits.
pub const MAX_NAME_LEN: usize = 128;

/// A table name is an identifier: ASCII letters, digits and `_`, not starting with a digit. So it
/// can never hold `/`, `\`, `..`, a control character or be empty, and is one path segment.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// `table` as a lakehouse table name, or [`CatalogError::BadTableName`] saying why not.
pub fn check_table_name(table: &str) -> Result<()> {
    if is_identifier(table) {
        Ok(())
    } else {
        Err(CatalogError::BadTableName(printable(table)))
    }
}

/// A name as it can be shown in one line of an error: control characters escaped, long cut.
fn printable(name: &str) -> String {
    let shown: String = name
        .chars()
        .take(MAX_NAME_LEN)
        .flat_map(char::escape_default)
        .collect();
    if name.chars().count() > MAX_NAME_LEN {
        format!("{shown}...")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_roots() {
        let l = Location::parse("s3://lake/prod/cdr/").unwrap();
        assert_eq!(
            l,
            Location::S3 {
                bucket: "lake".into(),
                prefix: "prod/cdr".into()
            }
        );
        assert_eq!(
            l.table_url("bronze", "voice_cdr").unwrap().as_str(),
            "s3://lake/prod/cdr/bronze/voice_cdr/"
        );
        let bare = Location::parse("s3://lake").unwrap();
        assert_eq!(
            bare.table_url("gold", "invoice").unwrap().as_str(),
            "s3://lake/gold/invoice/"
        );
        assert!(Location::parse("s3:///x").is_err());
        assert!(Location::parse("gs://x").is_err());
    }

    #[test]
    fn local_roots_are_absolute() {
        let l = Location::parse("./lakehouse").unwrap();
        let Location::Local(p) = &l else {
            panic!("not local")
        };
        assert!(p.is_absolute() && p.ends_with("lakehouse"));
        assert!(
            l.table_url("silver", "cdr")
                .unwrap()
                .as_str()
                .ends_with("/lakehouse/silver/cdr/")
        );
    }

    #[test]
    fn table_names() {
        assert_eq!(
            parse_table_name("bronze.voice_cdr").unwrap(),
            ("bronze".into(), "voice_cdr".into())
        );
        assert_eq!(
            parse_table_name("cdrlake.gold.invoice").unwrap(),
            ("gold".into(), "invoice".into())
        );
        assert!(matches!(
            parse_table_name("platinum.x"),
            Err(CatalogError::UnknownSchema(_))
        ));
        assert!(matches!(
            parse_table_name("voice_cdr"),
            Err(CatalogError::BadTableName(_))
        ));
        assert!(matches!(
            parse_table_name("bronze.a-b"),
            Err(CatalogError::BadTableName(_))
        ));
    }

    #[test]
    fn paths_are_not_names() {
        let l = Location::parse("s3://lake/prod").unwrap();
        for bad in [
            "../silver/cdr",
            "..",
            "a/b",
            "a\\b",
            "",
            "a\nb",
            "x\u{0}",
            "caf\u{e9}",
            ".hidden",
        ] {
            assert!(
                matches!(l.table_url("gold", bad), Err(CatalogError::BadTableName(_))),
                "{bad:?} accepted"
            );
        }
        assert!(matches!(
            l.table_url("../gold", "x"),
            Err(CatalogError::UnknownSchema(_))
        ));
        assert!(l.table_url("gold", &"a".repeat(MAX_NAME_LEN + 1)).is_err());
        let message = l.table_url("gold", "a\nb").unwrap_err().to_string();
        assert!(
            !message.contains('\n'),
            "control characters are escaped: {message}"
        );
    }

    proptest::proptest! {
        /// Whatever name a caller passes, a table URL is only ever `<root>/<schema>/<name>/`
        /// with `name` one plain path segment, or an error.
        #[test]
        fn any_name_stays_one_segment_under_its_schema(schema in "\\PC{0,12}", table in "\\PC{0,40}") {
            for root in ["s3://lake/prod", "/tmp/lake"] {
                let l = Location::parse(root).unwrap();
                if let Ok(url) = l.table_url(&schema, &table) {
                    proptest::prop_assert!(SCHEMAS.contains(&schema.as_str()));
                    let expected = format!("/{schema}/{table}/");
                    proptest::prop_assert!(url.path().ends_with(&expected), "{url}");
                    proptest::prop_assert!(is_identifier(&table));
                }
            }
        }

        #[test]
        fn table_names_from_any_text(name in "(\\PC|[./\\\\@\\x00-\\x1f]){0,30}") {
            match parse_table_name(&format!("gold.{name}")) {
                Ok((_, t)) => proptest::prop_assert!(is_identifier(&t) && t == name),
                Err(_) => proptest::prop_assert!(!is_identifier(&name)),
            }
        }
    }
}
