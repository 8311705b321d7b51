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
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    None
                } else {
                    let b = w.trailing_zeros() as usize;
                    w &= w - 1;
                    Some(wi * 64 + b)
                }
            })
        })
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
        use std::fmt::Write;
        let mut out = String::new();
        let mut it = self.iter().peekable();
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

    /// `%*pb`: 32-bit hex chunks from the most significant, the leading chunk padded to the
    /// digits its `nbits % 32` bits need, the rest to 8 digits, joined by `,`.
    #[must_use]
    pub fn format_mask(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        if self.nbits == 0 {
            return String::new();
        }
        let nchunks = self.nbits.div_ceil(32);
        // Table-driven hex digits: masks of 8192-CPU machines have 256 chunks and are
        // formatted tens of thousands of times by an export.
        let mut out: Vec<u8> = Vec::with_capacity(nchunks * 9);
        for c in (0..nchunks).rev() {
            let w = self.words[c / 2];
            let chunk = if c % 2 == 0 { w & 0xffff_ffff } else { w >> 32 };
            let digits = if c == nchunks - 1 {
                let bits = match self.nbits % 32 {
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
