//! `CALL close_period('2026-04')` and `CALL release_period('2026-04')`: the monthly routine for
//! an engineer at a SQL client (docs/rating-billing.md). They run in the server's privileged
//! engine (its memory pool), under the lakehouse's `models` lease like the CLI commands, and are
//! recorded in system.period_close with the caller's user name.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use sqlparser::ast::{Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Value};

use super::auth::Role;
use super::policy::Refusal;
use crate::billing::Period;
use crate::billing::close::{CloseOptions, close_period, release_period};
use crate::engine::Engine;
use crate::models::Project;
use crate::models::progress::Progress;

/// The procedures a client may `CALL`, with their arguments checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Procedure {
    ClosePeriod { period: Period, grace_days: u32 },
    ReleasePeriod { period: Period },
}

const USAGE: &str = "known procedures: CALL close_period('YYYY-MM' [, grace_days]) and CALL release_period('YYYY-MM')";

impl Procedure {
    /// The procedure a `CALL` names, if it is one, for a caller of `role`.
    pub fn classify(call: &Function, role: Role) -> Result<Self, Refusal> {
        let name = call.name.to_string().to_ascii_lowercase();
        let args = literal_args(call)?;
        let procedure = match (name.as_str(), args.as_slice()) {
            ("close_period", [period]) => Self::ClosePeriod {
                period: period_arg(period)?,
                grace_days: 2,
            },
            ("close_period", [period, grace]) => Self::ClosePeriod {
                period: period_arg(period)?,
                grace_days: grace.parse().map_err(|_| {
                    Refusal::Kind(format!(
                        "close_period: grace_days must be a whole number of days, not '{grace}'"
                    ))
                })?,
            },
            ("release_period", [period]) => Self::ReleasePeriod {
                period: period_arg(period)?,
            },
            ("close_period" | "release_period", _) => {
                return Err(Refusal::Kind(format!("wrong arguments to {name}: {USAGE}")));
            }
            _ => return Err(Refusal::Kind(format!("no procedure {name}: {USAGE}"))),
        };
        if role != Role::Engineer {
            return Err(Refusal::Role(format!(
                "{role:?}s may not call {name}: closing and releasing billing periods needs the engineer role"
            )));
        }
        Ok(procedure)
    }

    /// What the call returns as a query.
    pub fn schema(&self) -> SchemaRef {
        let text = |name: &str| Field::new(name, DataType::Utf8, false);
        let mut fields = vec![text("billing_period"), text("action")];
        if let Self::ClosePeriod { .. } = self {
            fields.extend([
                Field::new("invoices", DataType::Int64, false),
                Field::new("net_amount", DataType::Decimal128(18, 2), false),
                Field::new("total_amount", DataType::Decimal128(18, 2), false),
                text("run_id"),
            ]);
        }
        Arc::new(Schema::new(fields))
    }

    /// Runs the procedure for `user` on a task of its own: a client that hangs up does not
    /// stop a close half-way. `project` is the model project a close builds.
    pub async fn spawn(
        self,
        engine: Arc<Engine>,
        project: Option<PathBuf>,
        user: String,
    ) -> anyhow::Result<RecordBatch> {
        tokio::spawn(async move { self.run(&engine, project.as_ref(), &user).await }).await?
    }

    async fn run(
        &self,
        engine: &Engine,
        project: Option<&PathBuf>,
        user: &str,
    ) -> anyhow::Result<RecordBatch> {
        let lakehouse = engine.lakehouse().clone();
        let purpose = format!("{self} by {user} over Flight SQL");
        let columns: Vec<ArrayRef> = match self {
            Self::ClosePeriod { period, grace_days } => {
                let project = project.ok_or_else(|| {
                    anyhow::anyhow!(
                        "this server has no model project: start `cdrlake serve --project DIR` to close periods over Flight SQL, or run `cdrlake close-period {period}`"
                    )
                })?;
                let project = Project::load(project)?;
                let closed =
                    crate::models::with_models_lease(&lakehouse, &purpose, |fence| async {
                        let options = CloseOptions {
                            period: *period,
                            grace_days: *grace_days,
                            user: user.to_string(),
                            fence,
                            progress: Progress::default(),
                        };
                        close_period(engine, &project, &options).await
                    })
                    .await?;
                let money = |text: &str| -> anyhow::Result<ArrayRef> {
                    Ok(arrow::compute::cast(
                        &StringArray::from(vec![text.to_string()]),
                        &DataType::Decimal128(18, 2),
                    )?)
                };
                vec![
                    Arc::new(StringArray::from(vec![period.to_string()])),
                    Arc::new(StringArray::from(vec!["close"])),
                    Arc::new(Int64Array::from(vec![closed.invoices])),
                    money(&closed.net_amount)?,
                    money(&closed.total_amount)?,
                    Arc::new(StringArray::from(vec![closed.run_id])),
                ]
            }
            Self::ReleasePeriod { period } => {
                crate::models::with_models_lease(&lakehouse, &purpose, |fence| async move {
                    fence.check()?;
                    release_period(engine, *period, user).await
                })
                .await?;
                vec![
                    Arc::new(StringArray::from(vec![period.to_string()])),
                    Arc::new(StringArray::from(vec!["release"])),
                ]
            }
        };
        // Clients see the issued tables and the rebuilt gold at once.
        engine.catalog().refresh().await?;
        Ok(RecordBatch::try_new(self.schema(), columns)?)
    }

    /// The count an update (ExecuteUpdate) returns: invoices issued, or 0.
    pub fn affected(batch: &RecordBatch) -> i64 {
        batch
            .column_by_name("invoices")
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
            .map_or(0, |c| c.value(0))
    }
}

impl std::fmt::Display for Procedure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClosePeriod { period, .. } => write!(f, "close_period {period}"),
            Self::ReleasePeriod { period } => write!(f, "release_period {period}"),
        }
    }
}

/// The call's arguments as text: each must be a string or number literal.
fn literal_args(call: &Function) -> Result<Vec<String>, Refusal> {
    let args = match &call.args {
        FunctionArguments::None => return Ok(vec![]),
        FunctionArguments::List(list) => &list.args,
        FunctionArguments::Subquery(_) => {
            return Err(Refusal::Kind(format!("a CALL takes literals: {USAGE}")));
        }
    };
    args.iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v))) => match &v.value {
                Value::SingleQuotedString(s) | Value::Number(s, _) => Ok(s.clone()),
                other => Err(Refusal::Kind(format!(
                    "{other} is not an argument a procedure takes: {USAGE}"
                ))),
            },
            other => Err(Refusal::Kind(format!(
                "{other} is not a literal: a CALL takes literals ({USAGE})"
            ))),
        })
        .collect()
}

fn period_arg(text: &str) -> Result<Period, Refusal> {
    Period::parse(text).map_err(|e| Refusal::Kind(crate::error::one_line(&e)))
}

#[cfg(test)]
mod tests {
    use sqlparser::ast::Statement;
    use sqlparser::dialect::GenericDialect;
    use sqlparser::parser::Parser;

    use super::*;

    fn classify(sql: &str, role: Role) -> Result<Procedure, Refusal> {
        match Parser::parse_sql(&GenericDialect {}, sql).unwrap().pop() {
            Some(Statement::Call(call)) => Procedure::classify(&call, role),
            other => panic!("not a CALL: {other:?}"),
        }
    }

    #[test]
    fn calls_are_checked_before_anything_runs() {
        let april = Period::parse("2026-04").unwrap();
        assert_eq!(
            classify("CALL close_period('2026-04')", Role::Engineer),
            Ok(Procedure::ClosePeriod {
                period: april,
                grace_days: 2
            })
        );
        assert_eq!(
            classify("call CLOSE_PERIOD('2026-04', 5)", Role::Engineer),
            Ok(Procedure::ClosePeriod {
                period: april,
                grace_days: 5
            })
        );
        assert_eq!(
            classify("CALL release_period('2026-04')", Role::Engineer),
            Ok(Procedure::ReleasePeriod { period: april })
        );
        let refused = |sql: &str, role: Role| match classify(sql, role) {
            Err(refusal) => refusal,
            Ok(p) => panic!("{sql} allowed as {p:?}"),
        };
        assert!(matches!(
            refused("CALL close_period('2026-04')", Role::Analyst),
            Refusal::Role(m) if m.contains("needs the engineer role")
        ));
        for (sql, needle) in [
            ("CALL close_period('2026-4')", "not a billing period"),
            ("CALL close_period('2026-04', -1)", "is not a literal"),
            (
                "CALL close_period('2026-04', 'two')",
                "whole number of days",
            ),
            ("CALL close_period()", "wrong arguments to close_period"),
            ("CALL close_period((SELECT '2026-04'))", "is not a literal"),
            ("CALL drop_everything()", "no procedure drop_everything"),
        ] {
            let refusal = refused(sql, Role::Engineer);
            assert!(
                matches!(&refusal, Refusal::Kind(m) if m.contains(needle)),
                "{sql}: {refusal:?}"
            );
        }
    }
}
