//! `surrogate_key(text)`: a stable 64-bit key for a natural key, as 16 lowercase hex digits: the
//! first 8 bytes of the text's SHA-256. Stable across runs, machines and cdrlake versions (unlike
//! a hasher seeded per process), so a dimension row keeps its key when it is rebuilt.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use sha2::{Digest, Sha256};

use super::push_hex;
use crate::strings::map_strings;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SurrogateKey {
    signature: Signature,
}

impl Default for SurrogateKey {
    fn default() -> Self {
        Self {
            signature: Signature::new(TypeSignature::String(1), Volatility::Immutable),
        }
    }
}

/// Writes the key of `natural` into `out`.
pub fn key_into(natural: &str, out: &mut String) {
    out.clear();
    push_hex(out, &Sha256::digest(natural.as_bytes())[..8]);
}

impl ScalarUDFImpl for SurrogateKey {
    fn name(&self) -> &str {
        "surrogate_key"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        Ok(ColumnarValue::Array(map_strings(&arrays[0], 16, key_into)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(v: &str) -> String {
        let mut out = String::new();
        key_into(v, &mut out);
        out
    }

    #[test]
    fn is_the_first_eight_bytes_of_sha256_in_hex() {
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223...
        assert_eq!(key("abc"), "ba7816bf8f01cfea");
        assert_ne!(
            key("C0000001|2026-04-01T00:00:00Z"),
            key("C0000001|2026-04-02T00:00:00Z")
        );
    }

    proptest! {
        #[test]
        fn always_sixteen_hex_digits(v in ".{0,40}") {
            let k = key(&v);
            prop_assert_eq!(k.len(), 16);
            prop_assert!(k.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
    }
}
