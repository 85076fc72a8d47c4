//! `hmac_token(text)`: HMAC-SHA256 of the text under the configured key, the first 16 hex digits.
//! A pseudonym: equal names give equal tokens, so analysts can count and join on them, while
//! nobody without the key can test a guessed name against a token.
//!
//! The key comes from configuration (`HmacToken::with_key`); without one the function fails
//! with a message saying how to set it, rather than hashing with a key everybody knows.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::push_hex;
use crate::strings::map_strings;

#[derive(PartialEq, Eq, Hash)]
pub struct HmacToken {
    signature: Signature,
    key: Option<Vec<u8>>,
}

// The key never appears in plans, logs or error messages.
impl std::fmt::Debug for HmacToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacToken")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Default for HmacToken {
    fn default() -> Self {
        Self {
            signature: Signature::new(TypeSignature::String(1), Volatility::Immutable),
            key: None,
        }
    }
}

impl HmacToken {
    pub fn with_key(key: &[u8]) -> Self {
        Self {
            key: Some(key.to_vec()),
            ..Self::default()
        }
    }
}

/// The whole HMAC-SHA256 of the concatenated `parts` under `key`, in hex (webhook signatures).
pub fn hmac_sha256_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    for p in parts {
        mac.update(p);
    }
    let mut out = String::new();
    push_hex(&mut out, &mac.finalize().into_bytes());
    out
}

/// Writes the token of `value` under `key` into `out`.
pub fn token_into(key: &[u8], value: &str, out: &mut String) {
    out.clear();
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(value.as_bytes());
    push_hex(out, &mac.finalize().into_bytes()[..8]);
}

impl ScalarUDFImpl for HmacToken {
    fn name(&self) -> &str {
        "hmac_token"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(key) = &self.key else {
            return exec_err!(
                "hmac_token: no key configured; set CDRLAKE_HMAC_KEY or hmac_key under [analytics] in cdrlake.toml"
            );
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        Ok(ColumnarValue::Array(map_strings(
            &arrays[0],
            16,
            |v, out| token_into(key, v, out),
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(key: &str, v: &str) -> String {
        let mut out = String::new();
        token_into(key.as_bytes(), v, &mut out);
        out
    }

    #[test]
    fn matches_rfc_4231_test_case_2() {
        // HMAC-SHA256(key "Jefe", "what do ya want for nothing?") = 5bdcc146bf60754e...
        assert_eq!(
            token("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e"
        );
    }

    #[test]
    fn depends_on_the_key() {
        assert_ne!(token("k1", "Amina Alaoui"), token("k2", "Amina Alaoui"));
        assert_eq!(token("k1", "Amina Alaoui"), token("k1", "Amina Alaoui"));
        assert!(!format!("{:?}", HmacToken::with_key(b"secret")).contains("secret"));
    }
}
