//! `cdrlake invoices export`: a closed period's issued invoices as customer documents, one HTML
//! page per invoice (printable to PDF from any browser) and an index for the batch. Amounts and
//! lines are the issued rows, never recomputed; the customer's name and city are the CRM's current
//! ones (a corrected address shows on a reprint). Only the masked MSISDN is printed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arrow::array::{Array, AsArray, RecordBatch};
use askama::Template;
use indicatif::{ProgressBar, ProgressStyle};

use super::Period;
use super::close::{as_text, first_text};
use crate::engine::Engine;

#[derive(Template)]
#[template(path = "invoice.html", config = "src/billing/templates/askama.toml")]
struct InvoiceDocument {
    number: String,
    period_label: String,
    period_start: String,
    period_end: String,
    issued_on: String,
    customer_id: String,
    name: String,
    city: String,
    region: String,
    msisdn_masked: String,
    plan: String,
    lines: Vec<LineRow>,
    net: String,
    vat: String,
    total: String,
    currency: String,
}

struct LineRow {
    line_no: String,
    description: String,
    quantity: String,
    amount: String,
    adjustment: bool,
}

#[derive(Template)]
#[template(path = "index.html", config = "src/billing/templates/askama.toml")]
struct IndexDocument {
    period: String,
    issued_on: String,
    count: usize,
    net: String,
    total: String,
    currency: String,
    rows: Vec<IndexRow>,
}

struct IndexRow {
    file: String,
    number: String,
    customer_id: String,
    msisdn_masked: String,
    net: String,
    total: String,
}

#[derive(Debug)]
pub struct Exported {
    pub documents: usize,
    pub index: PathBuf,
}

/// Writes one `<invoice_number>.html` per issued invoice of `period` and `index.html` into `out`
/// (created, readable by its owner only: the documents carry customer data).
pub async fn export_invoices(engine: &Engine, period: Period, out: &Path) -> Result<Exported> {
    let issued_on = first_text(
        &engine
            .sql(&format!(
                "SELECT CAST(CAST(max(at) AS DATE) AS VARCHAR) FROM system.period_close \
                 WHERE billing_period = '{period}' AND action = 'close'"
            ))
            .await
            .context("no period has been closed in this lakehouse yet")?,
        0,
    );
    let Some(issued_on) = issued_on else {
        bail!(
            "{period} is not closed: only issued invoices are exported (an open period's amounts are provisional; close it with `cdrlake close-period {period}`)"
        );
    };
    let invoices = text_rows(&engine.sql(&invoices_sql(period)).await?)?;
    let mut lines: HashMap<String, Vec<LineRow>> = HashMap::new();
    for row in text_rows(&engine.sql(&lines_sql(period)).await?)? {
        let [number, line_no, line_type, description, quantity, amount] = row.as_slice() else {
            bail!("unexpected line columns");
        };
        lines.entry(number.clone()).or_default().push(LineRow {
            line_no: line_no.clone(),
            description: readable_description(line_type, description),
            quantity: readable_quantity(line_type, quantity),
            amount: with_thousands(amount),
            adjustment: line_type == "ADJUSTMENT",
        });
    }

    create_private_dir(out)?;
    let progress = ProgressBar::new(invoices.len() as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta} left)")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    progress.set_message(format!("invoices {period}"));
    let (mut net_cents, mut total_cents, mut rows) = (0i128, 0i128, Vec::new());
    let mut currency = String::from("MAD");
    for invoice in &invoices {
        let [
            number,
            customer_id,
            period_start,
            period_end,
            net,
            vat,
            total,
            invoice_currency,
            name,
            city,
            region,
            msisdn_masked,
            plan,
        ] = invoice.as_slice()
        else {
            bail!("unexpected invoice columns");
        };
        let document = InvoiceDocument {
            number: number.clone(),
            period_label: month_label(period),
            period_start: period_start.clone(),
            period_end: period_end.clone(),
            issued_on: issued_on.clone(),
            customer_id: customer_id.clone(),
            name: name.clone(),
            city: city.clone(),
            region: region.clone(),
            msisdn_masked: msisdn_masked.clone(),
            plan: plan.clone(),
            lines: lines.remove(number).unwrap_or_default(),
            net: with_thousands(net),
            vat: with_thousands(vat),
            total: with_thousands(total),
            currency: invoice_currency.clone(),
        };
        let file = format!("{}.html", safe_file_name(number));
        write_private(&out.join(&file), &document.render()?)?;
        net_cents += cents(net)?;
        total_cents += cents(total)?;
        currency = invoice_currency.clone();
        rows.push(IndexRow {
            file,
            number: number.clone(),
            customer_id: customer_id.clone(),
            msisdn_masked: msisdn_masked.clone(),
            net: document.net,
            total: document.total,
        });
        progress.inc(1);
    }
    progress.finish_and_clear();
    let index = IndexDocument {
        period: period.to_string(),
        issued_on,
        count: rows.len(),
        net: with_thousands(&super::close::money(net_cents)),
        total: with_thousands(&super::close::money(total_cents)),
        currency,
        rows,
    };
    let index_path = out.join("index.html");
    write_private(&index_path, &index.render()?)?;
    Ok(Exported {
        documents: index.count,
        index: index_path,
    })
}

/// The period's issued invoices with the customer's CRM version valid at the period's end.
fn invoices_sql(period: Period) -> String {
    let next_month = period.closable_from(0);
    format!(
        "WITH customer AS (
            SELECT customer_id, first_name, last_name, city, region, msisdn, plan_id,
                   row_number() OVER (PARTITION BY customer_id ORDER BY valid_from DESC, version DESC) AS latest
            FROM silver.subscriber
            WHERE valid_from < local_day_start(DATE '{next_month}') AND (valid_to IS NULL OR valid_to > valid_from)
        )
        SELECT i.invoice_number, i.customer_id, CAST(i.period_start AS VARCHAR) AS start_day,
               CAST(i.period_end AS VARCHAR) AS end_day, CAST(i.net_amount AS VARCHAR) AS net,
               CAST(i.vat_amount AS VARCHAR) AS vat, CAST(i.total_amount AS VARCHAR) AS total, i.currency,
               trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) AS name,
               coalesce(c.city, '') AS city, coalesce(c.region, '') AS region,
               coalesce(mask_msisdn(c.msisdn), '') AS msisdn_masked, coalesce(p.name, c.plan_id, '') AS plan
        FROM gold.issued_invoice i
        LEFT JOIN customer c ON c.customer_id = i.customer_id AND c.latest = 1
        LEFT JOIN bronze.plan p ON p.plan_id = c.plan_id
        WHERE i.billing_period = '{period}'
        ORDER BY i.invoice_number"
    )
}

fn lines_sql(period: Period) -> String {
    format!(
        "SELECT invoice_number, CAST(line_no AS VARCHAR) AS line, line_type, description,
                CAST(quantity AS VARCHAR) AS quantity_text, CAST(amount AS VARCHAR) AS amount_text
         FROM gold.issued_invoice_line
         WHERE billing_period = '{period}'
         ORDER BY invoice_number, line_no"
    )
}

/// Every row of `batches` as text (nulls as empty strings).
fn text_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>> {
    let mut rows = Vec::new();
    for batch in batches {
        let columns = (0..batch.num_columns())
            .map(|c| as_text(batch, c))
            .collect::<Result<Vec<_>>>()?;
        for row in 0..batch.num_rows() {
            rows.push(
                columns
                    .iter()
                    .map(|c| {
                        let c = c.as_string::<i32>();
                        if c.is_null(row) {
                            String::new()
                        } else {
                            c.value(row).to_string()
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// The issued description in words a customer reads ("Voice calls, 66 CDRs" -> "Calls").
fn readable_description(line_type: &str, issued: &str) -> String {
    match line_type {
        "VOICE" => "Calls".into(),
        "SMS" => "Text messages".into(),
        "DATA" => "Mobile data sessions".into(),
        "ROAMING" => "Roaming: calls, messages and data abroad".into(),
        "RECURRING" => format!("Monthly fee: {}", issued.replace(", ", ", active ")),
        _ => issued.to_string(),
    }
}

fn readable_quantity(line_type: &str, quantity: &str) -> String {
    match line_type {
        "RECURRING" => format!("{quantity} days"),
        "DISCOUNT" => String::new(),
        "ADJUSTMENT" => format!("{quantity} changed"),
        _ => quantity.to_string(),
    }
}

/// `12345.60` -> `12,345.60`.
fn with_thousands(amount: &str) -> String {
    let (sign, digits) = match amount.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", amount),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match fraction {
        "" => format!("{sign}{grouped}"),
        f => format!("{sign}{grouped}.{f}"),
    }
}

fn cents(amount: &str) -> Result<i128> {
    let negative = amount.starts_with('-');
    let digits: String = amount.chars().filter(char::is_ascii_digit).collect();
    let value: i128 = digits
        .parse()
        .with_context(|| format!("'{amount}' is not an amount"))?;
    Ok(if negative { -value } else { value })
}

fn month_label(period: Period) -> String {
    chrono::NaiveDate::from_ymd_opt(period.year, period.month, 1)
        .map_or_else(|| period.to_string(), |d| d.format("%B %Y").to_string())
}

/// Invoice numbers are ours (INV-YYYYMM-NNNNNNN); anything else is replaced, never a path.
fn safe_file_name(number: &str) -> String {
    number
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_by_thousands_and_summed_in_cents() {
        assert_eq!(with_thousands("1234567.80"), "1,234,567.80");
        assert_eq!(with_thousands("-1717.00"), "-1,717.00");
        assert_eq!(with_thousands("999.99"), "999.99");
        assert_eq!(with_thousands("0.05"), "0.05");
        assert_eq!(cents("-6.57").unwrap(), -657);
        assert_eq!(cents("105.54").unwrap(), 10554);
    }

    #[test]
    fn names_become_file_names_only() {
        assert_eq!(safe_file_name("INV-202604-0000001"), "INV-202604-0000001");
        assert_eq!(safe_file_name("../../etc/x"), "______etc_x");
    }
}
