//! One conformance suite, run on every [`Engine`] implementation.

use super::*;

fn collect<E: Engine>(e: &E, cf: Cf, start: &[u8], end: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    e.scan(cf, start, end, &mut |k, v| {
        out.push((k.to_vec(), v.to_vec()));
        true
    })
    .unwrap();
    out
}

fn kv(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
    (k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

fn suite<E: Engine>(e: E) {
    // Point writes and reads; column families are separate key spaces.
    let mut wb = WriteBatch::default();
    wb.put(Cf::Default, "a", "1");
    wb.put(Cf::Default, "b", "2");
    wb.put(Cf::Default, "c", "3");
    wb.put(Cf::Raft, "a", "raft");
    e.write(&wb, true).unwrap();
    assert_eq!(e.get(Cf::Default, b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(e.get(Cf::Raft, b"a").unwrap(), Some(b"raft".to_vec()));
    assert_eq!(e.get(Cf::Lock, b"a").unwrap(), None);

    // Scans are ordered, half-open, and an empty end is unbounded.
    assert_eq!(
        collect(&e, Cf::Default, b"a", b"c"),
        vec![kv("a", "1"), kv("b", "2")]
    );
    assert_eq!(
        collect(&e, Cf::Default, b"b", b""),
        vec![kv("b", "2"), kv("c", "3")]
    );
    assert!(collect(&e, Cf::Default, b"c", b"a").is_empty());

    // The visitor stops the scan.
    let mut n = 0;
    e.scan(Cf::Default, b"", b"", &mut |_, _| {
        n += 1;
        n < 2
    })
    .unwrap();
    assert_eq!(n, 2);

    // A snapshot does not see later writes.
    let snap = e.snapshot();
    let mut wb = WriteBatch::default();
    wb.put(Cf::Default, "a", "10");
    wb.delete(Cf::Default, "b");
    e.write(&wb, false).unwrap();
    assert_eq!(snap.get(Cf::Default, b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(snap.get(Cf::Default, b"b").unwrap(), Some(b"2".to_vec()));
    assert_eq!(e.get(Cf::Default, b"a").unwrap(), Some(b"10".to_vec()));
    assert_eq!(e.get(Cf::Default, b"b").unwrap(), None);
    let mut seen = Vec::new();
    snap.scan(Cf::Default, b"", b"", &mut |k, _| {
        seen.push(k.to_vec());
        true
    })
    .unwrap();
    assert_eq!(seen, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);

    // Delete range removes exactly [start, end) of one column family.
    let mut wb = WriteBatch::default();
    for k in ["k1", "k2", "k3", "k4"] {
        wb.put(Cf::Write, k, "x");
    }
    e.write(&wb, true).unwrap();
    let mut wb = WriteBatch::default();
    wb.delete_range(Cf::Write, "k2", "k4");
    e.write(&wb, true).unwrap();
    assert_eq!(
        collect(&e, Cf::Write, b"", b""),
        vec![kv("k1", "x"), kv("k4", "x")]
    );
    assert_eq!(e.get(Cf::Default, b"c").unwrap(), Some(b"3".to_vec()));

    // A batch is applied in order: a put after a delete wins.
    let mut wb = WriteBatch::default();
    wb.delete(Cf::Default, "z");
    wb.put(Cf::Default, "z", "last");
    e.write(&wb, true).unwrap();
    assert_eq!(e.get(Cf::Default, b"z").unwrap(), Some(b"last".to_vec()));

    // The engine reports the space it uses, unflushed data included.
    assert!(e.used_size().unwrap() > 0);
    assert!(e.approximate_size(b"", b"").unwrap() > 0);
}

#[test]
fn memory_engine_conforms() {
    suite(MemEngine::new());
}

#[test]
fn rocks_engine_conforms() {
    let dir = tempfile::tempdir().unwrap();
    suite(RocksEngine::open(dir.path()).unwrap());
}

#[test]
fn rocks_engine_keeps_data_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = RocksEngine::open(dir.path()).unwrap();
        let mut wb = WriteBatch::default();
        wb.put(Cf::Default, "durable", "yes");
        e.write(&wb, true).unwrap();
    }
    let e = RocksEngine::open(dir.path()).unwrap();
    assert_eq!(
        e.get(Cf::Default, b"durable").unwrap(),
        Some(b"yes".to_vec())
    );
}

#[test]
fn rocks_engine_refuses_a_corrupted_wal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = RocksEngine::open(dir.path()).unwrap();
        for i in 0..200 {
            let mut wb = WriteBatch::default();
            wb.put(Cf::Raft, format!("log-{i:04}"), vec![b'x'; 100]);
            e.write(&wb, true).unwrap();
        }
    }
    let wal = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("a WAL file");
    let mut bytes = std::fs::read(&wal).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&wal, &bytes).unwrap();
    match RocksEngine::open(dir.path()) {
        Err(EngineError::Corruption(_)) => {}
        Err(e) => panic!("expected a corruption error, got {e}"),
        Ok(_) => panic!("a WAL corrupted in the middle was opened (entries silently dropped)"),
    }
}
