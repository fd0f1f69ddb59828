//! Limits and key spaces that clients and stores agree on.
//!
//! Region data lives in two key spaces: raw pairs under [`RAW_PREFIX`] ++
//! the user's key (the raw client adds it), transactional data under
//! [`TXN_PREFIX`](crate::txn_key::TXN_PREFIX) ++ the encoded user key (see
//! [`crate::txn_key`]).

/// First byte of every key of the raw key space.
pub const RAW_PREFIX: u8 = b'r';

/// Largest user key a store accepts, in bytes.
pub const MAX_KEY_SIZE: usize = 4096;
/// Largest value a store accepts, in bytes.
pub const MAX_VALUE_SIZE: usize = 8 << 20;

/// Whether `key` lies in `[start, end)`, an empty `end` meaning unbounded.
pub fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    key >= start && (end.is_empty() || key < end)
}

/// The smallest key after `key` (where a scan resumes past it).
pub fn key_after(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.extend_from_slice(key);
    k.push(0);
    k
}

/// Formats a key for logs and CLI output: UTF-8 text when printable,
/// hex otherwise.
pub fn fmt_key(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => format!("{s:?}"),
        _ => format!("0x{}", hex::encode(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_formatting() {
        assert!(in_range(b"b", b"a", b""));
        assert!(!in_range(b"c", b"a", b"c"));
        assert_eq!(fmt_key(b"abc"), "\"abc\"");
        assert_eq!(fmt_key(&[0, 1]), "0x0001");
    }
}
