//! Where transactional data lives in the Region key space.
//!
//! A user key `k` is stored as the *encoded key* `x` ++ memcomparable(`k`):
//! the user key in groups of 8 bytes, each followed by a marker byte that
//! says how many of the group's bytes are padding (MySQL's and TiKV's
//! format). Encoded keys sort exactly like the user keys, and none is a
//! prefix of another, so a timestamp appended to an encoded key keeps all
//! versions of the key together, between the key's neighbours: a Region
//! boundary at an encoded key never cuts through a key's versions.
//! Timestamps are appended inverted (`!ts`, big-endian) so that a key's
//! newest version comes first.
//!
//! | CF        | key                       | value            |
//! |-----------|---------------------------|------------------|
//! | `lock`    | encoded                   | `mvccpb::Lock`   |
//! | `write`   | encoded ++ !commit_ts     | `mvccpb::Write`  |
//! | `default` | encoded ++ !start_ts      | the value        |
//!
//! The `x` prefix keeps transactional keys apart from raw keys.

/// A byte string that is not a well-formed transactional key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadKey(pub String);

/// First byte of every key of the transactional key space.
pub const TXN_PREFIX: u8 = b'x';
/// Bytes of a version suffix.
pub const TS_LEN: usize = 8;

const GROUP: usize = 8;
const MARKER: u8 = 0xFF;

/// The encoded key of `user_key`.
pub fn encode_key(user_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + (user_key.len() / GROUP + 1) * (GROUP + 1) + TS_LEN);
    out.push(TXN_PREFIX);
    let mut chunks = user_key.chunks_exact(GROUP);
    for chunk in chunks.by_ref() {
        out.extend_from_slice(chunk);
        out.push(MARKER);
    }
    // The last group is always partial (possibly empty) and padded.
    let rest = chunks.remainder();
    let pad = GROUP - rest.len();
    out.extend_from_slice(rest);
    out.extend(std::iter::repeat_n(0, pad));
    out.push(MARKER - pad as u8);
    out
}

/// The user key of an encoded key (one without a version suffix).
pub fn decode_key(encoded: &[u8]) -> Result<Vec<u8>, BadKey> {
    let bad = || BadKey(format!("bad encoded key {encoded:02x?}"));
    let body = match encoded.split_first() {
        Some((&TXN_PREFIX, body)) => body,
        _ => return Err(bad()),
    };
    let mut out = Vec::with_capacity(body.len());
    for (i, group) in body.chunks(GROUP + 1).enumerate() {
        if group.len() != GROUP + 1 {
            return Err(bad());
        }
        let last = (i + 1) * (GROUP + 1) == body.len();
        let pad = (MARKER - group[GROUP]) as usize;
        if pad == 0 {
            out.extend_from_slice(&group[..GROUP]);
            continue;
        }
        let used = GROUP.checked_sub(pad).ok_or_else(bad)?;
        if group[used..GROUP].iter().any(|b| *b != 0) || !last {
            return Err(bad());
        }
        out.extend_from_slice(&group[..used]);
        return Ok(out);
    }
    Err(bad())
}

/// `encoded` ++ the version suffix of `ts`.
pub fn append_ts(encoded: &[u8], ts: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(encoded.len() + TS_LEN);
    k.extend_from_slice(encoded);
    k.extend_from_slice(&(!ts).to_be_bytes());
    k
}

/// Splits a versioned key into its encoded key and timestamp.
pub fn split_ts(versioned: &[u8]) -> Result<(&[u8], u64), BadKey> {
    let at = versioned
        .len()
        .checked_sub(TS_LEN)
        .filter(|at| *at > 0)
        .ok_or_else(|| BadKey(format!("bad versioned key {versioned:02x?}")))?;
    let (key, ts) = versioned.split_at(at);
    let mut buf = [0u8; TS_LEN];
    buf.copy_from_slice(ts);
    Ok((key, !u64::from_be_bytes(buf)))
}

/// The exclusive end of every version of `encoded`.
pub fn versions_end(encoded: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(encoded.len() + TS_LEN + 1);
    k.extend_from_slice(encoded);
    k.extend_from_slice(&[0xFF; TS_LEN]);
    k.push(0);
    k
}

/// The encoded bounds of the user-key range `[start, end)` (an empty end is
/// the end of the transactional key space).
pub fn encode_range(start: &[u8], end: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let end = if end.is_empty() {
        vec![TXN_PREFIX + 1]
    } else {
        encode_key(end)
    };
    (encode_key(start), end)
}

/// The encoded key a data key of the transactional key space belongs to:
/// a `write` or `default` key without its version (a split key must never
/// separate a key's versions). Other keys are returned as they are.
pub fn truncate_version(key: &[u8]) -> &[u8] {
    if key.first() != Some(&TXN_PREFIX) {
        return key;
    }
    let body = key.len() - 1;
    if body % (GROUP + 1) == TS_LEN {
        &key[..key.len() - TS_LEN]
    } else {
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_keeps_order() {
        let keys: Vec<&[u8]> = vec![
            b"",
            b"\x00",
            b"a",
            b"a\x00",
            b"a\x00\x00\x00\x00\x00\x00\x00",
            b"a\x00\x00\x00\x00\x00\x00\x00\x00",
            b"abcdefg",
            b"abcdefgh",
            b"abcdefgh\x00",
            b"abcdefghi",
            b"b",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        ];
        let encoded: Vec<Vec<u8>> = keys.iter().map(|k| encode_key(k)).collect();
        for (k, e) in keys.iter().zip(&encoded) {
            assert_eq!(decode_key(e).unwrap(), *k);
            assert_eq!((e.len() - 1) % 9, 0);
        }
        for w in encoded.windows(2) {
            assert!(w[0] < w[1], "{:02x?} !< {:02x?}", w[0], w[1]);
            // Versions of the smaller key stay below the larger key.
            assert!(versions_end(&w[0]) <= w[1]);
        }
    }

    #[test]
    fn versions_sort_newest_first_and_split_back() {
        let e = encode_key(b"k");
        let (new, old) = (append_ts(&e, 20), append_ts(&e, 10));
        assert!(e < new && new < old && old < versions_end(&e));
        assert_eq!(split_ts(&new).unwrap(), (e.as_slice(), 20));
        assert_eq!(truncate_version(&new), e.as_slice());
        assert_eq!(truncate_version(&e), e.as_slice());
        assert_eq!(truncate_version(b"raw-key"), b"raw-key");
    }

    #[test]
    fn garbage_is_refused() {
        assert!(decode_key(b"").is_err());
        assert!(decode_key(b"rabc").is_err());
        assert!(decode_key(b"xabc").is_err());
        // Non-zero padding.
        assert!(decode_key(b"xa\x01\x00\x00\x00\x00\x00\x00\xf8").is_err());
        // Bytes after the last group.
        let mut e = encode_key(b"a");
        e.extend_from_slice(&encode_key(b"b")[1..]);
        assert!(decode_key(&e).is_err());
        assert!(split_ts(b"short").is_err());
    }
}
