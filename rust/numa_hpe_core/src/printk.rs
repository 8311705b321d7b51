//! The kernel log (kernel/printk `log_buf`) as `dmesg` shows it: one entry per line, oldest
//! first. Big batches of lines -- the `Fallback order for Node` lines of a zonelist pass (a
//! million numbers on 1024 nodes), the SRAT affinity lines (one per CPU) -- stay numbers until
//! the log is read; every reader sees the same text.

use std::borrow::Cow;
use std::sync::Arc;

use crate::zonelist::FallbackOrders;

/// A batch of log lines kept as numbers, formatted when read.
pub trait LogLines: std::fmt::Debug + Send + Sync {
    /// Number of lines.
    fn count(&self) -> usize;
    /// The text of the `i`-th line.
    fn text(&self, i: usize) -> String;
}

/// The log.
#[derive(Clone, Debug, Default)]
pub struct LogBuf {
    lines: Vec<Line>,
    /// The storage of the newest zonelist pass.
    last_fallback: Option<Arc<FallbackOrders>>,
}

#[derive(Clone, Debug)]
enum Line {
    Text(String),
    /// The `i`-th line of a batch.
    Batch(Arc<dyn LogLines>, u32),
}

impl LogBuf {
    pub fn push(&mut self, line: String) {
        self.lines.push(Line::Text(line));
    }

    pub fn extend(&mut self, lines: impl IntoIterator<Item = String>) {
        self.lines.extend(lines.into_iter().map(Line::Text));
    }

    /// The lines of `batch`, in order.
    pub fn push_batch(&mut self, batch: Arc<dyn LogLines>) {
        self.lines.extend((0..batch.count()).map(|i| Line::Batch(Arc::clone(&batch), i as u32)));
    }

    /// The `Fallback order for Node` lines of one pass, in build order. A pass equal to the
    /// previous one (a rebuild that changed nothing) shares its storage.
    pub fn push_fallback_orders(&mut self, orders: FallbackOrders) {
        let orders = match &self.last_fallback {
            Some(last) if **last == orders => Arc::clone(last),
            _ => Arc::new(orders),
        };
        self.last_fallback = Some(Arc::clone(&orders));
        self.push_batch(orders);
    }

    /// The lines of `later`, after these.
    pub fn append(&mut self, later: LogBuf) {
        self.lines.extend(later.lines);
        if later.last_fallback.is_some() {
            self.last_fallback = later.last_fallback;
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The text of line `i`.
    #[must_use]
    pub fn get(&self, i: usize) -> Option<Cow<'_, str>> {
        self.lines.get(i).map(Line::text)
    }

    /// Every line's text, oldest first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Cow<'_, str>> + '_ {
        self.lines.iter().map(Line::text)
    }

    /// The lines from `start` on, as owned text.
    #[must_use]
    pub fn lines_from(&self, start: usize) -> Vec<String> {
        self.lines.get(start..).unwrap_or_default().iter().map(|l| l.text().into_owned()).collect()
    }
}

impl Line {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Line::Text(s) => Cow::Borrowed(s),
            Line::Batch(b, i) => Cow::Owned(b.text(*i as usize)),
        }
    }
}

/// Writes the decimal digits of `n` (`%u`) at `s[at..]`; returns the end.
pub(crate) fn put_dec(s: &mut [u8], at: usize, mut n: u64) -> usize {
    let len = n.checked_ilog10().map_or(1, |l| l as usize + 1);
    for b in s[at..at + len].iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    at + len
}

/// A log line built piece by piece: boot prints thousands of SRAT / memblock lines on big
/// machines, and `format!` costs several times the digits.
pub(crate) struct LineBuilder(Vec<u8>);

impl LineBuilder {
    pub(crate) fn new(head: &str) -> Self {
        let mut s = Vec::with_capacity(64);
        s.extend_from_slice(head.as_bytes());
        LineBuilder(s)
    }

    pub(crate) fn str(mut self, t: &str) -> Self {
        self.0.extend_from_slice(t.as_bytes());
        self
    }

    /// `%u`.
    pub(crate) fn dec(self, n: impl Into<u64>) -> Self {
        self.dec_width(n, 0)
    }

    /// `%*u`: right-aligned in `width` columns.
    pub(crate) fn dec_width(mut self, n: impl Into<u64>, width: usize) -> Self {
        let mut b = [0u8; 20];
        let end = put_dec(&mut b, 0, n.into());
        self.0.resize(self.0.len() + width.saturating_sub(end), b' ');
        self.0.extend_from_slice(&b[..end]);
        self
    }

    /// `%0*x`: lower-case hex of at least `min_digits` (at most 16) digits, no `0x`.
    pub(crate) fn hex(mut self, n: impl Into<u64>, min_digits: u32) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let n = n.into();
        let digits = (u64::BITS - n.leading_zeros()).div_ceil(4).max(min_digits.min(16)).max(1) as usize;
        let mut b = [0u8; 16];
        let mut v = n;
        for d in b[..digits].iter_mut().rev() {
            *d = HEX[(v & 0xf) as usize];
            v >>= 4;
        }
        self.0.extend_from_slice(&b[..digits]);
        self
    }

    pub(crate) fn done(self) -> String {
        // UTF-8 pieces and ASCII digits
        String::from_utf8(self.0).unwrap_or_default()
    }
}

impl From<Vec<String>> for LogBuf {
    fn from(lines: Vec<String>) -> Self {
        LogBuf { lines: lines.into_iter().map(Line::Text).collect(), last_fallback: None }
    }
}

/// Snapshots hold the text (the format of a plain list of lines).
impl serde::Serialize for LogBuf {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for LogBuf {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d).map(LogBuf::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bitmap::Bitmap;
    use crate::node::DistanceTable;
    use crate::zonelist::{build_all, ZonelistInput};

    fn pass(memory: &[usize]) -> FallbackOrders {
        let (d, mem) = (DistanceTable::alloc(4), Bitmap::from_bits(4, memory.iter().copied()));
        let no_cpus = Bitmap::new(4);
        let input = ZonelistInput { memory_nodes: &mem, nodes_with_cpus: &no_cpus, distance: &d, max_numnodes: 1024 };
        build_all(&input, &Bitmap::from_bits(4, 0..2))
    }

    #[test]
    fn fallback_lines_read_and_round_trip_as_text() {
        let mut log = LogBuf::from(vec!["a".to_string()]);
        log.push_fallback_orders(pass(&[0, 1, 3]));
        log.push("b".into());
        log.push_fallback_orders(pass(&[0, 1, 3]));
        log.push_fallback_orders(pass(&[1]));
        let want = [
            "a",
            "Fallback order for Node 0: 0 1 3 ",
            "Fallback order for Node 1: 1 3 0 ",
            "b",
            "Fallback order for Node 0: 0 1 3 ",
            "Fallback order for Node 1: 1 3 0 ",
            "Fallback order for Node 0: 0 1 ",
            "Fallback order for Node 1: 1 ",
        ];
        assert_eq!(log.iter().collect::<Vec<_>>(), want);
        assert_eq!(log.lines_from(6), want[6..]);
        assert_eq!(log.get(2).as_deref(), Some(want[2]));
        let json = serde_json::to_string(&log).unwrap();
        assert_eq!(json, serde_json::to_string(&want).unwrap());
        let back: LogBuf = serde_json::from_str(&json).unwrap();
        assert_eq!(back.iter().collect::<Vec<_>>(), want);
    }

    #[test]
    fn decimal_and_hex_digits() {
        let mut b = [0u8; 24];
        for n in [0u64, 7, 9, 10, 99, 100, 1023, 9999, 10_000, 65_535, u64::MAX] {
            let end = put_dec(&mut b, 3, n);
            assert_eq!(std::str::from_utf8(&b[3..end]).unwrap(), n.to_string());
            assert_eq!(LineBuilder::new("x").dec(n).done(), format!("x{n}"));
            assert_eq!(LineBuilder::new("").dec_width(n, 3).done(), format!("{n:>3}"));
            for w in [0u32, 2, 8, 16] {
                assert_eq!(LineBuilder::new("").hex(n, w).done(), format!("{n:0w$x}", w = w as usize));
            }
        }
    }

    #[test]
    fn an_unchanged_pass_shares_storage() {
        let mut log = LogBuf::default();
        log.push_fallback_orders(pass(&[0, 1]));
        log.push("Built 2 zonelists".into());
        log.push_fallback_orders(pass(&[0, 1]));
        let ptrs: Vec<_> = log
            .lines
            .iter()
            .filter_map(|l| match l {
                Line::Batch(o, _) => Some(Arc::as_ptr(o).cast::<()>()),
                Line::Text(_) => None,
            })
            .collect();
        assert_eq!(ptrs.len(), 4);
        assert!(ptrs.iter().all(|&p| p == ptrs[0]));
    }
}
