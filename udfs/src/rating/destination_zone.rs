//! `destination_zone(other_party)`: the tariff zone of a normalized number by the longest prefix
//! in `bronze.tariff_destination` (`+` matches every E.164 number, `SC:` every short code); null
//! when no prefix matches. The prefix table is loaded by the engine before each query that names
//! the function (`DestinationZone::load`), so a changed tariff applies from the next query.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use datafusion::arrow::array::{ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use crate::strings::string_values;

/// Prefixes to zones, looked up from the longest candidate down.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PrefixTable {
    zones: HashMap<String, String>,
    longest: usize,
}

impl PrefixTable {
    pub fn new(rows: impl IntoIterator<Item = (String, String)>) -> Self {
        let zones: HashMap<String, String> = rows.into_iter().collect();
        let longest = zones.keys().map(String::len).max().unwrap_or(0);
        Self { zones, longest }
    }

    pub fn zone(&self, number: &str) -> Option<&str> {
        (1..=self.longest.min(number.len()))
            .rev()
            .filter(|&n| number.is_char_boundary(n))
            .find_map(|n| self.zones.get(&number[..n]))
            .map(String::as_str)
    }
}

/// Where `destination_zone` finds its prefix table; `None` until loaded.
pub type PrefixTableHandle = Arc<RwLock<Option<Arc<PrefixTable>>>>;

#[derive(Debug)]
pub struct DestinationZone {
    signature: Signature,
    table: PrefixTableHandle,
}

impl Default for DestinationZone {
    fn default() -> Self {
        Self::new()
    }
}

impl DestinationZone {
    pub fn new() -> Self {
        Self {
            signature: Signature::new(TypeSignature::String(1), Volatility::Stable),
            table: Arc::default(),
        }
    }

    /// A handle to replace the prefix table this function (and its clones in a session) uses.
    pub fn loader(&self) -> PrefixTableHandle {
        self.table.clone()
    }

    /// The prefix table as bytes, so that a plan sent to other processes carries the table it
    /// was planned with (empty when none is loaded).
    pub fn table_bytes(&self) -> Result<Vec<u8>> {
        let table = self.table.read().map_err(|_| lock_error())?.clone();
        match table {
            Some(table) => serde_json::to_vec(&table.zones)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e))),
            None => Ok(Vec::new()),
        }
    }

    /// The function with the prefix table of [`DestinationZone::table_bytes`].
    pub fn with_table_bytes(bytes: &[u8]) -> Result<Self> {
        let function = Self::new();
        if !bytes.is_empty() {
            let zones: HashMap<String, String> = serde_json::from_slice(bytes)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            *function.table.write().map_err(|_| lock_error())? =
                Some(Arc::new(PrefixTable::new(zones)));
        }
        Ok(function)
    }
}

fn lock_error() -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Internal("prefix table lock".into())
}

impl PartialEq for DestinationZone {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.table, &other.table)
    }
}
impl Eq for DestinationZone {}
impl Hash for DestinationZone {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl ScalarUDFImpl for DestinationZone {
    fn name(&self) -> &str {
        "destination_zone"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(table) = self.table.read().map_err(|_| lock_error())?.clone() else {
            return exec_err!(
                "destination_zone needs bronze.tariff_destination, which is not in the lakehouse (run `cdrlake run` to load the seeds)"
            );
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = StringBuilder::with_capacity(args.number_rows, args.number_rows * 8);
        for number in string_values(&arrays[0])? {
            out.append_option(number.and_then(|n| table.zone(n)));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_prefix_table_travels_as_bytes() {
        let sent = DestinationZone::new();
        assert!(sent.table_bytes().unwrap().is_empty());
        *sent.loader().write().unwrap() = Some(Arc::new(spec_table()));
        let received = DestinationZone::with_table_bytes(&sent.table_bytes().unwrap()).unwrap();
        let table = received.loader().read().unwrap().clone().unwrap();
        assert_eq!(*table, spec_table());
        assert_eq!(table.zone("+447012"), Some("HIGH_RISK"));
        let unloaded = DestinationZone::with_table_bytes(&[]).unwrap();
        assert!(unloaded.loader().read().unwrap().is_none());
    }

    fn spec_table() -> PrefixTable {
        let rows = [
            ("+21261", "MA_ONNET"),
            ("+21266", "MA_ONNET"),
            ("+2126", "MA_MOBILE"),
            ("+2127", "MA_MOBILE"),
            ("+2125", "MA_FIXED"),
            ("+212", "MA_FIXED"),
            ("+2128", "MA_PREMIUM"),
            ("+33", "INTL_Z1"),
            ("+34", "INTL_Z1"),
            ("+351", "INTL_Z1"),
            ("+1", "INTL_Z2"),
            ("+971", "INTL_Z2"),
            ("+213", "INTL_Z3"),
            ("+", "INTL_Z4"),
            ("+881", "HIGH_RISK"),
            ("+4470", "HIGH_RISK"),
            ("+44", "INTL_Z1"),
            ("SC:", "SHORT_CODE"),
        ];
        PrefixTable::new(rows.iter().map(|(p, z)| (p.to_string(), z.to_string())))
    }

    #[test]
    fn longest_prefix_wins() {
        let t = spec_table();
        assert_eq!(t.zone("+212661234567"), Some("MA_ONNET"));
        assert_eq!(t.zone("+212612000001"), Some("MA_ONNET"));
        assert_eq!(t.zone("+212700000000"), Some("MA_MOBILE"));
        assert_eq!(t.zone("+212522123456"), Some("MA_FIXED"));
        assert_eq!(
            t.zone("+212312345678"),
            Some("MA_FIXED"),
            "+212 alone is fixed"
        );
        assert_eq!(t.zone("+212890000000"), Some("MA_PREMIUM"));
        assert_eq!(t.zone("+33142685300"), Some("INTL_Z1"));
        assert_eq!(
            t.zone("+447012345678"),
            Some("HIGH_RISK"),
            "+4470 beats +44"
        );
        assert_eq!(t.zone("+447912345678"), Some("INTL_Z1"));
        assert_eq!(t.zone("+8816000000"), Some("HIGH_RISK"));
        assert_eq!(
            t.zone("+61234567890"),
            Some("INTL_Z4"),
            "+ matches every E.164 number"
        );
        assert_eq!(t.zone("SC:777"), Some("SHORT_CODE"));
        assert_eq!(t.zone("0612"), None);
        assert_eq!(t.zone(""), None);
    }

    proptest! {
        #[test]
        fn never_panics(number in ".{0,20}") {
            let _ = spec_table().zone(&number);
        }
    }
}
