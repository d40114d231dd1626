//! Reading a CSV file straight into the distinct combinations of some of its columns.
//!
//! A binomial or Poisson model reads its rows only through the summed weights and responses of
//! the rows that agree in every predictor (see `UsedRows::collapse` in `frame::design`), so a
//! file can be read into those patterns as it streams by: memory grows with the number of
//! distinct patterns, not with the rows. The file is read in blocks of 4 MiB (the next one
//! while the last is parsed), each split at line ends into one piece per thread; each thread
//! keeps its own table of patterns for the whole file, and the tables are merged at the end.
//! Only the columns asked for are parsed (the others are only counted, for the record-length
//! check).
//!
//! Cells are read as [`Cohort::from_csv_path`] reads them (the same numbers, labels, missing
//! values, forced types and errors with file, line and column). Where streaming cannot decide
//! a column's type as the whole-file reader would, [`Tally::from_csv_path`] gives `None` and the
//! caller reads the file whole: a file with quotes, an inferred column whose cells are numbers
//! first and text later (or that holds `inf` or `NaN`), an inferred text column with a level
//! that reads as a number (with either decimal mark), a summed column of text.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use rayon::prelude::*;

use super::column_builder::{label_code, number_cell, number_in, NumberCell, Rule};
use super::csv_load::{column_label, fixed_format, read_header};
use super::levels::LevelInterner;
use super::{Cohort, Column, ColumnType, LoadOptions, MISSING_CODE};
use crate::core::error::{Error, Result};

/// Bytes read at a time.
const BLOCK: usize = 1 << 22;

/// Rows of a CSV file merged on the values of some columns (the keys): one row per distinct
/// combination of key values among the rows where the keys and the summed column are known, in
/// order of first appearance, with the number of rows and the sum of the summed column over them.
///
/// For a model whose log-likelihood is linear in `(w, w y)` with unit prior weights (binary
/// outcomes, counts), the rows of pattern `k` are `rows()[k]` trials with mean response
/// `sums()[k] / rows()[k]`: the same covariate patterns as the model's collapsing of the whole
/// cohort, without holding the rows.
#[derive(Debug, Clone)]
pub struct Tally {
    patterns: Cohort,
    summed: String,
    rows: Vec<f64>,
    sums: Vec<f64>,
    rows_in: usize,
    missing: Vec<(String, usize, usize)>,
    not_binary: Option<(usize, f64)>,
}

impl Tally {
    /// Reads the CSV file at `path` into the patterns of the columns `keys`, summing the numeric
    /// column `summed` (see [`Tally`]); `opts` as for [`Cohort::from_csv_path`]. `Ok(None)` when
    /// the file has to be read whole to tell its columns' types (see the module docs). Errors
    /// name file, line and column as [`Cohort::from_csv_path`] does; a column the file lacks is
    /// an [`Error::UnknownColumn`].
    pub fn from_csv_path(
        path: impl AsRef<Path>,
        keys: &[String],
        summed: &str,
        opts: &LoadOptions,
    ) -> Result<Option<Tally>> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let mut reader = File::open(path).map_err(|source| Error::Io {
            file: file.clone(),
            source,
        })?;
        read_tally(&mut reader, &file, keys, summed, opts, BLOCK)
    }

    /// The patterns: the key columns, one row per pattern.
    pub fn patterns(&self) -> &Cohort {
        &self.patterns
    }

    /// The summed column's name.
    pub fn summed_column(&self) -> &str {
        &self.summed
    }

    /// Rows in each pattern.
    pub fn rows(&self) -> &[f64] {
        &self.rows
    }

    /// The sum of the summed column over each pattern's rows.
    pub fn sums(&self) -> &[f64] {
        &self.sums
    }

    /// Data rows in the file.
    pub fn rows_in(&self) -> usize {
        self.rows_in
    }

    /// Data rows in the patterns (those where every key and the summed column are known).
    pub fn rows_used(&self) -> usize {
        self.rows.iter().sum::<f64>() as usize
    }

    /// For each column (keys, then the summed column) with missing cells: its name, the number
    /// of rows missing it, and the 1-based data row of the first.
    pub fn missing(&self) -> &[(String, usize, usize)] {
        &self.missing
    }

    /// The first row in the patterns (1-based data row) whose summed value is not 0 or 1, and
    /// that value.
    pub fn first_not_binary(&self) -> Option<(usize, f64)> {
        self.not_binary
    }
}

/// [`Tally::from_csv_path`] from `reader`, in blocks of `block` bytes; `file` names it in errors.
fn read_tally(
    reader: &mut (dyn Read + Send),
    file: &str,
    keys: &[String],
    summed: &str,
    opts: &LoadOptions,
    block: usize,
) -> Result<Option<Tally>> {
    let stream = Stream::new(reader, file, keys, summed, opts).and_then(|mut s| {
        s.block = block.max(1);
        s.run()
    });
    match stream {
        Ok(stream) => stream.finish(),
        Err(Stop::Done(e)) => Err(e),
        Err(_) => Ok(None),
    }
}

/// Where a row is: the piece of the file (in file order) and the row within it. Ordered as the
/// rows of the file.
type Position = u64;

fn position(piece: usize, row: usize) -> Position {
    ((piece as u64) << 32) | row as u64
}

/// Why streaming stopped.
enum Stop {
    /// The file must be read whole (see the module docs).
    ReadWhole,
    /// A bad cell or record: the piece, its line within the piece (1-based), the column (index
    /// into the header), the message.
    Cell(usize, u64, usize, String),
    /// An error already complete.
    Done(Error),
}

/// How a column's cells are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Inferred, and every cell so far was missing.
    Undecided,
    /// Numbers (inferred or forced, with the rule for cells that are not finite numbers).
    Numbers(Rule),
    /// Labels.
    Labels,
}

/// One parsed column of one lane.
struct LaneColumn {
    kind: Kind,
    interner: LevelInterner,
    missing: usize,
    first_missing: Option<Position>,
}

/// Patterns of the rows one thread has read, and its columns' labels and missing counts.
struct Lane {
    columns: Vec<LaneColumn>,
    table: PatternTable,
    not_binary: Option<(Position, f64)>,
    /// This row's cells of the parsed columns (scratch).
    cells: Vec<(usize, usize)>,
    /// This row's key (scratch).
    key: Vec<u64>,
}

/// Distinct keys (`width` values each) with their first row, row count and sum.
struct PatternTable {
    width: usize,
    keys: Vec<u64>,
    stats: Vec<Stat>,
    /// Open addressing: the high 32 bits of the key's hash and the pattern's index + 1 in the
    /// low 32 bits, or 0 for an empty slot.
    slots: Vec<u64>,
    /// A direct-mapped cache in front of `slots`: pattern index + 1 (0 = empty) by some bits of
    /// the hash. Files sorted by cluster and period have few patterns in a stretch of rows, so
    /// most rows find theirs here, without the random access to the large `slots`.
    recent: Vec<u32>,
}

/// Slots of [`PatternTable::recent`].
const RECENT: usize = 1 << 13;

/// A pattern's first row, rows and sum.
#[derive(Clone, Copy)]
struct Stat {
    first: Position,
    rows: f64,
    sum: f64,
}

impl PatternTable {
    fn new(width: usize) -> Self {
        PatternTable {
            width,
            keys: Vec::new(),
            stats: Vec::new(),
            slots: vec![0; 1024],
            recent: vec![0; RECENT],
        }
    }

    /// Adds a row at `at` whose summed column is `value` to the pattern of `key`; `None` if
    /// there would be more patterns than a `u32` counts.
    fn add_row(&mut self, key: &[u64], at: Position, value: f64) -> Option<()> {
        let hash = hash_key(key);
        let cached = &mut self.recent[(hash >> 16) as usize & (RECENT - 1)];
        if let Some(p) = (*cached as usize).checked_sub(1) {
            if same_key(&self.keys[p * self.width..(p + 1) * self.width], key) {
                let stat = &mut self.stats[p];
                stat.rows += 1.0;
                stat.sum += value;
                return Some(());
            }
        }
        let p = self.add_hashed(key, hash, at, 1.0, value)?;
        // Fits: `add_hashed` checked that the count fits in u32.
        self.recent[(hash >> 16) as usize & (RECENT - 1)] = p as u32 + 1;
        Some(())
    }

    fn len(&self) -> usize {
        self.stats.len()
    }

    fn key(&self, p: usize) -> &[u64] {
        &self.keys[p * self.width..(p + 1) * self.width]
    }

    /// Adds `rows` rows summing to `sum`, the first at `first`, to the pattern of `key`; `None`
    /// if there would be more patterns than a `u32` counts.
    fn add(&mut self, key: &[u64], first: Position, rows: f64, sum: f64) -> Option<()> {
        self.add_hashed(key, hash_key(key), first, rows, sum)
            .map(|_| ())
    }

    /// [`PatternTable::add`] for a key whose hash is `hash`; the pattern's index.
    fn add_hashed(
        &mut self,
        key: &[u64],
        hash: u64,
        first: Position,
        rows: f64,
        sum: f64,
    ) -> Option<usize> {
        let tag = hash & 0xffff_ffff_0000_0000;
        let mask = self.slots.len() - 1;
        let mut slot = (hash as usize) & mask;
        loop {
            match self.slots[slot] {
                0 => break,
                s if s & 0xffff_ffff_0000_0000 == tag => {
                    let p = (s & 0xffff_ffff) as usize - 1;
                    if same_key(self.key(p), key) {
                        let stat = &mut self.stats[p];
                        stat.first = stat.first.min(first);
                        stat.rows += rows;
                        stat.sum += sum;
                        return Some(p);
                    }
                }
                _ => {}
            }
            slot = (slot + 1) & mask;
        }
        let index = u32::try_from(self.len() + 1).ok()?;
        self.slots[slot] = tag | u64::from(index);
        self.keys.extend_from_slice(key);
        self.stats.push(Stat { first, rows, sum });
        if 2 * self.len() > self.slots.len() {
            self.grow();
        }
        Some(self.len() - 1)
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let mask = size - 1;
        let mut slots = vec![0u64; size];
        for p in 0..self.len() {
            let hash = hash_key(self.key(p));
            let mut slot = (hash as usize) & mask;
            while slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            // Fits: `add` checked that the count fits in u32.
            slots[slot] = (hash & 0xffff_ffff_0000_0000) | (p as u64 + 1);
        }
        self.slots = slots;
    }
}

/// Key equality, written as a loop: keys are short, and this is faster than a call to `memcmp`.
fn same_key(a: &[u64], b: &[u64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A hash of a key: every value mixed in, then the MurmurHash3 finaliser.
fn hash_key(key: &[u64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &v in key {
        h = (h ^ v).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(23);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// What one piece of the file held.
#[derive(Clone, Copy, Default)]
struct PieceSize {
    rows: usize,
    lines: u64,
}

/// The reading of one file.
struct Stream<'a> {
    /// The file after `pending` (taken while the blocks are read).
    reader: Option<&'a mut (dyn Read + Send)>,
    file: &'a str,
    opts: LoadOptions,
    names: Vec<String>,
    /// The parsed columns' places in the header: the keys, then the summed column.
    parsed: Vec<usize>,
    /// For each header column, its index in `parsed` (if parsed).
    slot_of: Vec<Option<usize>>,
    /// The bytes read but not yet parsed (from the start of a record).
    pending: Vec<u8>,
    /// The header's lines.
    header_lines: u64,
    lanes: Vec<Lane>,
    pieces: Vec<PieceSize>,
    eof: bool,
    /// Bytes read at a time.
    block: usize,
}

impl<'a> Stream<'a> {
    /// Reads the header and sets the stream up.
    fn new(
        reader: &'a mut (dyn Read + Send),
        file: &'a str,
        keys: &[String],
        summed: &str,
        opts: &LoadOptions,
    ) -> std::result::Result<Stream<'a>, Stop> {
        let mut pending = Vec::with_capacity(BLOCK);
        let mut eof = false;
        // At least the header line (and the rows the format is detected from).
        let enough = |p: &[u8]| p.len() >= 1 << 16 && p.contains(&b'\n');
        while !eof && !enough(&pending) {
            eof = fill(reader, &mut pending, 1 << 16).map_err(|source| {
                Stop::Done(Error::Io {
                    file: file.to_string(),
                    source,
                })
            })?;
        }
        if pending.starts_with(b"\xEF\xBB\xBF") {
            pending.drain(..3);
        }
        Stream::set_up(reader, file, keys, summed, opts, pending, eof)
    }

    fn set_up(
        reader: &'a mut (dyn Read + Send),
        file: &'a str,
        keys: &[String],
        summed: &str,
        opts: &LoadOptions,
        mut pending: Vec<u8>,
        eof: bool,
    ) -> std::result::Result<Stream<'a>, Stop> {
        let opts = fixed_format(&pending, opts).map_err(Stop::Done)?;
        if !eof && !pending.contains(&b'\n') {
            return Err(Stop::ReadWhole);
        }
        let (names, body) = read_header(&pending, file, &opts).map_err(Stop::Done)?;
        if let Some((unknown, _)) = opts.column_types().iter().find(|(n, _)| !names.contains(n)) {
            return Err(Stop::Done(Error::unknown_column(
                unknown,
                names.iter().map(String::as_str),
            )));
        }
        let header_lines = count_line_ends(&pending[..body]) as u64;
        pending.drain(..body);
        let mut parsed = Vec::with_capacity(keys.len() + 1);
        for name in keys.iter().map(String::as_str).chain([summed]) {
            let col = names.iter().position(|n| n == name).ok_or_else(|| {
                Stop::Done(Error::unknown_column(
                    name,
                    names.iter().map(String::as_str),
                ))
            })?;
            parsed.push(col);
        }
        let mut slot_of = vec![None; names.len()];
        for (slot, &col) in parsed.iter().enumerate() {
            if slot_of[col].is_some() {
                return Err(Stop::Done(Error::invalid(
                    "columns",
                    format!("column '{}' is listed twice", names[col]),
                )));
            }
            slot_of[col] = Some(slot);
        }
        let kinds: Vec<Kind> = parsed
            .iter()
            .map(|&col| match opts.forced_type(&names[col]) {
                None => Kind::Undecided,
                Some(ColumnType::Categorical) => Kind::Labels,
                Some(ColumnType::Numeric) => Kind::Numbers(Rule::Numeric),
                Some(ColumnType::Binary) => Kind::Numbers(Rule::Binary),
            })
            .collect();
        if kinds.last() == Some(&Kind::Labels) {
            return Err(Stop::ReadWhole);
        }
        let lanes = (0..rayon::current_num_threads().max(1))
            .map(|_| Lane {
                columns: kinds
                    .iter()
                    .map(|&kind| LaneColumn {
                        kind,
                        interner: LevelInterner::default(),
                        missing: 0,
                        first_missing: None,
                    })
                    .collect(),
                table: PatternTable::new(keys.len()),
                not_binary: None,
                cells: vec![(0, 0); parsed.len()],
                key: vec![0; keys.len()],
            })
            .collect();
        Ok(Stream {
            reader: Some(reader),
            file,
            opts,
            names,
            parsed,
            slot_of,
            pending,
            header_lines,
            lanes,
            pieces: Vec::new(),
            eof,
            block: BLOCK,
        })
    }

    /// Reads the whole file into the lanes' tables, reading each block while the one before
    /// is parsed.
    fn run(mut self) -> std::result::Result<Stream<'a>, Stop> {
        let reader = self.reader.take().ok_or(Stop::ReadWhole)?;
        let mut block = std::mem::take(&mut self.pending);
        if !self.eof {
            let want = self.block.saturating_sub(block.len());
            self.eof = fill(reader, &mut block, want).map_err(|e| self.io_error(e))?;
        }
        let mut next = Vec::with_capacity(self.block);
        loop {
            // The block ends after its last line end (or at the end of the file); the rest
            // starts the next block.
            let end = if self.eof {
                block.len()
            } else {
                match block.iter().rposition(|&b| b == b'\n') {
                    Some(p) => p + 1,
                    None => return Err(Stop::ReadWhole),
                }
            };
            next.clear();
            next.extend_from_slice(&block[end..]);
            block.truncate(end);
            let eof = self.eof;
            let want = self.block.saturating_sub(next.len());
            let (parsed, filled) = rayon::join(
                || self.parse_block(&block),
                || {
                    if eof {
                        Ok(true)
                    } else {
                        fill(reader, &mut next, want)
                    }
                },
            );
            parsed?;
            self.eof = filled.map_err(|e| self.io_error(e))?;
            std::mem::swap(&mut block, &mut next);
            if self.eof && block.is_empty() {
                return Ok(self);
            }
        }
    }

    fn io_error(&self, source: std::io::Error) -> Stop {
        Stop::Done(Error::Io {
            file: self.file.to_string(),
            source,
        })
    }

    /// Parses `block` (whole records), one piece per lane, in parallel.
    fn parse_block(&mut self, block: &[u8]) -> std::result::Result<(), Stop> {
        if block.contains(&b'"') {
            return Err(Stop::ReadWhole);
        }
        let pieces = split_lines(block, self.lanes.len());
        let first_piece = self.pieces.len();
        let mut by_header: Vec<usize> = (0..self.parsed.len()).collect();
        by_header.sort_by_key(|&slot| self.parsed[slot]);
        let ctx = Parse {
            opts: &self.opts,
            n_names: self.names.len(),
            slot_of: &self.slot_of,
            parsed: &self.parsed,
            by_header: &by_header,
            delimiter: self.opts.fixed_delimiter(),
        };
        let results: Vec<std::result::Result<PieceSize, Stop>> = self
            .lanes
            .par_iter_mut()
            .zip(pieces.par_iter())
            .enumerate()
            .map(|(i, (lane, bytes))| lane.read(bytes, first_piece + i, &ctx))
            .collect();
        for result in results {
            match result {
                Ok(size) => self.pieces.push(size),
                Err(Stop::Cell(piece, line, col, message)) => {
                    let before: u64 = self.header_lines
                        + self.pieces[..piece].iter().map(|p| p.lines).sum::<u64>();
                    return Err(Stop::Done(Error::Csv {
                        file: self.file.to_string(),
                        line: before + line,
                        column: column_label(&self.names, col),
                        message,
                    }));
                }
                Err(stop) => return Err(stop),
            }
        }
        Ok(())
    }

    /// The lanes merged into one tally.
    fn finish(self) -> Result<Option<Tally>> {
        let Stream {
            opts,
            names,
            parsed,
            lanes,
            pieces,
            ..
        } = self;
        let width = parsed.len() - 1;
        let file_row = |p: Position| {
            let piece = (p >> 32) as usize;
            pieces[..piece].iter().map(|s| s.rows).sum::<usize>() + (p & 0xffff_ffff) as usize
        };
        // The columns' types, which every lane must agree on.
        let mut kinds = Vec::with_capacity(parsed.len());
        for slot in 0..parsed.len() {
            let mut kind = Kind::Undecided;
            for lane in &lanes {
                match (kind, lane.columns[slot].kind) {
                    (_, Kind::Undecided) => {}
                    (Kind::Undecided, k) => kind = k,
                    (Kind::Labels, Kind::Labels) | (Kind::Numbers(_), Kind::Numbers(_)) => {}
                    _ => return Ok(None),
                }
            }
            kinds.push(kind);
        }
        if kinds[width] == Kind::Labels {
            // A summed column of text.
            return Ok(None);
        }
        let mut missing = Vec::new();
        for (slot, &col) in parsed.iter().enumerate() {
            let count: usize = lanes.iter().map(|l| l.columns[slot].missing).sum();
            let first = lanes
                .iter()
                .filter_map(|l| l.columns[slot].first_missing)
                .min();
            if let Some(first) = first {
                missing.push((names[col].clone(), count, file_row(first) + 1));
            }
        }
        let not_binary = lanes
            .iter()
            .filter_map(|l| l.not_binary)
            .min_by_key(|(p, _)| *p)
            .map(|(p, v)| (file_row(p) + 1, v));
        // The first lane's table and labels take in the others' (each dropped once merged).
        let mut lanes = lanes.into_iter();
        let Some(first) = lanes.next() else {
            return Ok(None);
        };
        let mut all = first.table;
        let mut interners: Vec<LevelInterner> = first
            .columns
            .into_iter()
            .take(width)
            .map(|c| c.interner)
            .collect();
        let mut key = vec![0u64; width];
        for lane in lanes {
            let recode = lane
                .columns
                .iter()
                .zip(interners.iter_mut())
                .map(|(column, all)| {
                    let labels = column.interner.labels().iter();
                    labels.map(|l| all.code(l.as_bytes())).collect()
                })
                .collect::<std::result::Result<Vec<Vec<u32>>, _>>()
                .map_err(|_| Error::invalid("columns", "a column has too many distinct labels"))?;
            let t = lane.table;
            for p in 0..t.len() {
                for (slot, (k, &v)) in key.iter_mut().zip(t.key(p)).enumerate() {
                    *k = match kinds[slot] {
                        Kind::Labels => u64::from(recode[slot][v as usize]),
                        _ => v,
                    };
                }
                let stat = t.stats[p];
                all.add(&key, stat.first, stat.rows, stat.sum)
                    .ok_or_else(too_many_patterns)?;
            }
        }
        all.recent = Vec::new();
        all.slots = Vec::new();
        let mut order: Vec<usize> = (0..all.len()).collect();
        order.sort_unstable_by_key(|&p| all.stats[p].first);
        let mut columns = Vec::with_capacity(width);
        for (slot, interner) in interners.into_iter().enumerate() {
            let name = names[parsed[slot]].clone();
            let values = order.iter().map(|&p| all.key(p)[slot]);
            let column = if kinds[slot] == Kind::Labels {
                let (codes, levels) = interner.into_sorted(values.map(|v| v as u32).collect());
                let inferred = opts.forced_type(&name).is_none();
                let other = opts.clone().decimal_comma(!opts.reads_decimal_commas());
                if inferred
                    && levels.iter().any(|l| {
                        let l = l.as_bytes();
                        number_in(l, &opts).is_some() || number_in(l, &other).is_some()
                    })
                {
                    return Ok(None);
                }
                Column::Categorical { codes, levels }
            } else {
                Column::Numeric(values.map(f64::from_bits).collect())
            };
            columns.push((name, column));
        }
        Ok(Some(Tally {
            patterns: Cohort::from_columns(columns)?,
            summed: names[parsed[width]].clone(),
            rows: order.iter().map(|&p| all.stats[p].rows).collect(),
            sums: order.iter().map(|&p| all.stats[p].sum).collect(),
            rows_in: pieces.iter().map(|p| p.rows).sum(),
            missing,
            not_binary,
        }))
    }
}

fn too_many_patterns() -> Error {
    Error::invalid("columns", "more than 4,294,967,294 distinct patterns")
}

/// Appends up to `want` bytes from `reader` to `buffer`; whether the reader is at its end.
fn fill(reader: &mut dyn Read, buffer: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    let start = buffer.len();
    buffer.resize(start + want, 0);
    let mut filled = start;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => {
                buffer.truncate(filled);
                return Ok(true);
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// `bytes` (whole records) split after line ends into `n` pieces of about equal size.
fn split_lines(bytes: &[u8], n: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::with_capacity(n);
    let mut from = 0;
    for i in 1..=n {
        let target = (bytes.len() / n * i).max(from);
        let to = if i == n {
            bytes.len()
        } else {
            bytes[target..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |p| target + p + 1)
        };
        pieces.push(&bytes[from..to]);
        from = to;
    }
    pieces
}

/// The number of `\n` bytes.
fn count_line_ends(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// What every lane needs to read its piece.
struct Parse<'a> {
    opts: &'a LoadOptions,
    n_names: usize,
    slot_of: &'a [Option<usize>],
    /// The header column of each parsed column.
    parsed: &'a [usize],
    /// The parsed columns in header order (a record's first bad cell is reported).
    by_header: &'a [usize],
    delimiter: u8,
}

/// Why a record stopped the reading of its piece.
enum CellStop {
    /// See [`Stop::ReadWhole`].
    ReadWhole,
    /// A bad cell: the column (index into the header) and what is wrong.
    Bad(usize, String),
}

fn bad(message: String) -> CellStop {
    CellStop::Bad(0, message)
}

impl Lane {
    /// Reads the records of `bytes`, piece number `piece` of the file, in one pass over its
    /// bytes.
    fn read(
        &mut self,
        bytes: &[u8],
        piece: usize,
        ctx: &Parse<'_>,
    ) -> std::result::Result<PieceSize, Stop> {
        let mut size = PieceSize::default();
        let stop = |size: &PieceSize, stop: CellStop| match stop {
            CellStop::Bad(col, message) => Stop::Cell(piece, size.lines + 1, col, message),
            CellStop::ReadWhole => Stop::ReadWhole,
        };
        let (mut line_start, mut field_start, mut fields) = (0, 0, 0);
        for (i, &b) in bytes.iter().enumerate() {
            if b == ctx.delimiter {
                if let Some(Some(slot)) = ctx.slot_of.get(fields) {
                    self.cells[*slot] = (field_start, i);
                }
                fields += 1;
                field_start = i + 1;
            } else if b == b'\n' || b == b'\r' {
                if b == b'\r' && bytes.get(i + 1) != Some(&b'\n') {
                    // A line end of its own, which the whole-file reader takes as one.
                    return Err(Stop::ReadWhole);
                }
                if b == b'\n' {
                    let end = if i > line_start && bytes[i - 1] == b'\r' {
                        i - 1
                    } else {
                        i
                    };
                    if end > line_start || fields > 0 {
                        let at = position(piece, size.rows);
                        self.read_record(bytes, (field_start, end), fields, at, ctx)
                            .map_err(|e| stop(&size, e))?;
                        size.rows += 1;
                    }
                    size.lines += 1;
                    (line_start, field_start, fields) = (i + 1, i + 1, 0);
                }
            }
        }
        // A last line without a line end.
        if line_start < bytes.len() {
            let at = position(piece, size.rows);
            self.read_record(bytes, (field_start, bytes.len()), fields, at, ctx)
                .map_err(|e| stop(&size, e))?;
            size.rows += 1;
        }
        Ok(size)
    }

    /// Reads one record of `bytes` whose parsed cells are in `self.cells`, except the last
    /// field, `last`, after `delimiters` delimiters; the record is row `at`.
    fn read_record(
        &mut self,
        bytes: &[u8],
        last: (usize, usize),
        delimiters: usize,
        at: Position,
        ctx: &Parse<'_>,
    ) -> std::result::Result<(), CellStop> {
        let fields = delimiters + 1;
        if let Some(Some(slot)) = ctx.slot_of.get(delimiters) {
            self.cells[*slot] = last;
        }
        if fields != ctx.n_names {
            return Err(CellStop::Bad(
                fields.min(ctx.n_names),
                format!(
                    "the record has {fields} field(s), the header has {}",
                    ctx.n_names
                ),
            ));
        }
        let width = self.key.len();
        let mut complete = true;
        let mut summed = 0.0;
        for &slot in ctx.by_header {
            let (start, end) = self.cells[slot];
            let cell = bytes[start..end].trim_ascii();
            let column = &mut self.columns[slot];
            let value = column.read(cell, ctx.opts).map_err(|stop| match stop {
                CellStop::Bad(_, message) => CellStop::Bad(ctx.parsed[slot], message),
                stop => stop,
            })?;
            match value {
                None => {
                    complete = false;
                    column.missing += 1;
                    column.first_missing.get_or_insert(at);
                }
                Some(v) if slot < width => self.key[slot] = v,
                Some(v) => summed = f64::from_bits(v),
            }
        }
        if complete {
            if summed != 0.0 && summed != 1.0 {
                self.not_binary.get_or_insert((at, summed));
            }
            self.table
                .add_row(&self.key, at, summed)
                .ok_or(CellStop::ReadWhole)?;
        }
        Ok(())
    }
}

impl LaneColumn {
    /// The key of a trimmed cell (a number's bits or a label's code); `None` if missing.
    fn read(
        &mut self,
        cell: &[u8],
        opts: &LoadOptions,
    ) -> std::result::Result<Option<u64>, CellStop> {
        if self.kind == Kind::Undecided {
            if opts.is_missing(cell) {
                return Ok(None);
            }
            self.kind = match number_in(cell, opts) {
                Some(_) => Kind::Numbers(Rule::Inferred),
                None => Kind::Labels,
            };
        }
        match self.kind {
            Kind::Labels => match label_code(&mut self.interner, cell, opts).map_err(bad)? {
                MISSING_CODE => Ok(None),
                code => Ok(Some(u64::from(code))),
            },
            Kind::Numbers(rule) => match number_cell(cell, rule, opts).map_err(bad)? {
                NumberCell::Value(x) if x.is_nan() => Ok(None),
                NumberCell::Value(x) => Ok(Some(x.to_bits())),
                NumberCell::NonFinite(_) | NumberCell::Text => Err(CellStop::ReadWhole),
            },
            Kind::Undecided => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Cursor;

    use super::*;

    /// About 300 kB of CSV: `id`, a text cluster, a number with a few values, 0/1 `t`, 0/1 `y`
    /// and an unused column of text; some cells missing, a blank line and Windows line ends.
    fn text() -> String {
        let mut text = String::from("id,cluster,x,t,y,note\r\n");
        for i in 0..6_000u32 {
            let cluster = if i % 611 == 5 {
                "NA".to_string()
            } else {
                format!("c{:02}", (i / 97) % 23)
            };
            let x = if i % 503 == 7 {
                String::new()
            } else {
                format!("{}.5", (i * 7) % 13)
            };
            let y = if i % 1001 == 3 {
                "NA"
            } else {
                ["0", "1"][(i % 3 == 0) as usize]
            };
            text.push_str(&format!(
                "{i},{cluster}, {x},{},{y},note {i}\n",
                (i / 300) % 2
            ));
            if i == 4_000 {
                text.push('\n');
            }
        }
        text
    }

    fn keys() -> Vec<String> {
        ["cluster", "x", "t"].map(String::from).to_vec()
    }

    fn tally(text: &str, opts: &LoadOptions, block: usize) -> Result<Option<Tally>> {
        read_tally(
            &mut Cursor::new(text.as_bytes()),
            MEMORY,
            &keys(),
            "y",
            opts,
            block,
        )
    }

    const MEMORY: &str = "<memory>";

    /// The patterns of the cohort read whole: rows complete in the keys and `y`, merged on their
    /// keys' labels and numbers, in order of first appearance.
    fn expected(cohort: &Cohort) -> (Vec<Vec<String>>, Vec<f64>, Vec<f64>) {
        let y = cohort.numeric("y").unwrap();
        let cell = |name: &str, i: usize| -> Option<String> {
            let column = cohort.column(name).unwrap();
            match column {
                Column::Numeric(v) => (!v[i].is_nan()).then(|| v[i].to_string()),
                Column::Categorical { .. } => column.label(i).map(str::to_string),
            }
        };
        let mut index: HashMap<Vec<String>, usize> = HashMap::new();
        let (mut keys_out, mut rows, mut sums) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &yi) in y.iter().enumerate() {
            let key: Option<Vec<String>> = keys().iter().map(|k| cell(k, i)).collect();
            let (Some(key), false) = (key, yi.is_nan()) else {
                continue;
            };
            let p = *index.entry(key.clone()).or_insert_with(|| {
                keys_out.push(key);
                rows.push(0.0);
                sums.push(0.0);
                rows.len() - 1
            });
            rows[p] += 1.0;
            sums[p] += yi;
        }
        (keys_out, rows, sums)
    }

    fn labels(tally: &Tally) -> Vec<Vec<String>> {
        let c = tally.patterns();
        (0..c.n_rows())
            .map(|i| {
                keys()
                    .iter()
                    .map(|k| match c.column(k).unwrap() {
                        Column::Numeric(v) => v[i].to_string(),
                        column => column.label(i).unwrap().to_string(),
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn streamed_patterns_are_those_of_the_whole_cohort() {
        let text = text();
        let opts = LoadOptions::default();
        let cohort = Cohort::from_csv_str(&text, &opts).unwrap();
        let (keys_expected, rows, sums) = expected(&cohort);
        for block in [1 << 12, 1 << 24] {
            let t = tally(&text, &opts, block).unwrap().unwrap();
            assert_eq!(labels(&t), keys_expected, "block {block}");
            assert_eq!(t.rows(), rows);
            assert_eq!(t.sums(), sums);
            assert_eq!(
                (t.rows_in(), t.rows_used()),
                (6_000, rows.iter().sum::<f64>() as usize)
            );
            assert_eq!(
                t.patterns().levels("cluster").unwrap(),
                cohort.levels("cluster").unwrap()
            );
            let first_missing = |name: &str| {
                let column = cohort.column(name).unwrap();
                let count = (0..6_000).filter(|&i| column.is_missing(i)).count();
                let first = (0..6_000).find(|&i| column.is_missing(i)).unwrap() + 1;
                (name.to_string(), count, first)
            };
            assert_eq!(
                t.missing(),
                ["cluster", "x", "y"].map(first_missing).as_slice()
            );
            assert_eq!(t.first_not_binary(), None);
        }
        let path = std::env::temp_dir().join(format!("stepwedge-tally-{}.csv", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let from_file = Tally::from_csv_path(&path, &keys(), "y", &opts);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(from_file.unwrap().unwrap().rows(), rows);
    }

    #[test]
    fn errors_name_file_line_and_column_as_the_whole_file_reader() {
        let opts = LoadOptions::default();
        // An extra field on line 4,503 (row 4,500 after a blank line), in a later block.
        let extra = text().replacen("\n4500,", "\n4500,x,", 1);
        let whole = Cohort::from_csv_str(&extra, &opts).unwrap_err().to_string();
        let streamed = tally(&extra, &opts, 1 << 12).unwrap_err().to_string();
        assert_eq!(streamed, whole);
        assert!(
            whole.starts_with("<memory>, line 4503, column '#7'"),
            "{whole}"
        );
        // A cell that breaks its column's forced type, in a parsed column.
        let binary = opts.clone().column_type("t", ColumnType::Binary);
        let two = text().replacen("\n3001,c07, 12.5,0,", "\n3001,c07, 12.5,2,", 1);
        let whole = Cohort::from_csv_str(&two, &binary).unwrap_err().to_string();
        let streamed = tally(&two, &binary, 1 << 12).unwrap_err().to_string();
        assert_eq!(streamed, whole);
        assert!(
            whole.starts_with("<memory>, line 3003, column 't'"),
            "{whole}"
        );
        // A column the file lacks.
        let e = read_tally(
            &mut Cursor::new(b"a,b\n1,2\n"),
            MEMORY,
            &keys(),
            "y",
            &opts,
            64,
        );
        assert!(matches!(e, Err(Error::UnknownColumn { .. })));
    }

    #[test]
    fn files_whose_types_need_the_whole_file_are_not_streamed() {
        let opts = LoadOptions::default();
        let late_text = text().replacen("\n5000,c05, 4.5,", "\n5000,c05,text,", 1);
        let quoted = text().replacen("\n5000,c05,", "\n5000,\"c05\",", 1);
        let numeric_label = text().replacen("\n5000,c05,", "\n5000,17,", 1);
        let not_finite = text().replacen("\n5000,c05, 4.5,", "\n5000,c05,inf,", 1);
        let summed_text = text().replace(",note ", "x,note ");
        for (text, what) in [
            (late_text, "text after numbers"),
            (quoted, "quotes"),
            (numeric_label, "a number among labels"),
            (not_finite, "inf"),
            (summed_text, "a summed column of text"),
        ] {
            assert!(tally(&text, &opts, 1 << 12).unwrap().is_none(), "{what}");
        }
        let two = text().replacen("\n4242,c20, 2.5,0,1,", "\n4242,c20, 2.5,0,2,", 1);
        let t = tally(&two, &opts, 1 << 12).unwrap().unwrap();
        assert_eq!(t.first_not_binary(), Some((4_243, 2.0)));
    }
}
