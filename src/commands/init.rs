use anyhow::Result;
use cdrlake_catalog::{Lakehouse, SCHEMAS};

use crate::commands::args::GlobalArgs;

pub async fn run(global: &GlobalArgs) -> Result<()> {
    let (lakehouse, report) = Lakehouse::init(global.lakehouse_config()?).await?;
    if report.created_bucket {
        println!("created bucket for {}", lakehouse.location());
    }
    println!(
        "lakehouse ready at {} (schemas: {})",
        lakehouse.location(),
        SCHEMAS.join(", ")
    );
    Ok(())
}
