//! The input of a conversion: a plain file or standard input, or either of them compressed with
//! gzip (one member or several, as `cat a.gz b.gz` makes) or zstd, recognised by their first
//! bytes whatever the file is called.
//!
//! Compressed input is decompressed on a thread of its own, a few buffers ahead of the parser,
//! so that decompression and parsing use both cores; memory stays bounded by those buffers.
//! Offsets everywhere else in `convert` (blocks, checkpoints, rejected lines) count bytes of the
//! decompressed CSV. A stream cannot be entered in the middle, so a resume of compressed input
//! decompresses it again from the start and skips to the checkpoint's offset.
//!
//! A file whose first line ends with a lone `\r` (the line ends of classic Mac OS, which
//! pandas also reads) has every `\r` read as `\n`: one byte for one, so offsets stay those of
//! the file.
//!
//! Reads of an input file that fail with an error that may pass (`EIO`, as a network file
//! system gives while it reconnects; `EAGAIN`; a time-out; `ESTALE`) are retried with a growing
//! pause ([`Retry`]) before the error stops the conversion, which can then be resumed.
//!
//! Damaged or cut-short compressed data is [`Error::Format`] naming the file and the compressed
//! byte where decompression stopped; it is never taken for the end of the input.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::error::{Error, Result};

use super::record::Quotes;

/// A compression larder reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    Gzip,
    Zstd,
}

impl Compression {
    /// The compression whose magic number starts `prefix` (at least 4 bytes unless the input is
    /// shorter), if any.
    pub(crate) fn sniff(prefix: &[u8]) -> Option<Compression> {
        match prefix {
            [0x1f, 0x8b, ..] => Some(Compression::Gzip),
            // A frame, or a skippable frame (magic 0x184D2A50 to 0x184D2A5F) before one.
            [0x28, 0xb5, 0x2f, 0xfd, ..] | [0x50..=0x5f, 0x2a, 0x4d, 0x18, ..] => {
                Some(Compression::Zstd)
            }
            _ => None,
        }
    }

    /// `gzip` or `zstd`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// An opened input, ready to be cut into blocks.
pub(crate) struct Input {
    /// The CSV bytes, decompressed if need be.
    pub(crate) reader: Box<dyn Read + Send>,
    /// For compressed input: the bytes of the source the decompressor has consumed so far.
    pub(crate) consumed: Option<Arc<AtomicU64>>,
    /// One per input file: what its CSV bytes are, once read to the end (compressed files
    /// only; a plain file's content is its bytes).
    pub(crate) contents: Vec<ContentSlot>,
}

/// The size and XXH3-64 fingerprint (16 hex digits) of a compressed file's decompressed bytes:
/// what tells an append that the same CSV was loaded before, whatever its compression. Set by
/// the decompressing thread when it reaches the end of the stream cleanly, from the buffers it
/// hands over anyway (no second pass over the file).
pub(crate) type ContentSlot = Arc<std::sync::OnceLock<(u64, String)>>;

/// Bytes of decompressed CSV per buffer handed from the decompressing thread to the parser.
const BUFFER: usize = 1 << 20;

/// Buffers the decompressing thread may run ahead.
const AHEAD: usize = 4;

/// The largest zstd window accepted, as a power of two: 128 MiB, zstd's own default limit.
const ZSTD_WINDOW_LOG: u32 = 27;

/// Opens `source`, the input at `path` (a file or standard input), and tells from its first
/// bytes whether it is compressed.
///
/// # Errors
/// [`Error::Io`] when its first bytes cannot be read.
pub(crate) fn open(source: Box<dyn Read + Send>, path: &Path, delimiter: u8) -> Result<Input> {
    open_into(source, path, delimiter, ContentSlot::default())
}

/// As [`open`], with the slot that receives the content of a compressed input.
pub(crate) fn open_into(
    mut source: Box<dyn Read + Send>,
    path: &Path,
    delimiter: u8,
    slot: ContentSlot,
) -> Result<Input> {
    let mut prefix = Vec::with_capacity(4);
    (&mut source).take(4).read_to_end(&mut prefix).map_err(|e| Error::io(path, e))?;
    let compression = Compression::sniff(&prefix);
    let whole: Box<dyn Read + Send> = Box::new(io::Cursor::new(prefix).chain(source));
    Ok(match compression {
        None => Input {
            reader: line_ends(whole, path, delimiter)?,
            consumed: None,
            contents: vec![slot],
        },
        Some(c) => {
            let consumed = Arc::new(AtomicU64::new(0));
            let counted = Counted { inner: whole, n: Arc::clone(&consumed) };
            let reader = decompress(c, counted, path, Arc::clone(&slot));
            let reader = line_ends(Box::new(reader), path, delimiter)?;
            Input { reader, consumed: Some(consumed), contents: vec![slot] }
        }
    })
}

/// Whether the file at `path` is compressed (by its first bytes).
///
/// # Errors
/// [`Error::Io`] when it cannot be read.
pub(crate) fn is_compressed(path: &Path) -> Result<bool> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut prefix = Vec::with_capacity(4);
    f.take(4).read_to_end(&mut prefix).map_err(|e| Error::io(path, e))?;
    Ok(Compression::sniff(&prefix).is_some())
}

/// The content of the compressed file at `path` (see [`ContentSlot`]), read on purpose: for a
/// resume that finds every row converted and so reads nothing.
///
/// # Errors
/// [`Error::Io`] on read errors; [`Error::Format`] for damaged compressed data.
pub(crate) fn content_of(path: &Path) -> Result<Option<(u64, String)>> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    // The content is hashed as it is decompressed, before records are split: the delimiter
    // plays no part.
    let mut input = open(Box::new(Retrying::new(f, RETRY)), path, b',')?;
    io::copy(&mut input.reader, &mut io::sink()).map_err(|e| read_error(path, e))?;
    Ok(input.contents.first().and_then(|s| s.get().cloned()))
}

/// How reads of an input file are retried after an error that may pass.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retry {
    /// Tries after the first failure.
    pub(crate) attempts: u32,
    /// The pause before the first retry; each next one is twice as long, at most a second.
    pub(crate) first_pause: std::time::Duration,
}

/// The retries of every input file: 6 over about 1.3 s.
pub(crate) const RETRY: Retry =
    Retry { attempts: 6, first_pause: std::time::Duration::from_millis(20) };

/// Whether a failed read may succeed if tried again.
fn may_pass(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
        || matches!(e.raw_os_error(), Some(libc::EIO | libc::ESTALE))
}

/// A file whose failed reads are retried by [`RETRY`]; a failed `read` leaves the file
/// position where it was, so a retry reads the same bytes.
pub(crate) struct Retrying<R> {
    inner: R,
    policy: Retry,
}

impl<R> Retrying<R> {
    pub(crate) fn new(inner: R, policy: Retry) -> Retrying<R> {
        Retrying { inner, policy }
    }
}

impl<R: Read> Read for Retrying<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut pause = self.policy.first_pause;
        let mut tries = 0;
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if may_pass(&e) && tries < self.policy.attempts => {
                    tries += 1;
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_secs(1));
                }
                Err(e) if tries > 0 => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("{e} (still failing after {tries} retries)"),
                    ));
                }
                other => return other,
            }
        }
    }
}

/// The longest first line looked through for its line end.
const FIRST_LINE: usize = 1 << 20;

/// `r`, with `\r` read as `\n` when its first line ends with a lone `\r`.
fn line_ends(
    mut r: Box<dyn Read + Send>,
    path: &Path,
    delimiter: u8,
) -> Result<Box<dyn Read + Send>> {
    let (prefix, cr) = first_line_end(&mut r, path, delimiter)?;
    let whole: Box<dyn Read + Send> = Box::new(io::Cursor::new(prefix).chain(r));
    Ok(if cr { Box::new(CrAsLf::new(whole, delimiter)) } else { whole })
}

/// Reads `r` until its first line end outside quoted fields (by the quote rule of `record.rs`)
/// is known: the bytes read, and whether that line end is a lone `\r`.
fn first_line_end(r: &mut dyn Read, path: &Path, delimiter: u8) -> Result<(Vec<u8>, bool)> {
    let mut prefix = Vec::new();
    let (mut eof, mut scanned, mut quotes) = (false, 0, Quotes::new(delimiter));
    let mut end = None;
    loop {
        if end.is_none() {
            end = quotes
                .scan(&prefix[scanned..], true, |_| ControlFlow::Break(()))
                .map(|p| scanned + p);
            scanned = prefix.len();
        }
        match end {
            Some(i) if prefix[i] == b'\n' => return Ok((prefix, false)),
            // A `\r` at the very end: the next byte decides, if there is one.
            Some(i) if i + 1 < prefix.len() || eof => {
                let cr = prefix.get(i + 1) != Some(&b'\n');
                return Ok((prefix, cr));
            }
            None if eof || prefix.len() >= FIRST_LINE => return Ok((prefix, false)),
            _ => {}
        }
        let n = r.take(64 << 10).read_to_end(&mut prefix).map_err(|e| read_error(path, e))?;
        eof = n == 0;
    }
}

/// Reads a `\r` outside quoted fields as `\n`; one inside a quoted field is part of its value.
struct CrAsLf<R> {
    inner: R,
    /// Where the quote rule stands after the bytes read so far.
    quotes: Quotes,
    /// Positions of the `\r` of one read, kept to spare an allocation per read.
    ends: Vec<usize>,
}

impl<R> CrAsLf<R> {
    fn new(inner: R, delimiter: u8) -> CrAsLf<R> {
        CrAsLf { inner, quotes: Quotes::new(delimiter), ends: Vec::new() }
    }
}

impl<R: Read> Read for CrAsLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let ends = &mut self.ends;
        ends.clear();
        self.quotes.scan(&buf[..n], true, |p| {
            ends.push(p);
            ControlFlow::Continue(())
        });
        for &p in ends.iter() {
            buf[p] = b'\n';
        }
        Ok(n)
    }
}

/// Opens the file at `path` to read its CSV from decompressed byte `offset` on: a plain file
/// seeks there, a compressed one is decompressed from the start and the bytes before `offset`
/// skipped.
///
/// # Errors
/// [`Error::Io`] on read errors; [`Error::Format`] for compressed data that is damaged or ends
/// before `offset`.
pub(crate) fn open_at(path: &Path, offset: u64, delimiter: u8) -> Result<Input> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut prefix = Vec::with_capacity(4);
    (&mut f).take(4).read_to_end(&mut prefix).map_err(|e| Error::io(path, e))?;
    f.seek(SeekFrom::Start(0)).map_err(|e| Error::io(path, e))?;
    if Compression::sniff(&prefix).is_none() {
        // The line ends are told from the file's start; then the read starts at `offset`.
        let (_, cr) = first_line_end(&mut f, path, delimiter)?;
        f.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(path, e))?;
        let f = Retrying::new(f, RETRY);
        // A checkpoint is at a record boundary: outside quotes.
        let reader: Box<dyn Read + Send> =
            if cr { Box::new(CrAsLf::new(f, delimiter)) } else { Box::new(f) };
        return Ok(Input { reader, consumed: None, contents: vec![ContentSlot::default()] });
    }
    let mut input = open(Box::new(Retrying::new(f, RETRY)), path, delimiter)?;
    let skipped = io::copy(&mut (&mut input.reader).take(offset), &mut io::sink())
        .map_err(|e| read_error(path, e))?;
    if skipped < offset {
        return Err(Error::format(
            path,
            input.consumed.as_ref().map_or(0, |c| c.load(Ordering::Relaxed)),
            format!(
                "decompresses to {skipped} bytes, fewer than the {offset} an interrupted \
                 conversion had read"
            ),
        ));
    }
    Ok(input)
}

/// The error for a failed read of the input at `path`: an [`InputError`] (damaged compressed
/// data, an input file that does not fit the others) is [`Error::Format`] naming its own file
/// and byte, anything else [`Error::Io`] on `path`.
pub(crate) fn read_error(path: &Path, e: io::Error) -> Error {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<InputError>()) {
        Some(d) => Error::format(&d.path, d.at, d.reason.clone()),
        None => Error::io(path, e),
    }
}

/// Input that cannot be read as CSV, carried through `io::Read` as the inner error of an
/// `io::Error`: the file, the byte of that file where it was found, and why.
#[derive(Debug)]
pub(crate) struct InputError {
    path: PathBuf,
    at: u64,
    reason: String,
}

impl InputError {
    pub(crate) fn new(path: &Path, at: u64, reason: impl Into<String>) -> InputError {
        InputError { path: path.to_path_buf(), at, reason: reason.into() }
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: at byte {}: {}", self.path.display(), self.at, self.reason)
    }
}

impl std::error::Error for InputError {}

impl From<InputError> for io::Error {
    fn from(e: InputError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// What the decompressing thread hands over.
enum Msg {
    Data(Vec<u8>),
    /// The end of the stream, reached cleanly.
    Done,
    Failed(io::Error),
}

/// Starts decompressing `source` on a thread of its own; the returned reader yields the
/// decompressed bytes.
fn decompress<R: Read + Send + 'static>(
    c: Compression,
    source: Counted<R>,
    path: &Path,
    content: ContentSlot,
) -> ChannelReader {
    let (tx, rx) = sync_channel(AHEAD);
    let consumed = Arc::clone(&source.n);
    let path = path.to_path_buf();
    let spawned = std::thread::Builder::new()
        .name("larder-decompress".into())
        .spawn(move || pump(c, source, &consumed, &tx, &path, &content));
    match spawned {
        Ok(_) => ChannelReader { rx: Some(rx), buf: Vec::new(), pos: 0, spawn_error: None },
        Err(e) => ChannelReader { rx: None, buf: Vec::new(), pos: 0, spawn_error: Some(e) },
    }
}

/// The decompressing thread: decodes `source` into buffers sent on `tx` until the end, an
/// error, or the reader is gone; at a clean end, before saying so, it sets `content`.
fn pump<R: Read>(
    c: Compression,
    source: Counted<R>,
    consumed: &AtomicU64,
    tx: &SyncSender<Msg>,
    path: &Path,
    content: &ContentSlot,
) {
    use std::hash::Hasher;
    let damaged = |e: io::Error| -> io::Error {
        let at = consumed.load(Ordering::Relaxed);
        let reason = if e.to_string().contains("too much memory") {
            format!(
                "zstd data made with a window larger than {} MiB (zstd --long or --ultra), \
                 more memory than larder gives a decoder: decompress it first",
                1 << (ZSTD_WINDOW_LOG - 20)
            )
        } else {
            format!("{} data is damaged or cut short: {e}", c.name())
        };
        InputError::new(path, at, reason).into()
    };
    let mut decoder: Box<dyn Read> = match c {
        // Every member, not only the first: `cat a.gz b.gz` is one gzip file.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(source))),
        Compression::Zstd => match zstd::stream::read::Decoder::new(source).and_then(|mut d| {
            // The window a frame asks for is memory the decoder holds: at most 128 MiB.
            d.window_log_max(ZSTD_WINDOW_LOG)?;
            Ok(d)
        }) {
            Ok(d) => Box::new(d),
            Err(e) => {
                let _ = tx.send(Msg::Failed(e));
                return;
            }
        },
    };
    let mut hasher = twox_hash::XxHash3_64::with_seed(0);
    let mut total = 0u64;
    loop {
        let mut buf = Vec::with_capacity(BUFFER);
        let msg = match (&mut decoder).take(BUFFER as u64).read_to_end(&mut buf) {
            Ok(0) => {
                let _ = content.set((total, format!("{:016x}", hasher.finish())));
                Msg::Done
            }
            Ok(n) => {
                hasher.write(&buf);
                total += n as u64;
                Msg::Data(buf)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Msg::Failed(damaged(e)),
        };
        let last = !matches!(msg, Msg::Data(_));
        // A send fails only when the reader is gone: nobody wants the rest.
        if tx.send(msg).is_err() || last {
            return;
        }
    }
}

/// The reading end of [`decompress`].
struct ChannelReader {
    rx: Option<Receiver<Msg>>,
    buf: Vec<u8>,
    pos: usize,
    spawn_error: Option<io::Error>,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.spawn_error.take() {
            return Err(e);
        }
        while self.pos == self.buf.len() {
            let Some(rx) = &self.rx else { return Ok(0) };
            match rx.recv() {
                Ok(Msg::Data(b)) => (self.buf, self.pos) = (b, 0),
                Ok(Msg::Done) => {
                    self.rx = None;
                    return Ok(0);
                }
                Ok(Msg::Failed(e)) => {
                    self.rx = None;
                    return Err(e);
                }
                // The thread ended without saying how: never take that for the end.
                Err(_) => {
                    self.rx = None;
                    return Err(io::Error::other("decompression stopped unexpectedly"));
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::path::Path;

    use super::{Compression, open};
    use crate::error::Error;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// The bytes read from `bytes` as an input, and the compression seen.
    fn read_all(bytes: Vec<u8>) -> Result<(Vec<u8>, Option<Compression>), Error> {
        let path = Path::new("in.csv");
        let seen = Compression::sniff(&bytes);
        let mut input = open(Box::new(std::io::Cursor::new(bytes)), path, b',')?;
        assert_eq!(input.consumed.is_some(), seen.is_some());
        let mut out = Vec::new();
        input.reader.read_to_end(&mut out).map_err(|e| super::read_error(path, e))?;
        Ok((out, seen))
    }

    fn csv(rows: usize) -> Vec<u8> {
        (0..rows).flat_map(|i| format!("{i},row {i}\n").into_bytes()).collect()
    }

    #[test]
    fn plain_gzip_multi_member_gzip_and_zstd_read_back_the_same_bytes() {
        let data = csv(300_000);
        assert_eq!(read_all(data.clone()).unwrap(), (data.clone(), None));
        assert_eq!(read_all(gzip(&data)).unwrap(), (data.clone(), Some(Compression::Gzip)));
        let (a, b) = data.split_at(1_234_567);
        let two = [gzip(a), gzip(b)].concat();
        assert_eq!(read_all(two).unwrap().0, data, "every member is read");
        let z = zstd::stream::encode_all(&data[..], 1).unwrap();
        assert_eq!(read_all(z).unwrap(), (data.clone(), Some(Compression::Zstd)));
        assert_eq!(read_all(Vec::new()).unwrap(), (Vec::new(), None));
        assert_eq!(read_all(b"a,".to_vec()).unwrap(), (b"a,".to_vec(), None));
    }

    /// Fails its first `failures` reads with `EIO`, then reads `data`.
    struct Flaky {
        data: std::io::Cursor<Vec<u8>>,
        failures: u32,
    }

    impl Read for Flaky {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.failures > 0 {
                self.failures -= 1;
                return Err(std::io::Error::from_raw_os_error(libc::EIO));
            }
            self.data.read(buf)
        }
    }

    /// Always fails with an error that does not pass.
    struct Denied;

    impl Read for Denied {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
        }
    }

    #[test]
    fn reads_that_fail_with_errors_that_may_pass_are_retried_a_bounded_number_of_times() {
        use super::{Retry, Retrying};
        let policy = Retry { attempts: 3, first_pause: std::time::Duration::ZERO };
        let data = csv(1000);
        let mut out = Vec::new();
        let flaky = Flaky { data: std::io::Cursor::new(data.clone()), failures: 3 };
        Retrying::new(flaky, policy).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        let flaky = Flaky { data: std::io::Cursor::new(data), failures: 4 };
        let e = Retrying::new(flaky, policy).read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(e.raw_os_error(), None, "{e}");
        assert!(e.to_string().contains("after 3 retries"), "{e}");
        // Other errors are not retried.
        let denied = Flaky { data: std::io::Cursor::new(Vec::new()), failures: 0 };
        let mut r = Retrying::new(std::io::Read::chain(denied, Denied), policy);
        let e = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn lone_cr_line_ends_read_as_lf_and_others_are_left_alone() {
        let cases: [(&[u8], &[u8]); 9] = [
            (b"a,b\r1,2\r3,4\r", b"a,b\n1,2\n3,4\n"),
            // Inside quotes a `\r` is a value's, in the header too.
            (b"a,b\r1,\"x\ry\"\r", b"a,b\n1,\"x\ry\"\n"),
            (b"\"a\nb\",c\r1,2\r", b"\"a\nb\",c\n1,2\n"),
            (b"a,b\r\n1,\"x\ry\"\r\n", b"a,b\r\n1,\"x\ry\"\r\n"),
            (b"a,b\n1,x\ry\n", b"a,b\n1,x\ry\n"),
            (b"a,b\r", b"a,b\n"),
            // A quote inside an unquoted field is a literal: it quotes no `\r`.
            (b"h,w\r5'11\",60\r6',70\r", b"h,w\n5'11\",60\n6',70\n"),
            (b"a,b", b"a,b"),
            (b"", b""),
        ];
        for (given, read) in cases {
            assert_eq!(
                read_all(given.to_vec()).unwrap().0,
                read,
                "{:?}",
                String::from_utf8_lossy(given)
            );
        }
        let gz = gzip(b"a,b\r1,2\r");
        assert_eq!(read_all(gz).unwrap().0, b"a,b\n1,2\n");
    }

    #[test]
    fn cut_short_or_damaged_compressed_input_is_an_error_naming_the_byte() {
        let data = csv(100_000);
        for packed in [gzip(&data), zstd::stream::encode_all(&data[..], 1).unwrap()] {
            let cut = packed[..packed.len() / 2].to_vec();
            match read_all(cut) {
                Err(Error::Format { offset, reason, .. }) => {
                    assert!(offset > 0 && reason.contains("cut short"), "{offset} {reason}");
                }
                other => panic!("{:?}", other.map(|(d, c)| (d.len(), c))),
            }
            let mut bad = packed.clone();
            let mid = bad.len() / 2;
            bad[mid..mid + 64].fill(0xAA);
            assert!(matches!(read_all(bad), Err(Error::Format { .. })));
        }
    }
}
