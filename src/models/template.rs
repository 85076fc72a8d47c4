//! Jinja macros in model SQL (as in dbt): a model or test may import macros from files under the
//! project (`sql/macros/*.sql`) and call them, so logic several models share is written once.
//! Files are rendered before anything else reads them: the header, the dependencies and the
//! fingerprint all see the SQL that runs.
//!
//! One variable, `is_incremental` (as in dbt): true when an incremental model adds to its table as
//! committed, false for its first build and a full refresh. A model may read its own table only
//! inside `{% if is_incremental %}`: the table it reads is then the one its last run committed.

use std::path::{Component, Path};

use anyhow::{Result, anyhow};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

/// Where the project keeps its macro files.
pub const MACRO_DIR: &str = "macros";

/// Renders `text` (the file at `path`) with the macros of the project at `root`.
/// A file without template syntax comes back unchanged.
pub fn render(root: &Path, path: &Path, text: &str, is_incremental: bool) -> Result<String> {
    if !["{{", "{%", "{#"].iter().any(|open| text.contains(open)) {
        return Ok(text.to_owned());
    }
    let mut env = Environment::new();
    // A misspelt macro argument or variable is an error, not an empty string in the SQL.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let name = path
        .strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string();
    let root = root.to_path_buf();
    env.set_loader(move |name| load(&root, name));
    env.render_named_str(&name, text, minijinja::context! { is_incremental })
        .map_err(|e| anyhow!("{}: {}", path.display(), one_error(&e)))
}

/// An imported file: a relative path inside the project, never outside it.
fn load(root: &Path, name: &str) -> Result<Option<String>, minijinja::Error> {
    let relative = Path::new(name);
    let inside = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !inside {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("'{name}' is not a path inside the model project"),
        ));
    }
    match std::fs::read_to_string(root.join(relative)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("cannot read {name}: {e}"),
        )),
    }
}

/// The error with where it happened, and the error behind it (a macro's own failure).
fn one_error(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    const MACRO: &str = "{% macro keys(cols) %}{{ cols | join(', ') }}{% endmacro %}";

    #[test]
    fn plain_sql_is_left_as_it_is() {
        let dir = project(&[]);
        let sql = "SELECT '{' AS brace, '%' AS pct -- $since\n";
        let path = dir.path().join("silver/x.sql");
        assert_eq!(render(dir.path(), &path, sql, true).unwrap(), sql);
    }

    #[test]
    fn a_model_calls_a_macro_from_the_macro_directory() {
        let dir = project(&[("macros/keys.sql", MACRO)]);
        let sql =
            "{% from \"macros/keys.sql\" import keys %}SELECT {{ keys([\"a\", \"b\"]) }} FROM t";
        let path = dir.path().join("silver/x.sql");
        assert_eq!(
            render(dir.path(), &path, sql, true).unwrap(),
            "SELECT a, b FROM t"
        );
    }

    #[test]
    fn errors_name_the_file_and_what_is_wrong() {
        let dir = project(&[("macros/keys.sql", MACRO)]);
        let path = dir.path().join("silver/x.sql");
        let missing = render(
            dir.path(),
            &path,
            "{% from \"macros/nope.sql\" import keys %}SELECT 1",
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(
            missing.contains("silver/x.sql") && missing.contains("macros/nope.sql"),
            "{missing}"
        );
        let undefined = render(
            dir.path(),
            &path,
            "{% from \"macros/keys.sql\" import keys %}SELECT {{ keys(colums) }}",
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(undefined.contains("undefined"), "{undefined}");
        let outside = render(
            dir.path(),
            &path,
            "{% from \"../../etc/passwd\" import keys %}SELECT 1",
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(
            outside.contains("not a path inside the model project"),
            "{outside}"
        );
    }

    #[test]
    fn is_incremental_tells_an_incremental_build_from_a_full_one() {
        let dir = project(&[]);
        let path = dir.path().join("gold/x.sql");
        let sql = "SELECT 1{% if is_incremental %} FROM gold.x{% endif %}";
        assert_eq!(
            render(dir.path(), &path, sql, true).unwrap(),
            "SELECT 1 FROM gold.x"
        );
        assert_eq!(render(dir.path(), &path, sql, false).unwrap(), "SELECT 1");
    }
}
