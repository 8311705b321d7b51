//! The kernel's number parsers, reproduced exactly (lib/vsprintf.c, lib/kstrtox.c,
//! lib/cmdline.c): `simple_strtoull`, `memparse`, `kstrtoull`/`kstrtoint`, `kstrtobool`,
//! `get_option`, and `sysfs_streq`. They work on bytes: sysfs writes need not be UTF-8.

use crate::error::{err, Errno, Result};

/// `_parse_integer_fixup_radix` with base 0: returns (base, prefix length).
fn fixup_radix(s: &[u8]) -> (u32, usize) {
    if s.first() == Some(&b'0') {
        if matches!(s.get(1), Some(b'x' | b'X')) && s.get(2).is_some_and(u8::is_ascii_hexdigit) {
            return (16, 2);
        }
        return (8, 0);
    }
    (10, 0)
}

fn digit(c: u8, base: u32) -> Option<u64> {
    let v = (c as char).to_digit(16)?;
    (v < base).then_some(u64::from(v))
}

/// `simple_strtoull(s, &end, 0)`: no sign, no whitespace; wraps on overflow.
/// Returns (value, bytes consumed). No digits -> (0, 0).
#[must_use]
pub fn simple_strtoull(s: &[u8]) -> (u64, usize) {
    let (base, skip) = fixup_radix(s);
    let mut v: u64 = 0;
    let mut i = skip;
    while let Some(d) = s.get(i).and_then(|&c| digit(c, base)) {
        v = v.wrapping_mul(u64::from(base)).wrapping_add(d);
        i += 1;
    }
    if i == skip && skip > 0 {
        // unreachable: a 0x prefix is only taken before a hex digit
        return (0, 0);
    }
    (v, i)
}

/// `memparse(s, &end)`: simple_strtoull then an optional K/M/G/T/P/E suffix (either case).
#[must_use]
pub fn memparse(s: &[u8]) -> (u64, usize) {
    let (v, mut end) = simple_strtoull(s);
    let shift = match s.get(end) {
        Some(b'K' | b'k') => 10,
        Some(b'M' | b'm') => 20,
        Some(b'G' | b'g') => 30,
        Some(b'T' | b't') => 40,
        Some(b'P' | b'p') => 50,
        Some(b'E' | b'e') => 60,
        _ => 0,
    };
    if shift > 0 {
        end += 1;
        return (v.wrapping_shl(shift), end);
    }
    (v, end)
}

/// Digits, then optionally one `\n`, then the end (kstrtox tail rule).
fn kstrto_body(s: &[u8]) -> Result<u64> {
    let (base, skip) = fixup_radix(s);
    let mut v: u64 = 0;
    let mut i = skip;
    let mut overflow = false;
    while let Some(d) = s.get(i).and_then(|&c| digit(c, base)) {
        match v.checked_mul(u64::from(base)).and_then(|x| x.checked_add(d)) {
            Some(x) => v = x,
            None => overflow = true,
        }
        i += 1;
    }
    // _kstrtoull: overflow is reported before the tail is looked at
    if overflow {
        return err(Errno::ERANGE, "value out of range");
    }
    if i == skip {
        return err(Errno::EINVAL, "no digits");
    }
    let rest = &s[i..];
    if !(rest.is_empty() || rest == b"\n") {
        return err(Errno::EINVAL, "trailing characters");
    }
    Ok(v)
}

/// `kstrtoull(s, 0)`: optional `+`, digits, optional single `\n`.
pub fn kstrtoull(s: &[u8]) -> Result<u64> {
    kstrto_body(s.strip_prefix(b"+").unwrap_or(s))
}

/// `kstrtouint(s, 0)`.
pub fn kstrtouint(s: &[u8]) -> Result<u32> {
    let v = kstrtoull(s)?;
    u32::try_from(v).or_else(|_| err(Errno::ERANGE, "value out of range"))
}

/// `kstrtoll(s, 0)`: also a leading `-`.
pub fn kstrtoll(s: &[u8]) -> Result<i64> {
    if let Some(rest) = s.strip_prefix(b"-") {
        let v = kstrto_body(rest)?;
        if v > 1 << 63 {
            return err(Errno::ERANGE, "value out of range");
        }
        #[allow(clippy::cast_possible_wrap)]
        return Ok((v as i64).wrapping_neg());
    }
    let v = kstrtoull(s)?;
    i64::try_from(v).or_else(|_| err(Errno::ERANGE, "value out of range"))
}

/// `kstrtoint(s, 0)`.
pub fn kstrtoint(s: &[u8]) -> Result<i32> {
    let v = kstrtoll(s)?;
    i32::try_from(v).or_else(|_| err(Errno::ERANGE, "value out of range"))
}

/// `kstrtobool`: looks at the first one or two characters only.
pub fn kstrtobool(s: &[u8]) -> Result<bool> {
    match s.first() {
        Some(b'y' | b'Y' | b'1') => Ok(true),
        Some(b'n' | b'N' | b'0') => Ok(false),
        Some(b'o' | b'O') => match s.get(1) {
            Some(b'n' | b'N') => Ok(true),
            Some(b'f' | b'F') => Ok(false),
            _ => err(Errno::EINVAL, "not a boolean"),
        },
        _ => err(Errno::EINVAL, "not a boolean"),
    }
}

/// Result of `get_option`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetOption {
    /// 0: no integer
    None,
    /// 1: integer, end of string (or other char)
    Int(i64),
    /// 2: integer followed by `,` (consumed)
    IntComma(i64),
    /// 3: integer followed by `-`
    IntDash(i64),
}

/// `get_option(&s, &int)`: optional `-`, simple_strtoull base 0; advances `pos`.
pub fn get_option(s: &[u8], pos: &mut usize) -> GetOption {
    let rest = &s[*pos..];
    if rest.is_empty() {
        return GetOption::None;
    }
    let neg = rest.first() == Some(&b'-');
    let body = if neg { &rest[1..] } else { rest };
    let (v, used) = simple_strtoull(body);
    if used == 0 {
        return GetOption::None;
    }
    #[allow(clippy::cast_possible_wrap)]
    let v = if neg { (v as i64).wrapping_neg() } else { v as i64 };
    *pos += usize::from(neg) + used;
    match s.get(*pos) {
        Some(b',') => {
            *pos += 1;
            GetOption::IntComma(v)
        }
        Some(b'-') => GetOption::IntDash(v),
        _ => GetOption::Int(v),
    }
}

/// `sysfs_streq`: equal, ignoring one trailing newline on either side.
#[must_use]
pub fn sysfs_streq(a: &[u8], b: &[u8]) -> bool {
    let a = a.strip_suffix(b"\n").unwrap_or(a);
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memparse_examples() {
        assert_eq!(memparse(b"128M"), (134_217_728, 4));
        assert_eq!(memparse(b"0x40000000"), (1 << 30, 10));
        assert_eq!(memparse(b"1g"), (1 << 30, 2));
        assert_eq!(memparse(b"010k"), (8192, 4));
        assert_eq!(memparse(b"3G@"), (3 << 30, 2));
        assert_eq!(memparse(b"abc"), (0, 0));
        assert_eq!(simple_strtoull(b"0xg"), (0, 1));
    }

    #[test]
    fn kstrto_rules() {
        assert_eq!(kstrtoull(b"12\n").unwrap(), 12);
        assert_eq!(kstrtoull(b"+0x10").unwrap(), 16);
        assert_eq!(kstrtoull(b"12\n\n").unwrap_err().errno, Errno::EINVAL);
        assert_eq!(kstrtoull(b"").unwrap_err().errno, Errno::EINVAL);
        assert_eq!(kstrtoull(b"99999999999999999999").unwrap_err().errno, Errno::ERANGE);
        assert_eq!(kstrtoull(b"0x10000000000000000k").unwrap_err().errno, Errno::ERANGE);
        assert_eq!(kstrtoint(b"-5").unwrap(), -5);
        assert_eq!(kstrtouint(b"4294967296").unwrap_err().errno, Errno::ERANGE);
        assert!(kstrtobool(b"1junk").unwrap());
        assert!(kstrtobool(b"on").unwrap());
        assert!(!kstrtobool(b"off").unwrap());
        assert_eq!(kstrtobool(b"2").unwrap_err().errno, Errno::EINVAL);
    }

    #[test]
    fn get_option_forms() {
        let s = b"1,2-3";
        let mut p = 0;
        assert_eq!(get_option(s, &mut p), GetOption::IntComma(1));
        assert_eq!(get_option(s, &mut p), GetOption::IntDash(2));
    }
}
