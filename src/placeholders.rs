//! `?` parameters, as JDBC and the ADBC DB-API (paramstyle `qmark`) write them, numbered for
//! DataFusion, which only plans `$1`, `$2`, ...

use std::borrow::Cow;
use std::fmt::Write;

use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// `sql` with each `?` placeholder replaced by `$n`, numbered in order of appearance. A `?`
/// inside a string, a quoted identifier or a comment is not a placeholder and stays as written;
/// SQL that does not tokenize is returned unchanged (planning reports the error).
pub fn number_question_marks(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() else {
        return Cow::Borrowed(sql);
    };
    let marks: Vec<(u64, u64)> = tokens
        .iter()
        .filter(|t| matches!(&t.token, Token::Placeholder(p) if p == "?"))
        .map(|t| (t.span.start.line, t.span.start.column))
        .collect();
    if marks.is_empty() {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 2 * marks.len());
    let (mut line, mut column, mut n) = (1u64, 1u64, 0usize);
    for ch in sql.chars() {
        if marks.get(n) == Some(&(line, column)) {
            n += 1;
            let _ = write!(out, "${n}");
        } else {
            out.push(ch);
        }
        if ch == '\n' {
            (line, column) = (line + 1, 1);
        } else {
            column += 1;
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_in_order_and_leaves_text_alone() {
        assert_eq!(
            number_question_marks("SELECT * FROM t WHERE a = ? AND b IN (?, ?)"),
            "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)"
        );
        assert_eq!(
            number_question_marks(
                "SELECT 'why?', \"c?\" -- really?\nFROM t\nWHERE x = ? /* ? */ AND y = 'it''s ?' AND z=?"
            ),
            "SELECT 'why?', \"c?\" -- really?\nFROM t\nWHERE x = $1 /* ? */ AND y = 'it''s ?' AND z=$2"
        );
        assert_eq!(
            number_question_marks("SELECT 'é', ? -- ü"),
            "SELECT 'é', $1 -- ü",
            "columns count characters, not bytes"
        );
        assert!(matches!(
            number_question_marks("SELECT $1"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            number_question_marks("SELECT 'unterminated ?"),
            Cow::Borrowed(_)
        ));
    }
}
