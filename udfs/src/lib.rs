//! Telecom scalar functions for DataFusion, registered by `register_all` in the one session
//! factory that the CLI, model runner and server share.

use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

/// Every cdrlake UDF. Later issues add mediation, rating and analytics functions here.
pub fn all() -> Vec<ScalarUDF> {
    Vec::new()
}

pub fn register_all(ctx: &SessionContext) {
    for udf in all() {
        ctx.register_udf(udf);
    }
}
