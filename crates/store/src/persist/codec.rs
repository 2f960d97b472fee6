//! The on-disk encoding shared by the write-ahead log and snapshots:
//! checksummed records, and the encodings of write requests and groups.
//!
//! A record is `length (u32 LE) | CRC-32 of the payload (u32 LE) | payload`.
//! A record whose length runs past the data or whose checksum does not
//! match is damaged: at the end of a log that is a torn write, anywhere
//! else it is corruption. Readers resynchronise past damage at the next
//! offset where an intact record starts, so damage costs only the records
//! it touched.

use std::sync::Arc;

use exposition::protobuf::{decode_family, encode_family_header};
use exposition::MetricType;

use crate::family::StoredFamily;
use crate::key::GroupingKey;
use crate::store::Store;
use crate::time::PushTime;
use crate::write::{GroupImage, Lifetime, PushMode, Write};

/// The first bytes of a snapshot file.
pub(crate) const SNAPSHOT_MAGIC: &[u8; 8] = b"PGWSNAP1";
/// The first bytes of a journal segment.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"PGWWAL01";

/// Largest record accepted when reading (a record is one push or group).
pub(crate) const MAX_RECORD: usize = 1 << 30;

/// Appends one framed record.
pub(crate) fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Appends one framed journal record whose payload is `varint(lsn) | body`,
/// without copying the body first.
pub(crate) fn frame_numbered(out: &mut Vec<u8>, lsn: u64, body: &[u8]) {
    let mut number = [0u8; 10];
    let mut n = 0;
    let mut v = lsn;
    while v >= 0x80 {
        number[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    number[n] = v as u8;
    let number = &number[..=n];
    let mut crc = crc32fast::Hasher::new();
    crc.update(number);
    crc.update(body);
    out.reserve(8 + number.len() + body.len());
    out.extend_from_slice(&((number.len() + body.len()) as u32).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(number);
    out.extend_from_slice(body);
}

/// The framed records of some data: the intact ones with their offsets,
/// and the offsets where damaged stretches start.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Scan<'a> {
    pub(crate) records: Vec<(usize, &'a [u8])>,
    pub(crate) damaged: Vec<usize>,
}

impl Scan<'_> {
    /// Whether the data ends in damage after its last intact record: in a
    /// log, a write a crash cut short.
    pub(crate) fn torn_at(&self) -> Option<usize> {
        let last_damage = *self.damaged.last()?;
        match self.records.last() {
            Some((offset, _)) if *offset > last_damage => None,
            _ => Some(last_damage),
        }
    }
}

/// Whether the record at `pos` claims more bytes than the data has left:
/// the data was cut short there.
pub(crate) fn cut_short_at(data: &[u8], pos: usize) -> bool {
    match data.get(pos..).and_then(|rest| rest.get(..8)) {
        None => true,
        Some(head) => {
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            len <= MAX_RECORD && pos + 8 + len > data.len()
        }
    }
}

/// The intact record at `pos`, if one starts there.
fn record_at(data: &[u8], pos: usize) -> Option<&[u8]> {
    let head = data.get(pos..pos.checked_add(8)?)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    // No record is empty: a zero header is a hole (a file extended by a
    // crash before its data reached the disk), not a record.
    if len == 0 || len > MAX_RECORD {
        return None;
    }
    let payload = data.get(pos + 8..)?.get(..len)?;
    (crc32fast::hash(payload) == crc).then_some(payload)
}

/// Splits data into its intact records, skipping each damaged stretch up
/// to the next offset where an intact record starts.
pub(crate) fn scan(data: &[u8]) -> Scan<'_> {
    let mut out = Scan::default();
    let mut pos = 0;
    while pos < data.len() {
        if let Some(payload) = record_at(data, pos) {
            out.records.push((pos, payload));
            pos += 8 + payload.len();
            continue;
        }
        out.damaged.push(pos);
        pos = (pos + 1..data.len())
            .find(|&p| record_at(data, p).is_some())
            .unwrap_or(data.len());
    }
    out
}

/// A byte writer for record payloads.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    pub(crate) fn key(&mut self, key: &GroupingKey) {
        self.varint(key.len() as u64);
        for (n, v) in key.labels() {
            self.str(n);
            self.str(v);
        }
    }

    pub(crate) fn group(&mut self, image: &GroupImage) {
        self.key(&image.key);
        self.i64(image.push_time.as_nanos());
        self.i64(image.failure_time.as_nanos());
        self.varint(image.families.len() as u64);
        for f in &image.families {
            self.family(f);
        }
        // An optional trailer, absent for groups without a lifetime (and
        // in files written before lifetimes existed).
        if image.lifetime != Lifetime::Forever || image.expires_at.is_some() {
            self.u8(GROUP_LIFETIME);
            self.lifetime(image.lifetime);
            self.i64(image.expires_at.map_or(0, PushTime::as_nanos));
        }
    }

    pub(crate) fn lifetime(&mut self, lifetime: Lifetime) {
        self.varint(u64::try_from(lifetime.ttl().as_nanos()).unwrap_or(u64::MAX));
    }

    pub(crate) fn family(&mut self, f: &StoredFamily) {
        self.str(f.name());
        match f.help() {
            Some(h) => {
                self.u8(1);
                self.str(h);
            }
            None => self.u8(0),
        }
        self.u8(f.metric_type() as u8);
        self.i64(f.pushed_at().as_nanos());
        self.bytes(f.proto());
    }
}

/// A problem decoding a payload (the payload's checksum was fine, so this
/// means a format mismatch, not a torn write).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed record: {0}")]
pub(crate) struct DecodeError(pub(crate) &'static str);

/// A byte reader for record payloads.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

/// A family as stored on disk: enough to rebuild a [`StoredFamily`].
#[derive(Debug, Clone)]
pub(crate) struct DiskFamily<'a> {
    pub(crate) name: &'a str,
    pub(crate) help: Option<&'a str>,
    pub(crate) metric_type: MetricType,
    pub(crate) pushed_at: PushTime,
    /// The protobuf `Metric` fields (field 4 of a `MetricFamily`).
    pub(crate) proto: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.data.split_first().ok_or(DecodeError("truncated"))?;
        self.data = rest;
        Ok(b)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError("varint too long"))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, DecodeError> {
        let bytes = self.data.get(..8).ok_or(DecodeError("truncated"))?;
        let v = i64::from_le_bytes(bytes.try_into().map_err(|_| DecodeError("truncated"))?);
        self.data = &self.data[8..];
        Ok(v)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(self.varint()?).map_err(|_| DecodeError("length"))?;
        let b = self.data.get(..len).ok_or(DecodeError("truncated"))?;
        self.data = &self.data[len..];
        Ok(b)
    }

    pub(crate) fn str(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| DecodeError("invalid UTF-8"))
    }

    pub(crate) fn count(&mut self) -> Result<usize, DecodeError> {
        let n = usize::try_from(self.varint()?).map_err(|_| DecodeError("count"))?;
        // Every counted item takes at least one byte.
        if n > self.data.len() {
            return Err(DecodeError("count larger than the record"));
        }
        Ok(n)
    }

    pub(crate) fn key(&mut self) -> Result<GroupingKey, DecodeError> {
        let n = self.count()?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            pairs.push((self.str()?, self.str()?));
        }
        Ok(GroupingKey::new(pairs))
    }

    pub(crate) fn group(&mut self) -> Result<DiskGroup<'a>, DecodeError> {
        let key = self.key()?;
        let push_time = PushTime::from_nanos(self.i64()?);
        let failure_time = PushTime::from_nanos(self.i64()?);
        let n = self.count()?;
        let mut families = Vec::with_capacity(n);
        for _ in 0..n {
            families.push(self.family()?);
        }
        let (mut lifetime, mut expires_at) = (Lifetime::Forever, None);
        if self.data.first() == Some(&GROUP_LIFETIME) {
            self.u8()?;
            lifetime = self.lifetime()?;
            expires_at = Some(self.i64()?)
                .filter(|n| *n != 0)
                .map(PushTime::from_nanos);
        }
        Ok(DiskGroup {
            key,
            push_time,
            failure_time,
            families,
            lifetime,
            expires_at,
        })
    }

    pub(crate) fn lifetime(&mut self) -> Result<Lifetime, DecodeError> {
        Ok(Lifetime::from_ttl(std::time::Duration::from_nanos(
            self.varint()?,
        )))
    }

    /// What is left unread.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// Fails unless everything was read.
    pub(crate) fn end(&self) -> Result<(), DecodeError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(DecodeError("trailing bytes"))
        }
    }

    pub(crate) fn family(&mut self) -> Result<DiskFamily<'a>, DecodeError> {
        let name = self.str()?;
        let help = match self.u8()? {
            0 => None,
            _ => Some(self.str()?),
        };
        let metric_type = MetricType::from_i32(i32::from(self.u8()?))
            .ok_or(DecodeError("unknown metric type"))?;
        let pushed_at = PushTime::from_nanos(self.i64()?);
        let proto = self.bytes()?;
        Ok(DiskFamily {
            name,
            help,
            metric_type,
            pushed_at,
            proto,
        })
    }
}

/// The kinds of log records (the first byte of a record's body).
const PUSH: u8 = 1;
const FAIL: u8 = 2;
const DELETE: u8 = 3;
const WIPE: u8 = 4;
const RESTORE: u8 = 5;
/// A push that gives its group a lifetime: a push's fields, then the TTL.
const PUSH_FOR: u8 = 6;
/// A failure that gives a group it creates a lifetime: a failure's fields,
/// then the TTL.
const FAIL_FOR: u8 = 7;
/// An expiry: the key and the deadline.
const EXPIRE: u8 = 8;
/// A delete conditional on the group's last push: the key and that time.
const DELETE_UNCHANGED: u8 = 9;

/// Marks the lifetime trailer of a group.
const GROUP_LIFETIME: u8 = 1;

/// Encodes a write as a journal record body: `kind | fields`. The journal
/// puts the record's LSN in front when it frames the record.
pub(crate) fn encode_write(write: &Write) -> Vec<u8> {
    let mut w = Writer::default();
    match write {
        Write::Push {
            key,
            families,
            mode,
            at,
            lifetime,
        } => {
            // Without a lifetime, the record is as it always was.
            w.u8(match lifetime {
                Lifetime::Forever => PUSH,
                Lifetime::For(_) => PUSH_FOR,
            });
            w.key(key);
            w.u8(u8::from(*mode == PushMode::Replace));
            w.i64(at.as_nanos());
            w.varint(families.len() as u64);
            for f in families {
                w.family(f);
            }
            if *lifetime != Lifetime::Forever {
                w.lifetime(*lifetime);
            }
        }
        Write::Fail { key, at, lifetime } => {
            w.u8(match lifetime {
                Lifetime::Forever => FAIL,
                Lifetime::For(_) => FAIL_FOR,
            });
            w.key(key);
            w.i64(at.as_nanos());
            if *lifetime != Lifetime::Forever {
                w.lifetime(*lifetime);
            }
        }
        Write::Expire { key, deadline } => {
            w.u8(EXPIRE);
            w.key(key);
            w.i64(deadline.as_nanos());
        }
        Write::DeleteUnchanged { key, last_push } => {
            w.u8(DELETE_UNCHANGED);
            w.key(key);
            w.i64(last_push.as_nanos());
        }
        Write::Delete { key } => {
            w.u8(DELETE);
            w.key(key);
        }
        Write::Wipe => w.u8(WIPE),
        Write::Restore(image) => {
            w.u8(RESTORE);
            w.group(image);
        }
    }
    w.buf
}

/// A group as snapshots store it: the body of a restore record.
pub(crate) fn encode_group(image: &GroupImage) -> Vec<u8> {
    let mut w = Writer::default();
    w.group(image);
    w.buf
}

/// A write read back from disk, its families not yet rebuilt.
#[derive(Debug)]
pub(crate) enum DiskWrite<'a> {
    Push {
        key: GroupingKey,
        mode: PushMode,
        at: PushTime,
        families: Vec<DiskFamily<'a>>,
        lifetime: Lifetime,
    },
    Fail {
        key: GroupingKey,
        at: PushTime,
        lifetime: Lifetime,
    },
    Delete {
        key: GroupingKey,
    },
    Expire {
        key: GroupingKey,
        deadline: PushTime,
    },
    DeleteUnchanged {
        key: GroupingKey,
        last_push: PushTime,
    },
    Wipe,
    Restore(DiskGroup<'a>),
}

/// A group read from disk, before its families are rebuilt.
#[derive(Debug)]
pub(crate) struct DiskGroup<'a> {
    pub(crate) key: GroupingKey,
    pub(crate) push_time: PushTime,
    pub(crate) failure_time: PushTime,
    pub(crate) families: Vec<DiskFamily<'a>>,
    pub(crate) lifetime: Lifetime,
    pub(crate) expires_at: Option<PushTime>,
}

/// Decodes a record body written by [`encode_write`].
pub(crate) fn decode_write(body: &[u8]) -> Result<DiskWrite<'_>, DecodeError> {
    let mut r = Reader::new(body);
    let write = match r.u8()? {
        kind @ (PUSH | PUSH_FOR) => {
            let key = r.key()?;
            let mode = if r.u8()? != 0 {
                PushMode::Replace
            } else {
                PushMode::Merge
            };
            let at = PushTime::from_nanos(r.i64()?);
            let n = r.count()?;
            let mut families = Vec::with_capacity(n);
            for _ in 0..n {
                families.push(r.family()?);
            }
            let lifetime = match kind {
                PUSH_FOR => r.lifetime()?,
                _ => Lifetime::Forever,
            };
            DiskWrite::Push {
                key,
                mode,
                at,
                families,
                lifetime,
            }
        }
        kind @ (FAIL | FAIL_FOR) => {
            let key = r.key()?;
            let at = PushTime::from_nanos(r.i64()?);
            let lifetime = match kind {
                FAIL_FOR => r.lifetime()?,
                _ => Lifetime::Forever,
            };
            DiskWrite::Fail { key, at, lifetime }
        }
        DELETE => DiskWrite::Delete { key: r.key()? },
        EXPIRE => DiskWrite::Expire {
            key: r.key()?,
            deadline: PushTime::from_nanos(r.i64()?),
        },
        DELETE_UNCHANGED => DiskWrite::DeleteUnchanged {
            key: r.key()?,
            last_push: PushTime::from_nanos(r.i64()?),
        },
        WIPE => DiskWrite::Wipe,
        RESTORE => DiskWrite::Restore(r.group()?),
        _ => return Err(DecodeError("unknown record kind")),
    };
    r.end()?;
    Ok(write)
}

/// Decodes a group written by [`encode_group`].
pub(crate) fn decode_group(body: &[u8]) -> Result<DiskGroup<'_>, DecodeError> {
    let mut r = Reader::new(body);
    let group = r.group()?;
    r.end()?;
    Ok(group)
}

impl DiskFamily<'_> {
    /// Rebuilds the stored family for `key` under `store`'s rules.
    pub(crate) fn rebuild(&self, store: &Store, key: &GroupingKey) -> Result<StoredFamily, String> {
        let mut message = Vec::with_capacity(self.proto.len() + self.name.len() + 16);
        encode_family_header(&mut message, self.name, self.help, self.metric_type);
        message.extend_from_slice(self.proto);
        let family = decode_family(&message).map_err(|e| format!("family {:?}: {e}", self.name))?;
        Ok(store.rebuild_family(key, &family, self.pushed_at))
    }
}

impl DiskGroup<'_> {
    /// Rebuilds the group; families that cannot be decoded are left out
    /// and reported.
    pub(crate) fn rebuild(&self, store: &Store) -> (GroupImage, Vec<String>) {
        let mut problems = Vec::new();
        let families = self
            .families
            .iter()
            .filter_map(|f| match f.rebuild(store, &self.key) {
                Ok(f) => Some(Arc::new(f)),
                Err(e) => {
                    problems.push(format!("group {}: {e}", self.key));
                    None
                }
            })
            .collect();
        let image = GroupImage {
            key: self.key.clone(),
            families,
            push_time: self.push_time,
            failure_time: self.failure_time,
            lifetime: self.lifetime,
            expires_at: self.expires_at,
        };
        (image, problems)
    }
}

impl DiskWrite<'_> {
    /// Rebuilds the write; a family that cannot be decoded fails it.
    pub(crate) fn rebuild(self, store: &Store) -> Result<Write, String> {
        Ok(match self {
            DiskWrite::Push {
                key,
                mode,
                at,
                families,
                lifetime,
            } => {
                let families = families
                    .iter()
                    .map(|f| f.rebuild(store, &key).map(Arc::new))
                    .collect::<Result<_, _>>()?;
                Write::Push {
                    key,
                    families,
                    mode,
                    at,
                    lifetime,
                }
            }
            DiskWrite::Fail { key, at, lifetime } => Write::Fail { key, at, lifetime },
            DiskWrite::Delete { key } => Write::Delete { key },
            DiskWrite::Expire { key, deadline } => Write::Expire { key, deadline },
            DiskWrite::DeleteUnchanged { key, last_push } => {
                Write::DeleteUnchanged { key, last_push }
            }
            DiskWrite::Wipe => Write::Wipe,
            DiskWrite::Restore(group) => {
                let (image, problems) = group.rebuild(store);
                if let Some(problem) = problems.into_iter().next() {
                    return Err(problem);
                }
                Write::Restore(image)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads<'a>(scan: &Scan<'a>) -> Vec<&'a [u8]> {
        scan.records.iter().map(|(_, p)| *p).collect()
    }

    #[test]
    fn frames_and_detects_damage() {
        let mut data = Vec::new();
        frame(&mut data, b"one");
        frame(&mut data, b"two");
        let whole = scan(&data);
        assert_eq!(payloads(&whole), vec![b"one".as_slice(), b"two"]);
        assert!(whole.damaged.is_empty());
        for cut in 1..data.len() {
            let part = scan(&data[..cut]);
            assert!(part.records.len() < 2);
            if cut != 11 {
                assert_eq!(part.torn_at(), part.damaged.last().copied(), "cut at {cut}");
                assert!(part.torn_at().is_some(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn resynchronises_past_a_damaged_record() {
        let mut data = Vec::new();
        for word in [b"one".as_slice(), b"two", b"three", b"four"] {
            frame(&mut data, word);
        }
        // Flip a byte inside "two" and another in the header of "four".
        data[11 + 8] ^= 1;
        let four = 11 + 11 + 13;
        data[four + 1] ^= 0x40;
        let found = scan(&data);
        assert_eq!(payloads(&found), vec![b"one".as_slice(), b"three"]);
        assert_eq!(found.damaged, vec![11, four]);
        assert_eq!(
            found.torn_at(),
            Some(four),
            "damage after the last intact record"
        );
        data.truncate(four);
        frame(&mut data, b"five");
        let found = scan(&data);
        assert_eq!(payloads(&found), vec![b"one".as_slice(), b"three", b"five"]);
        assert_eq!(found.torn_at(), None, "damage in the middle");
    }

    #[test]
    fn random_bytes_hold_no_records() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let found = scan(&noise);
        assert!(found.records.is_empty());
        assert_eq!(found.damaged, vec![0]);
    }

    #[test]
    fn reader_refuses_absurd_counts() {
        let mut w = Writer::default();
        w.varint(u64::MAX);
        assert!(Reader::new(&w.buf).count().is_err());
        let mut w = Writer::default();
        w.varint(1 << 40);
        assert!(Reader::new(&w.buf).bytes().is_err());
    }
}
