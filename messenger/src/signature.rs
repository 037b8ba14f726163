//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, keyed with the app secret.
//!
//! Verification runs over the exact bytes received, never over a re-serialized value,
//! and compares in constant time. Meta signs payloads whose non-ASCII characters are
//! escaped as `\uXXXX`; [`to_meta_json`] produces the same bytes, so that a sender
//! (mock-graph) and a verifier (the bot) agree with Meta and with each other.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header Meta signs deliveries with.
pub const HEADER: &str = "X-Hub-Signature-256";

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No header at all.
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    /// Not `sha256=` followed by 64 hex digits.
    #[error("malformed X-Hub-Signature-256 header")]
    Malformed,
    /// Well-formed, but not the body's signature under this secret.
    #[error("X-Hub-Signature-256 does not match the body")]
    Mismatch,
}

fn mac(secret: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("hmac takes any key length");
    mac.update(body);
    mac
}

/// The header value for `body`: `sha256=` and 64 lowercase hex digits.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, body).finalize().into_bytes())
    )
}

/// Checks a header value against the exact bytes received, in constant time.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let digest = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    if digest.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(digest).map_err(|_| SignatureError::Malformed)?;
    mac(secret, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// Serializes `value` as Meta does before signing: compact JSON with every non-ASCII
/// character escaped as `\uXXXX` (lowercase hex, surrogate pairs above U+FFFF).
pub fn to_meta_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let plain = serde_json::to_string(value)?;
    Ok(escape_non_ascii(&plain).into_bytes())
}

/// Escapes every non-ASCII character of a JSON text. Outside strings JSON is ASCII, so
/// this only ever touches string contents.
pub fn escape_non_ascii(json: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(json.len() + json.len() / 8);
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(out, "\\u{unit:04x}").expect("writing to a String cannot fail");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // HMAC-SHA256 test case 2 of RFC 4231.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verify_accepts_own_and_refuses_others() {
        let body = br#"{"object":"page"}"#;
        let header = sign(b"secret", body);
        assert_eq!(verify(b"secret", body, Some(&header)), Ok(()));
        assert_eq!(
            verify(b"other", body, Some(&header)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"secret", b"{}", Some(&header)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify(b"secret", body, None), Err(SignatureError::Missing));
        assert_eq!(
            verify(b"secret", body, Some("sha1=abc")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(b"secret", body, Some("sha256=zz")),
            Err(SignatureError::Malformed)
        );
        let upper = header.to_uppercase().replace("SHA256=", "sha256=");
        // Hex decoding accepts either case; the digest is what matters.
        assert_eq!(verify(b"secret", body, Some(&upper)), Ok(()));
    }

    #[test]
    fn escapes_like_meta() {
        let v = serde_json::json!({"text": "caffè ❤️ 😀"});
        let bytes = to_meta_json(&v).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"text":"caff\u00e8 \u2764\ufe0f \ud83d\ude00"}"#
        );
        let back: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, v);
    }
}
