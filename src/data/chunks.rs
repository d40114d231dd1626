//! Splitting a CSV file into chunks that can be read in parallel, and reading a large file in
//! parallel.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use rayon::prelude::*;

/// Files with fewer data bytes than this are read in one piece.
const MIN_PARALLEL_BYTES: usize = 1 << 20;

/// Chunks per thread, for load balance.
const CHUNKS_PER_THREAD: usize = 4;

/// A piece of the data lines of a file, starting at the start of a record.
pub(crate) struct Chunk<'a> {
    pub(crate) bytes: &'a [u8],
    /// The offset of its first byte in the file.
    pub(crate) offset: usize,
    /// About how many records it has, to reserve memory.
    pub(crate) rows_hint: usize,
}

/// The contents of the file at `path`; a large file is read in pieces in parallel.
pub(crate) fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let len = std::fs::metadata(path)?.len();
    let threads = rayon::current_num_threads();
    let len = match usize::try_from(len) {
        Ok(len) if len >= MIN_PARALLEL_BYTES && threads > 1 => len,
        _ => return std::fs::read(path),
    };
    let mut bytes = vec![0u8; len];
    let piece = len.div_ceil(threads);
    bytes
        .par_chunks_mut(piece)
        .enumerate()
        .try_for_each(|(i, buf)| {
            let mut f = std::fs::File::open(path)?;
            f.seek(SeekFrom::Start((i * piece) as u64))?;
            f.read_exact(buf)
        })?;
    // Anything appended since the length was taken is read too.
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(len as u64))?;
    f.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Splits the data lines (from `start`) into chunks for `threads` threads: one chunk if the data
/// are small, otherwise about `CHUNKS_PER_THREAD` per thread, each ending just after a line end.
/// (The caller makes sure that every line end ends a record.)
pub(crate) fn split(bytes: &[u8], start: usize, threads: usize) -> Vec<Chunk<'_>> {
    let start = start.min(bytes.len());
    let body = &bytes[start..];
    // Bytes per line, from a sample, to estimate the rows of each chunk.
    let sample = &body[..body.len().min(1 << 16)];
    let line_bytes = sample.len() / count_line_ends(sample).max(1);
    let rows_hint = |len: usize| len / line_bytes.max(1) + len / line_bytes.max(1) / 16 + 16;
    let n = if threads < 2 || body.len() < MIN_PARALLEL_BYTES {
        1
    } else {
        threads * CHUNKS_PER_THREAD
    };
    let mut chunks = Vec::with_capacity(n);
    let mut from = 0;
    for i in 1..=n {
        let target = (body.len() / n * i).max(from);
        let to = if i == n {
            body.len()
        } else {
            body[target..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(body.len(), |p| target + p + 1)
        };
        chunks.push(Chunk {
            bytes: &body[from..to],
            offset: start + from,
            rows_hint: rows_hint(to - from),
        });
        from = to;
    }
    chunks
}

/// The number of `\n` bytes (the line count `csv` keeps).
pub(crate) fn count_line_ends(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}
