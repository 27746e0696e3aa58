//! The snapshot file format (version 1): a fixed header, then one zlib stream holding a
//! sequence of length-prefixed records. Written by `snapshot create`, read by
//! `serve --snapshot` and `snapshot serve-api`. Documented in ARCHITECTURE.md.
//!
//! ```text
//! offset  size  field
//!      0     8  MAGIC  "\x89FXSNAP\n" (the 0x89 and the newline catch 7-bit and text-mode copies)
//!      8     2  format version, little endian (FORMAT_VERSION)
//!     10     2  reserved, 0
//!     12     8  body length once inflated, little endian (at most MAX_BODY)
//!     20     …  the body, zlib (RFC 1950: deflate plus an Adler-32 of the body)
//!
//! body = record*, ending with an END record
//! record = tag (1 byte) | length (4 bytes, little endian) | payload (length bytes)
//! ```
//!
//! Every length is checked against what is left before it is used, and nothing is allocated
//! from a count the file declares: a hostile file can make reading fail, never make it
//! allocate more than the body it really holds (itself capped by the inflate limit).

use std::fmt;

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

/// The first bytes of every snapshot file.
pub const MAGIC: [u8; 8] = *b"\x89FXSNAP\n";
/// The format this build writes and the newest it reads.
pub const FORMAT_VERSION: u16 = 1;
/// Header bytes before the zlib stream.
pub const HEADER_LEN: usize = 20;
/// The largest body (inflated) read. A snapshot is held in memory while it is served, and
/// the body *is* that memory (objects stay as the JSON bytes they were saved as); 512 MiB is
/// about fifteen times a 10,000-object snapshot (see `make bench`), and bounds what a
/// decompression bomb can make us allocate.
pub const MAX_BODY: u64 = 512 << 20;
/// The largest single record: an object (etcd refuses objects over 1.5 MiB), a log tail, the
/// discovery documents of a cluster with hundreds of CRDs.
pub const MAX_RECORD: usize = 64 << 20;

/// Record tags.
pub mod tag {
    /// JSON: context, server, namespace, capture time, producer, notes. First record.
    pub const META: u8 = 1;
    /// JSON `{"core": <aggregated /api>, "apis": <aggregated /apis>}`.
    pub const DISCOVERY: u8 = 2;
    /// JSON: one resource type (group, version, kind, plural, scope, resourceVersion, whether
    /// captured whole, keys known to be absent). The OBJECT records after it belong to it.
    pub const COLLECTION: u8 = 3;
    /// One flag byte ([`super::OBJECT_HAS_SECRETS`]), the key's length (2 bytes, little
    /// endian), the key `namespace\0name`, then the object as compact JSON.
    pub const OBJECT: u8 = 4;
    /// A 4-byte header length, the header as JSON (namespace, pod, container, previous,
    /// complete), then the log text as captured (each line led by its RFC 3339 timestamp).
    pub const LOG: u8 = 5;
    /// No payload; the last record. A body without it was cut short.
    pub const END: u8 = 0xff;
}

/// OBJECT flag: the object is or holds a core Secret whose values were replaced by their
/// sizes (`<masked: N bytes>`), to be handed out as values of that size.
pub const OBJECT_HAS_SECRETS: u8 = 1;

/// Why a snapshot file cannot be read. Each names what is wrong; none quotes file content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// Shorter than the header, or not starting with [`MAGIC`].
    NotASnapshot,
    /// Written by a newer release.
    FutureVersion(u16),
    /// Version 0 or a reserved field set: damaged.
    BadHeader(String),
    /// The declared body is over [`MAX_BODY`].
    TooLarge(u64),
    /// The zlib stream is cut short or damaged, or inflates to another length than declared.
    Corrupt(String),
    /// A record runs past the body, is over [`MAX_RECORD`], or has an unknown tag.
    BadRecord { offset: usize, detail: String },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::NotASnapshot => {
                f.write_str("not a flux-operator-mcp snapshot (no snapshot header)")
            }
            FormatError::FutureVersion(v) => write!(
                f,
                "snapshot format {v} is newer than this flux-operator-mcp reads (format \
                 {FORMAT_VERSION}); use a newer release"
            ),
            FormatError::BadHeader(why) => write!(f, "damaged snapshot header: {why}"),
            FormatError::TooLarge(n) => write!(
                f,
                "the snapshot body is {} MiB once inflated, over the {} MiB limit",
                n >> 20,
                MAX_BODY >> 20
            ),
            FormatError::Corrupt(why) => write!(f, "the snapshot is truncated or damaged: {why}"),
            FormatError::BadRecord { offset, detail } => {
                write!(
                    f,
                    "damaged snapshot record at body offset {offset}: {detail}"
                )
            }
        }
    }
}

impl std::error::Error for FormatError {}

/// Builds a snapshot file: records appended to the body in memory, compressed at the end.
#[derive(Default)]
pub struct Writer {
    body: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// Appends one record. A payload over [`MAX_RECORD`] is the caller's bug (it bounds what
    /// it captures); it is refused here so no unreadable file is ever written.
    pub fn record(&mut self, tag: u8, payload: &[u8]) -> Result<(), FormatError> {
        self.record_parts(tag, &[payload])
    }

    /// A record whose payload is the concatenation of `parts` (a flag byte and JSON, say).
    pub fn record_parts(&mut self, tag: u8, parts: &[&[u8]]) -> Result<(), FormatError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let too_big = || FormatError::BadRecord {
            offset: self.body.len(),
            detail: format!("a {len}-byte record is over the {MAX_RECORD}-byte limit"),
        };
        if len > MAX_RECORD {
            return Err(too_big());
        }
        let len32 = u32::try_from(len).map_err(|_| too_big())?;
        self.body.push(tag);
        self.body.extend_from_slice(&len32.to_le_bytes());
        for p in parts {
            self.body.extend_from_slice(p);
        }
        Ok(())
    }

    /// Bytes appended so far (uncompressed).
    pub fn body_len(&self) -> usize {
        self.body.len()
    }

    /// The whole file: header, then the compressed body ending with an END record.
    pub fn finish(mut self) -> Result<Vec<u8>, FormatError> {
        self.record(tag::END, &[])?;
        let raw = self.body.len() as u64;
        if raw > MAX_BODY {
            return Err(FormatError::TooLarge(raw));
        }
        // Level 6: within a few percent of 9 on JSON, several times faster.
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&self.body, 6);
        let mut out = Vec::with_capacity(HEADER_LEN + compressed.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&raw.to_le_bytes());
        out.extend_from_slice(&compressed);
        Ok(out)
    }
}

/// Checks the header of `file` and inflates its body, never past the declared length (itself
/// at most [`MAX_BODY`]).
pub fn inflate(file: &[u8]) -> Result<Vec<u8>, FormatError> {
    let (Some(magic), Some(version), Some(reserved), Some(declared)) = (
        file.get(..8),
        file.get(8..10),
        file.get(10..12),
        file.get(12..20),
    ) else {
        return Err(FormatError::NotASnapshot);
    };
    if magic != MAGIC {
        return Err(FormatError::NotASnapshot);
    }
    let version = u16::from_le_bytes([version[0], version[1]]);
    if version > FORMAT_VERSION {
        return Err(FormatError::FutureVersion(version));
    }
    if version == 0 {
        return Err(FormatError::BadHeader("format version 0".into()));
    }
    if reserved != [0, 0] {
        return Err(FormatError::BadHeader("reserved bytes are set".into()));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(declared);
    let declared = u64::from_le_bytes(len);
    if declared > MAX_BODY {
        return Err(FormatError::TooLarge(declared));
    }
    // Bounded by MAX_BODY just above. Allocated once at the declared size (zeroed pages cost
    // nothing until written) and inflated in one pass: no regrowth, so no moment with two
    // copies of the body, and nothing past the declared length is ever written.
    let limit = declared as usize;
    let stream = file.get(HEADER_LEN..).unwrap_or_default();
    let mut body = vec![0u8; limit];
    let mut state = Box::<DecompressorOxide>::default();
    let flags = inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER
        | inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let (status, _, written) = decompress(&mut state, stream, &mut body, 0, flags);
    match status {
        TINFLStatus::Done if written == limit => {}
        TINFLStatus::Done => {
            return Err(FormatError::Corrupt(format!(
                "the body inflates to {written} bytes, its header declares {declared}"
            )));
        }
        TINFLStatus::HasMoreOutput => {
            return Err(FormatError::Corrupt(format!(
                "the body inflates to more than the {declared} bytes its header declares"
            )));
        }
        TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
            return Err(FormatError::Corrupt(
                "the compressed body ends early".into(),
            ));
        }
        TINFLStatus::Adler32Mismatch => {
            return Err(FormatError::Corrupt(
                "the body's checksum does not match".into(),
            ));
        }
        other => {
            return Err(FormatError::Corrupt(format!(
                "invalid compressed data ({other:?})"
            )));
        }
    }
    Ok(body)
}

/// One record of a body: its tag, where its payload starts and the payload.
pub struct Record<'a> {
    pub tag: u8,
    pub offset: usize,
    pub payload: &'a [u8],
}

/// The records of an inflated body, in order, up to and including END. Anything after END,
/// or no END at all, is an error.
pub struct Records<'a> {
    body: &'a [u8],
    at: usize,
    ended: bool,
}

impl<'a> Records<'a> {
    pub fn new(body: &'a [u8]) -> Records<'a> {
        Records {
            body,
            at: 0,
            ended: false,
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            if self.at < self.body.len() {
                self.ended = true;
                let offset = self.at;
                self.at = self.body.len();
                return Some(Err(FormatError::BadRecord {
                    offset,
                    detail: "data after the end record".into(),
                }));
            }
            return None;
        }
        let offset = self.at;
        let bad = |detail: String| Some(Err(FormatError::BadRecord { offset, detail }));
        let Some(head) = self.body.get(offset..offset + 5) else {
            self.ended = true;
            self.at = self.body.len();
            return bad("the body ends without an end record".into());
        };
        let tag = head[0];
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX_RECORD {
            self.ended = true;
            self.at = self.body.len();
            return bad(format!(
                "a {len}-byte record is over the {MAX_RECORD}-byte limit"
            ));
        }
        let start = offset + 5;
        let Some(payload) = self.body.get(start..start + len) else {
            self.ended = true;
            self.at = self.body.len();
            return bad(format!("a {len}-byte record runs past the end of the body"));
        };
        if !matches!(
            tag,
            tag::META | tag::DISCOVERY | tag::COLLECTION | tag::OBJECT | tag::LOG | tag::END
        ) {
            self.ended = true;
            self.at = self.body.len();
            return bad(format!("unknown record tag {tag}"));
        }
        self.at = start + len;
        if tag == tag::END {
            self.ended = true;
        }
        Some(Ok(Record {
            tag,
            offset: start,
            payload,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = Writer::new();
        w.record(tag::META, br#"{"context":"c"}"#).unwrap();
        w.record_parts(tag::OBJECT, &[&[0], br#"{"a":1}"#]).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn a_written_file_reads_back_record_by_record() {
        let file = sample();
        assert_eq!(&file[..8], &MAGIC);
        let body = inflate(&file).unwrap();
        let records: Vec<(u8, Vec<u8>)> = Records::new(&body)
            .map(|r| r.map(|r| (r.tag, r.payload.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            records,
            [
                (tag::META, br#"{"context":"c"}"#.to_vec()),
                (tag::OBJECT, b"\x00{\"a\":1}".to_vec()),
                (tag::END, Vec::new()),
            ]
        );
    }

    #[test]
    fn headers_that_are_not_ours_or_newer_are_named() {
        let file = sample();
        assert_eq!(inflate(b"PK\x03\x04"), Err(FormatError::NotASnapshot));
        assert_eq!(inflate(&file[..10]), Err(FormatError::NotASnapshot));
        let mut newer = file.clone();
        newer[8] = 2;
        assert_eq!(inflate(&newer), Err(FormatError::FutureVersion(2)));
        assert!(
            FormatError::FutureVersion(2)
                .to_string()
                .contains("newer than this flux-operator-mcp reads")
        );
        let mut zero = file.clone();
        zero[8] = 0;
        assert!(matches!(inflate(&zero), Err(FormatError::BadHeader(_))));
        let mut reserved = file.clone();
        reserved[11] = 1;
        assert!(matches!(inflate(&reserved), Err(FormatError::BadHeader(_))));
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let file = sample();
        for cut in 0..file.len() {
            let got = inflate(&file[..cut]).and_then(|body| {
                Records::new(&body).try_for_each(|r| r.map(|_| ()))?;
                Ok(())
            });
            assert!(got.is_err(), "cut at {cut} read as valid");
        }
    }

    #[test]
    fn flipped_bytes_in_the_body_fail_the_checksum_or_the_inflate() {
        let file = sample();
        for i in HEADER_LEN..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x55;
            assert!(inflate(&bad).is_err(), "byte {i} flipped read as valid");
        }
    }

    #[test]
    fn a_bomb_stops_at_the_declared_length() {
        // 64 MiB of zeros compresses to about 64 KiB; the header says 1 MiB.
        let zeros = vec![0u8; 64 << 20];
        let mut file = Vec::new();
        file.extend_from_slice(&MAGIC);
        file.extend_from_slice(&1u16.to_le_bytes());
        file.extend_from_slice(&0u16.to_le_bytes());
        file.extend_from_slice(&(1u64 << 20).to_le_bytes());
        file.extend_from_slice(&miniz_oxide::deflate::compress_to_vec_zlib(&zeros, 6));
        drop(zeros);
        let err = inflate(&file).unwrap_err();
        assert!(
            err.to_string().contains("more than the 1048576 bytes"),
            "{err}"
        );
        // A header that declares more than the limit is refused before inflating.
        file[12..20].copy_from_slice(&(MAX_BODY + 1).to_le_bytes());
        assert_eq!(inflate(&file), Err(FormatError::TooLarge(MAX_BODY + 1)));
    }

    #[test]
    fn records_that_lie_about_their_length_are_refused() {
        // A record claiming 4 GiB, one running past the body, an unknown tag, no END, and
        // data after END.
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![tag::META, 0xff, 0xff, 0xff, 0xff], "over the"),
            (vec![tag::META, 10, 0, 0, 0, b'{'], "runs past the end"),
            (vec![9, 0, 0, 0, 0], "unknown record tag 9"),
            (vec![tag::META, 0, 0, 0, 0], "without an end record"),
            (vec![tag::END, 0, 0, 0, 0, 1], "data after the end record"),
        ];
        for (body, expected) in cases {
            let err = Records::new(&body)
                .find_map(Result::err)
                .unwrap_or_else(|| panic!("{body:?} read as valid"));
            assert!(err.to_string().contains(expected), "{err}");
        }
    }
}
