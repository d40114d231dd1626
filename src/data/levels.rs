//! Text labels of categorical columns: interning labels into codes while reading, and putting the
//! levels of a column into sorted order.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::MISSING_CODE;

/// Up to this many levels, a label is looked up by comparing it with each level in turn, which
/// is faster than hashing.
const LINEAR_SEARCH_MAX: usize = 8;

/// Why a label could not be given a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InternError {
    /// The label is not valid UTF-8.
    NotUtf8,
    /// The column already has `MISSING_CODE` distinct labels.
    TooManyLevels,
}

/// Collects the distinct labels of one column in first-seen order and gives each a code.
///
/// Lookups take the label as bytes and allocate only when a label is seen for the first time.
/// The previous label is checked first, which makes runs of equal labels (sorted files) cheap;
/// columns with few levels are searched linearly, others through a hash map.
#[derive(Debug)]
pub(crate) struct LevelInterner {
    index: HashMap<Box<[u8]>, u32, BuildHasherDefault<LabelHasher>>,
    labels: Vec<String>,
    last: u32,
}

impl Default for LevelInterner {
    fn default() -> Self {
        LevelInterner {
            index: HashMap::default(),
            labels: Vec::new(),
            last: MISSING_CODE,
        }
    }
}

impl LevelInterner {
    /// The code of `label` (first-seen order), adding it if it is new.
    pub(crate) fn code(&mut self, label: &[u8]) -> Result<u32, InternError> {
        if let Some(prev) = self.labels.get(self.last as usize) {
            if same_bytes(prev.as_bytes(), label) {
                return Ok(self.last);
            }
        }
        let known = if self.labels.len() <= LINEAR_SEARCH_MAX {
            self.labels
                .iter()
                .position(|l| same_bytes(l.as_bytes(), label))
        } else {
            self.index.get(label).map(|&c| c as usize)
        };
        let code = match known {
            // Codes are below MISSING_CODE, so they fit.
            Some(code) => code as u32,
            None => self.insert(label)?,
        };
        self.last = code;
        Ok(code)
    }

    fn insert(&mut self, label: &[u8]) -> Result<u32, InternError> {
        let text = std::str::from_utf8(label).map_err(|_| InternError::NotUtf8)?;
        let code = u32::try_from(self.labels.len())
            .ok()
            .filter(|&c| c < MISSING_CODE)
            .ok_or(InternError::TooManyLevels)?;
        self.labels.push(text.to_string());
        self.index.insert(label.into(), code);
        Ok(code)
    }

    /// The labels in first-seen order (label `c` has code `c`).
    pub(crate) fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The codes (given in first-seen order) recoded against the sorted levels, and those levels.
    pub(crate) fn into_sorted(self, codes: Vec<u32>) -> (Vec<u32>, Vec<String>) {
        sort_levels(codes, self.labels)
    }

    /// Joins the codes of consecutive parts of one column, each coded by its own interner, into
    /// codes against the sorted levels of all parts, and those levels.
    pub(crate) fn concat(
        mut parts: Vec<(LevelInterner, Vec<u32>)>,
    ) -> Result<(Vec<u32>, Vec<String>), InternError> {
        if parts.len() == 1 {
            if let Some((interner, codes)) = parts.pop() {
                return Ok(interner.into_sorted(codes));
            }
        }
        let mut all = LevelInterner::default();
        let mut joined = Vec::with_capacity(parts.iter().map(|(_, c)| c.len()).sum());
        for (interner, codes) in parts {
            let to_all = interner
                .labels
                .iter()
                .map(|l| all.code(l.as_bytes()))
                .collect::<Result<Vec<u32>, _>>()?;
            joined.extend(
                codes
                    .iter()
                    .map(|&c| to_all.get(c as usize).copied().unwrap_or(MISSING_CODE)),
            );
        }
        Ok(all.into_sorted(joined))
    }
}

/// Byte equality, written as a loop: labels are short, and this is faster than a call to
/// `memcmp`.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Sorts `levels` (byte order, as R's `sort` in the C locale) and recodes `codes` to match.
/// Codes that do not index `levels` (including [`MISSING_CODE`]) become `MISSING_CODE`; callers
/// check codes beforehand where that matters.
pub(crate) fn sort_levels(mut codes: Vec<u32>, levels: Vec<String>) -> (Vec<u32>, Vec<String>) {
    if levels.windows(2).all(|w| w[0] < w[1]) {
        return (codes, levels);
    }
    let mut order: Vec<usize> = (0..levels.len()).collect();
    order.sort_by(|&a, &b| levels[a].cmp(&levels[b]));
    let mut new_code = vec![MISSING_CODE; levels.len()];
    for (new, &old) in order.iter().enumerate() {
        // `new` < levels.len() <= MISSING_CODE, so it fits.
        new_code[old] = new as u32;
    }
    for c in &mut codes {
        *c = new_code.get(*c as usize).copied().unwrap_or(MISSING_CODE);
    }
    let mut slots: Vec<Option<String>> = levels.into_iter().map(Some).collect();
    let sorted = order
        .iter()
        .filter_map(|&old| slots.get_mut(old).and_then(Option::take))
        .collect();
    (codes, sorted)
}

/// A fast hasher for short labels: eight bytes at a time, each word mixed in by a folded 128-bit
/// multiplication. Labels come from local data files, so resistance to crafted collisions is not
/// needed.
#[derive(Debug, Default)]
pub(crate) struct LabelHasher(u64);

impl LabelHasher {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;

    fn mix(&mut self, word: u64) {
        let product = u128::from(self.0 ^ word) * u128::from(Self::K);
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Hasher for LabelHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_first_sight_then_sorted_levels() {
        let mut interner = LevelInterner::default();
        let codes: Vec<u32> = ["b", "a", "b", "c", "a"]
            .iter()
            .map(|s| interner.code(s.as_bytes()).unwrap())
            .collect();
        assert_eq!(codes, vec![0, 1, 0, 2, 1]);
        let (codes, levels) = interner.into_sorted(codes);
        assert_eq!(levels, vec!["a", "b", "c"]);
        assert_eq!(codes, vec![1, 0, 1, 2, 0]);
    }

    #[test]
    fn parts_join_against_common_levels() {
        let part = |labels: &[&str]| {
            let mut interner = LevelInterner::default();
            let codes = labels
                .iter()
                .map(|l| match *l {
                    "" => MISSING_CODE,
                    l => interner.code(l.as_bytes()).unwrap(),
                })
                .collect();
            (interner, codes)
        };
        let (codes, levels) =
            LevelInterner::concat(vec![part(&["b", "", "c"]), part(&["a", "b"])]).unwrap();
        assert_eq!(levels, vec!["a", "b", "c"]);
        assert_eq!(codes, vec![1, MISSING_CODE, 2, 0, 1]);
    }

    #[test]
    fn missing_codes_survive_sorting() {
        let (codes, levels) = sort_levels(vec![0, MISSING_CODE, 1], vec!["z".into(), "y".into()]);
        assert_eq!(levels, vec!["y", "z"]);
        assert_eq!(codes, vec![1, MISSING_CODE, 0]);
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let mut interner = LevelInterner::default();
        assert_eq!(interner.code(&[0xff, 0x41]), Err(InternError::NotUtf8));
    }

    #[test]
    fn long_and_short_labels_are_told_apart() {
        let mut interner = LevelInterner::default();
        let labels = ["", "a", "a\0", "abcdefgh", "abcdefgh\0", "abcdefghi"];
        for (i, l) in labels.iter().enumerate() {
            assert_eq!(interner.code(l.as_bytes()).unwrap(), i as u32);
        }
        for (i, l) in labels.iter().enumerate().rev() {
            assert_eq!(interner.code(l.as_bytes()).unwrap(), i as u32);
        }
    }
}
