//! Fixed-width bitmaps (cpumask_t / nodemask_t) and the kernel's `%*pbl` / `%*pb` formats.
//!
//! Words are `u64` with bit i in word i/64, the kernel's `unsigned long` layout on x86_64.

use crate::error::{err, Errno, Result};

/// A bitmap of `nbits` bits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Bitmap {
    words: Vec<u64>,
    nbits: usize,
}

impl Bitmap {
    /// An empty bitmap of `nbits` bits.
    #[must_use]
    pub fn new(nbits: usize) -> Self {
        Bitmap { words: vec![0; nbits.div_ceil(64)], nbits }
    }

    /// A bitmap of `nbits` bits from its words (missing ones zero, bits past `nbits` dropped).
    #[must_use]
    pub fn from_words(nbits: usize, mut words: Vec<u64>) -> Self {
        words.resize(nbits.div_ceil(64), 0);
        if nbits % 64 != 0 {
            if let Some(last) = words.last_mut() {
                *last &= (1u64 << (nbits % 64)) - 1;
            }
        }
        Bitmap { words, nbits }
    }

    /// A bitmap with the given bits set; bits >= nbits are ignored.
    pub fn from_bits(nbits: usize, bits: impl IntoIterator<Item = usize>) -> Self {
        let mut b = Bitmap::new(nbits);
        for i in bits {
            if i < nbits {
                b.set(i);
            }
        }
        b
    }

    #[must_use]
    pub fn nbits(&self) -> usize {
        self.nbits
    }

    /// The raw words (bit i in word i/64).
    #[must_use]
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Change the width, dropping bits beyond the new width.
    pub fn resize(&mut self, nbits: usize) {
        self.words.resize(nbits.div_ceil(64), 0);
        self.nbits = nbits;
        let rem = nbits % 64;
        if rem != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << rem) - 1;
            }
        }
    }

    pub fn set(&mut self, i: usize) {
        debug_assert!(i < self.nbits, "bit {i} beyond {}", self.nbits);
        if i < self.nbits {
            self.words[i / 64] |= 1 << (i % 64);
        }
    }

    pub fn clear(&mut self, i: usize) {
        if i < self.nbits {
            self.words[i / 64] &= !(1 << (i % 64));
        }
    }

    pub fn assign(&mut self, i: usize, v: bool) {
        if v {
            self.set(i);
        } else {
            self.clear(i);
        }
    }

    #[must_use]
    pub fn test(&self, i: usize) -> bool {
        i < self.nbits && self.words[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn clear_all(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
    }

    /// Set bits [start, end).
    pub fn set_range(&mut self, start: usize, end: usize) {
        for i in start..end.min(self.nbits) {
            self.set(i);
        }
    }

    #[must_use]
    pub fn weight(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    #[must_use]
    pub fn first(&self) -> Option<usize> {
        self.next_from(0)
    }

    /// Lowest set bit >= i.
    #[must_use]
    pub fn next_from(&self, i: usize) -> Option<usize> {
        if i >= self.nbits {
            return None;
        }
        let mut wi = i / 64;
        let mut w = self.words[wi] & (!0u64 << (i % 64));
        loop {
            if w != 0 {
                let b = wi * 64 + w.trailing_zeros() as usize;
                return (b < self.nbits).then_some(b);
            }
            wi += 1;
            if wi >= self.words.len() {
                return None;
            }
            w = self.words[wi];
        }
    }

    /// Highest set bit.
    #[must_use]
    pub fn last(&self) -> Option<usize> {
        for (wi, &w) in self.words.iter().enumerate().rev() {
            if w != 0 {
                return Some(wi * 64 + 63 - w.leading_zeros() as usize);
            }
        }
        None
    }

    /// Lowest clear bit (or None when full).
    #[must_use]
    pub fn first_zero(&self) -> Option<usize> {
        (0..self.nbits).find(|&i| !self.test(i))
    }

    /// Set bits in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        iter_words(0, &self.words)
    }

    fn zip_with(&self, o: &Bitmap, f: impl Fn(u64, u64) -> u64) -> Bitmap {
        let nbits = self.nbits.max(o.nbits);
        let n = nbits.div_ceil(64);
        let words = (0..n)
            .map(|i| {
                f(self.words.get(i).copied().unwrap_or(0), o.words.get(i).copied().unwrap_or(0))
            })
            .collect();
        Bitmap { words, nbits }
    }

    #[must_use]
    pub fn and(&self, o: &Bitmap) -> Bitmap {
        self.zip_with(o, |a, b| a & b)
    }

    #[must_use]
    pub fn or(&self, o: &Bitmap) -> Bitmap {
        self.zip_with(o, |a, b| a | b)
    }

    #[must_use]
    pub fn andnot(&self, o: &Bitmap) -> Bitmap {
        self.zip_with(o, |a, b| a & !b)
    }

    pub fn or_assign(&mut self, o: &Bitmap) {
        if o.nbits > self.nbits {
            self.resize(o.nbits);
        }
        for (a, b) in self.words.iter_mut().zip(&o.words) {
            *a |= b;
        }
    }

    pub fn and_assign(&mut self, o: &Bitmap) {
        for (i, a) in self.words.iter_mut().enumerate() {
            *a &= o.words.get(i).copied().unwrap_or(0);
        }
    }

    /// Every bit of self is set in o.
    #[must_use]
    pub fn is_subset(&self, o: &Bitmap) -> bool {
        self.words.iter().enumerate().all(|(i, &a)| a & !o.words.get(i).copied().unwrap_or(0) == 0)
    }

    #[must_use]
    pub fn intersects(&self, o: &Bitmap) -> bool {
        self.words.iter().zip(&o.words).any(|(a, b)| a & b != 0)
    }

    /// Same set bits (widths may differ).
    #[must_use]
    pub fn same_bits(&self, o: &Bitmap) -> bool {
        let n = self.words.len().max(o.words.len());
        (0..n).all(|i| {
            self.words.get(i).copied().unwrap_or(0) == o.words.get(i).copied().unwrap_or(0)
        })
    }

    /// `%*pbl`: ascending runs `a` or `a-b` joined by `,`; empty string for no bits.
    #[must_use]
    pub fn format_list(&self) -> String {
        format_list(self.iter())
    }

    /// `%*pb`: 32-bit hex chunks from the most significant, the leading chunk padded to the
    /// digits its `nbits % 32` bits need, the rest to 8 digits, joined by `,`.
    #[must_use]
    pub fn format_mask(&self) -> String {
        format_mask(self.nbits, |k| self.words[k])
    }

    /// Parse a `%*pbl`-style list (`0-3,8`, also `a-b:g/w` groups are not accepted) into a
    /// bitmap of `nbits` bits. Mirrors `bitmap_parselist`: -EINVAL on syntax, -ERANGE past nbits.
    pub fn parse_list(s: &str, nbits: usize) -> Result<Bitmap> {
        let mut b = Bitmap::new(nbits);
        let s = s.strip_suffix('\n').unwrap_or(s);
        if s.trim().is_empty() {
            return Ok(b);
        }
        for part in s.split(',') {
            let part = part.trim();
            let (a, z) = match part.split_once('-') {
                Some((a, z)) => (a, z),
                None => (part, part),
            };
            let a: usize = a.parse().map_err(|_| bad_list(s))?;
            let z: usize = z.parse().map_err(|_| bad_list(s))?;
            if a > z {
                return err(Errno::EINVAL, format!("invalid range {part:?} in list"));
            }
            if z >= nbits {
                return err(Errno::ERANGE, format!("bit {z} beyond {nbits} in list"));
            }
            b.set_range(a, z + 1);
        }
        Ok(b)
    }
}

/// Set bits of `words` (word `k` holding bits `(lo + k) * 64..`), ascending.
fn iter_words(lo: usize, words: &[u64]) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(move |(k, &w)| {
        let mut w = w;
        let base = (lo + k) * 64;
        std::iter::from_fn(move || {
            (w != 0).then(|| {
                let b = w.trailing_zeros() as usize;
                w &= w - 1;
                base + b
            })
        })
    })
}

/// `%*pb` of `nbits` bits whose word `k` is `word(k)`.
fn format_mask(nbits: usize, word: impl Fn(usize) -> u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if nbits == 0 {
        return String::new();
    }
    let nchunks = nbits.div_ceil(32);
    // Table-driven hex digits: masks of 8192-CPU machines have 256 chunks and are
    // formatted tens of thousands of times by an export.
    let mut out: Vec<u8> = Vec::with_capacity(nchunks * 9);
    for c in (0..nchunks).rev() {
        let w = word(c / 2);
        let chunk = if c % 2 == 0 { w & 0xffff_ffff } else { w >> 32 };
        let digits = if c == nchunks - 1 {
            let bits = match nbits % 32 {
                0 => 32,
                r => r,
            };
            bits.div_ceil(4)
        } else {
            out.push(b',');
            8
        };
        for d in (0..digits).rev() {
            out.push(HEX[((chunk >> (4 * d)) & 0xf) as usize]);
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

/// `%*pbl` of ascending bits: runs `a` or `a-b` joined by `,`.
fn format_list(bits: impl Iterator<Item = usize>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut it = bits.peekable();
    while let Some(start) = it.next() {
        let mut end = start;
        while it.peek() == Some(&(end + 1)) {
            end += 1;
            it.next();
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}-{end}");
        }
    }
    out
}

/// A cpumask of `nbits` bits stored as its non-zero word range only: the spans of sched
/// domains and groups. A build makes thousands of them, most a few CPUs wide, at
/// nr_cpu_ids bits each (1 KiB apiece as full bitmaps at 8192 CPUs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpanMask {
    nbits: u32,
    /// Index of the first non-zero word (0 when empty).
    lo: u32,
    /// Words `lo..lo + len`: the first and the last are non-zero.
    words: SpanWords,
}

/// A span's words: most spans (a CPU, its SMT siblings, its LLC) fit in two, kept inline
/// to save an allocation per span.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum SpanWords {
    Inline(u8, [u64; 2]),
    Heap(Box<[u64]>),
}

impl SpanWords {
    fn new(w: &[u64]) -> Self {
        match *w {
            [] => SpanWords::Inline(0, [0; 2]),
            [a] => SpanWords::Inline(1, [a, 0]),
            [a, b] => SpanWords::Inline(2, [a, b]),
            _ => SpanWords::Heap(w.into()),
        }
    }

    fn as_slice(&self) -> &[u64] {
        match self {
            SpanWords::Inline(n, w) => &w[..usize::from(*n)],
            SpanWords::Heap(w) => w,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [u64] {
        match self {
            SpanWords::Inline(n, w) => &mut w[..usize::from(*n)],
            SpanWords::Heap(w) => w,
        }
    }
}

impl SpanMask {
    /// The mask whose words from `lo` on are `words` (zeros at either end are dropped).
    #[must_use]
    pub fn from_range(nbits: usize, lo: usize, words: &[u64]) -> Self {
        let first = words.iter().position(|&w| w != 0).unwrap_or(words.len());
        let end = words.iter().rposition(|&w| w != 0).map_or(first, |i| i + 1);
        SpanMask {
            nbits: u32::try_from(nbits).unwrap_or(u32::MAX),
            lo: if first < end { (lo + first) as u32 } else { 0 },
            words: SpanWords::new(&words[first..end]),
        }
    }

    #[must_use]
    pub fn from_bitmap(b: &Bitmap) -> Self {
        SpanMask::from_range(b.nbits, 0, &b.words)
    }

    /// No bits of `nbits`.
    #[must_use]
    pub fn empty(nbits: usize) -> Self {
        SpanMask::from_range(nbits, 0, &[])
    }

    /// Set (`on`) or clear bit `b` (ignored when >= nbits). In place while the bit's word is
    /// within the range and stays non-zero at its ends.
    pub fn assign(&mut self, b: usize, on: bool) {
        let (lo, hi) = self.word_range();
        let k = b / 64;
        if b >= self.nbits() || (!on && !(lo..hi).contains(&k)) {
            return;
        }
        if !(lo..hi).contains(&k) {
            *self = self.with_bits([b], true);
            return;
        }
        let w = &mut self.words.as_mut_slice()[k - lo];
        if on {
            *w |= 1 << (b % 64);
        } else {
            *w &= !(1 << (b % 64));
            if *w == 0 && (k == lo || k + 1 == hi) {
                *self = SpanMask::from_range(self.nbits(), lo, self.words());
            }
        }
    }

    /// This mask with `bits` set (`on`) or cleared; bits >= nbits are ignored.
    #[must_use]
    pub fn with_bits(&self, bits: impl IntoIterator<Item = usize>, on: bool) -> Self {
        let nbits = self.nbits();
        let bits: Vec<usize> = bits.into_iter().filter(|&b| b < nbits).collect();
        let (mut lo, mut hi) = self.word_range();
        if on {
            for &b in &bits {
                if lo == hi {
                    (lo, hi) = (b / 64, b / 64 + 1);
                }
                (lo, hi) = (lo.min(b / 64), hi.max(b / 64 + 1));
            }
        }
        let mut w: Vec<u64> = (lo..hi).map(|k| self.word(k)).collect();
        for b in bits {
            if let Some(x) = (b / 64).checked_sub(lo).and_then(|k| w.get_mut(k)) {
                if on {
                    *x |= 1 << (b % 64);
                } else {
                    *x &= !(1 << (b % 64));
                }
            }
        }
        SpanMask::from_range(nbits, lo, &w)
    }

    #[must_use]
    pub fn nbits(&self) -> usize {
        self.nbits as usize
    }

    /// The non-zero word range `lo..hi`.
    #[must_use]
    pub fn word_range(&self) -> (usize, usize) {
        (self.lo as usize, self.lo as usize + self.words().len())
    }

    /// The words of [`SpanMask::word_range`].
    #[must_use]
    pub fn words(&self) -> &[u64] {
        self.words.as_slice()
    }

    /// Word `k` of the full-width mask.
    #[must_use]
    pub fn word(&self, k: usize) -> u64 {
        k.checked_sub(self.lo as usize)
            .and_then(|i| self.words().get(i))
            .copied()
            .unwrap_or(0)
    }

    #[must_use]
    pub fn test(&self, i: usize) -> bool {
        self.word(i / 64) & (1 << (i % 64)) != 0
    }

    #[must_use]
    pub fn first(&self) -> Option<usize> {
        self.iter().next()
    }

    #[must_use]
    pub fn weight(&self) -> usize {
        self.words().iter().map(|w| w.count_ones() as usize).sum()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.words().is_empty()
    }

    /// Set bits in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        iter_words(self.lo as usize, self.words())
    }

    /// Every bit of self is set in `o`.
    #[must_use]
    pub fn is_subset(&self, o: &SpanMask) -> bool {
        let lo = self.lo as usize;
        self.words().iter().enumerate().all(|(k, &w)| w & !o.word(lo + k) == 0)
    }

    /// Some bit of self is set in `b`.
    #[must_use]
    pub fn intersects(&self, b: &Bitmap) -> bool {
        let lo = self.lo as usize;
        self.words().iter().enumerate().any(|(k, &w)| w & b.words.get(lo + k).copied().unwrap_or(0) != 0)
    }

    /// `b |= self`.
    pub fn or_into(&self, b: &mut Bitmap) {
        let lo = self.lo as usize;
        for (a, &w) in b.words.iter_mut().skip(lo).zip(self.words().iter()) {
            *a |= w;
        }
    }

    /// The full-width bitmap.
    #[must_use]
    pub fn to_bitmap(&self) -> Bitmap {
        let mut b = Bitmap::new(self.nbits as usize);
        self.or_into(&mut b);
        b
    }

    /// `%*pbl`.
    #[must_use]
    pub fn format_list(&self) -> String {
        format_list(self.iter())
    }

    /// `%*pb` (at its full width).
    #[must_use]
    pub fn format_mask(&self) -> String {
        format_mask(self.nbits(), |k| self.word(k))
    }
}

fn bad_list(s: &str) -> crate::error::HpeError {
    crate::error::HpeError::new(Errno::EINVAL, format!("invalid list {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_words_pads_and_drops_bits_past_nbits() {
        let b = Bitmap::from_words(70, vec![0b101]);
        assert_eq!(b, Bitmap::from_bits(70, [0, 2]));
        let b = Bitmap::from_words(66, vec![1, 0b111, 9]);
        assert_eq!(b, Bitmap::from_bits(66, [0, 64, 65]));
    }

    #[test]
    fn span_mask_keeps_the_non_zero_words() {
        let b = Bitmap::from_bits(300, [70, 130, 199]);
        let s = SpanMask::from_bitmap(&b);
        assert_eq!(s.word_range(), (1, 4));
        assert_eq!(s.to_bitmap(), b);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![70, 130, 199]);
        assert_eq!((s.first(), s.weight(), s.format_list()), (Some(70), 3, b.format_list()));
        assert!(s.test(130) && !s.test(131) && !s.test(5) && !s.test(299));
        assert!(s.intersects(&Bitmap::from_bits(300, [199])) && !s.intersects(&Bitmap::from_bits(300, [198])));
        let t = SpanMask::from_bitmap(&Bitmap::from_bits(300, [70, 199]));
        assert!(t.is_subset(&s) && !s.is_subset(&t));
        let empty = SpanMask::from_bitmap(&Bitmap::new(300));
        assert!(empty.is_empty() && empty.is_subset(&t) && empty.first().is_none());
        assert_eq!(empty.to_bitmap(), Bitmap::new(300));
        assert_eq!(SpanMask::from_range(300, 2, &[0, 1 << 3, 0]), SpanMask::from_bitmap(&Bitmap::from_bits(300, [195])));
    }

    proptest::proptest! {
        /// Bit by bit (`assign`) or in batches (`with_bits`), a SpanMask holds what a Bitmap
        /// does, its first and last stored words non-zero, and formats the same.
        #[test]
        fn span_mask_updates_match_bitmap(
            nbits in 1usize..400,
            ops in proptest::collection::vec((0usize..420, proptest::bool::ANY), 0..60),
        ) {
            let (mut b, mut s, mut t) = (Bitmap::new(nbits), SpanMask::empty(nbits), SpanMask::empty(nbits));
            for chunk in ops.chunks(3) {
                for &(bit, on) in chunk {
                    if bit < nbits {
                        b.assign(bit, on);
                    }
                    s.assign(bit, on);
                }
                for on in [true, false] {
                    t = t.with_bits(chunk.iter().filter(|o| o.1 == on).map(|o| o.0), on);
                }
                proptest::prop_assert_eq!(s.to_bitmap(), b.clone());
                let w = s.words();
                proptest::prop_assert!(w.is_empty() || (w[0] != 0 && w[w.len() - 1] != 0));
                proptest::prop_assert_eq!(s.format_mask(), b.format_mask());
                proptest::prop_assert_eq!(s.format_list(), b.format_list());
            }
            // Batches set their bits, then clear theirs: the last op of a bit in a chunk
            // does not always win, so compare with a bitmap updated the same way.
            let mut bb = Bitmap::new(nbits);
            for chunk in ops.chunks(3) {
                for on in [true, false] {
                    for &(bit, o) in chunk {
                        if o == on && bit < nbits {
                            bb.assign(bit, on);
                        }
                    }
                }
            }
            proptest::prop_assert_eq!(t.to_bitmap(), bb);
        }
    }

    #[test]
    fn list_format() {
        let b = Bitmap::from_bits(16, [0, 1, 2, 3, 8]);
        assert_eq!(b.format_list(), "0-3,8");
        assert_eq!(Bitmap::new(4).format_list(), "");
    }

    #[test]
    fn mask_format_matches_kernel_examples() {
        assert_eq!(Bitmap::from_bits(4, 0..4).format_mask(), "f");
        assert_eq!(Bitmap::from_bits(8, 0..4).format_mask(), "0f");
        assert_eq!(Bitmap::from_bits(8, 0..8).format_mask(), "ff");
        assert_eq!(Bitmap::from_bits(64, 0..4).format_mask(), "00000000,0000000f");
        assert_eq!(Bitmap::from_bits(2, [0, 1]).format_mask(), "3");
        assert_eq!(Bitmap::from_bits(40, [39]).format_mask(), "80,00000000");
    }

    #[test]
    fn parse_roundtrip() {
        let b = Bitmap::parse_list("0-3,8,10-11\n", 16).unwrap();
        assert_eq!(b.format_list(), "0-3,8,10-11");
        assert_eq!(Bitmap::parse_list("3-1", 8).unwrap_err().errno, Errno::EINVAL);
        assert_eq!(Bitmap::parse_list("9", 8).unwrap_err().errno, Errno::ERANGE);
    }
}
