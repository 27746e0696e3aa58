//! The embedded corpus's container format, in one place for both ends: build.rs packs it (it
//! includes this file with `#[path]`, so std only) and corpus.rs reads it back.
//!
//! All integers u32 little-endian: `FXDOCS1\n`, document count, then per document: id length,
//! id bytes, text length, text bytes.

use std::fmt;

pub const MAGIC: &[u8; 8] = b"FXDOCS1\n";

/// Why the embedded corpus cannot be read. build.rs writes it, so any of these means a broken
/// build; searches then answer from local documents only and say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The zlib stream around the container (corpus.rs inflates it).
    Inflate(String),
    BadMagic,
    Truncated {
        what: &'static str,
        offset: usize,
    },
    NotUtf8 {
        what: &'static str,
        offset: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Inflate(e) => write!(f, "embedded documentation cannot be decompressed: {e}"),
            Error::BadMagic => {
                f.write_str("embedded documentation has an unknown container format")
            }
            Error::Truncated { what, offset } => {
                write!(
                    f,
                    "embedded documentation is truncated in the {what} at byte {offset}"
                )
            }
            Error::NotUtf8 { what, offset } => {
                write!(
                    f,
                    "embedded documentation has a {what} that is not UTF-8 at byte {offset}"
                )
            }
        }
    }
}

impl std::error::Error for Error {}

/// The container of `(id, text)` pairs, in the order given; a length over 32 bits is an error
/// naming what overflowed. build.rs and the tests pack; the program itself only reads.
#[cfg_attr(not(test), allow(dead_code))]
pub fn pack<S: AsRef<str>>(docs: &[(S, S)]) -> Result<Vec<u8>, String> {
    let size = docs.iter().fold(MAGIC.len() + 4, |n, (id, text)| {
        n.saturating_add(8 + id.as_ref().len() + text.as_ref().len())
    });
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(MAGIC);
    push_u32(&mut out, docs.len(), "document count")?;
    for (id, text) in docs {
        let (id, text) = (id.as_ref(), text.as_ref());
        push_u32(&mut out, id.len(), "id length")?;
        out.extend_from_slice(id.as_bytes());
        push_u32(&mut out, text.len(), "document length")?;
        out.extend_from_slice(text.as_bytes());
    }
    Ok(out)
}

/// Append `value` as a u32 little-endian (also the blob's size prefix in build.rs).
#[cfg_attr(not(test), allow(dead_code))]
pub fn push_u32(out: &mut Vec<u8>, value: usize, what: &str) -> Result<(), String> {
    let value =
        u32::try_from(value).map_err(|_| format!("{what} {value} does not fit in 32 bits"))?;
    out.extend_from_slice(&value.to_le_bytes());
    Ok(())
}

/// The `(id, text)` pairs of a container, in order.
pub fn unpack(container: &[u8]) -> Result<Vec<(String, String)>, Error> {
    let rest = container
        .strip_prefix(MAGIC.as_slice())
        .ok_or(Error::BadMagic)?;
    let mut reader = Reader { data: rest, pos: 0 };
    let count = reader.u32("document count")?;
    let mut docs = Vec::with_capacity(count.min(4096) as usize);
    for _ in 0..count {
        let id = reader.string("document id")?;
        let text = reader.string("document text")?;
        docs.push((id, text));
    }
    Ok(docs)
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, len: usize, what: &'static str) -> Result<&[u8], Error> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.data.len());
        let end = end.ok_or(Error::Truncated {
            what,
            offset: self.pos + MAGIC.len(),
        })?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, Error> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn string(&mut self, what: &'static str) -> Result<String, Error> {
        let len = self.u32(what)? as usize;
        let offset = self.pos + MAGIC.len();
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::NotUtf8 { what, offset })
    }
}
