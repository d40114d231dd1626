//! Parsing numbers from the bytes of a CSV cell, without allocating.

/// The number written in `cell`, if it is one (Rust's float syntax: `1`, `-2.5`, `1e-3`, `.5`,
/// and also `inf` and `NaN`, which the caller rejects). Plain decimals of up to 15 or so digits
/// take a fast path; everything else goes to the standard library's parser, which gives the same
/// (correctly rounded) result.
pub(crate) fn parse_number(cell: &[u8]) -> Option<f64> {
    plain_decimal(cell).or_else(|| std::str::from_utf8(cell).ok()?.parse().ok())
}

/// The number written in `cell` with a decimal comma (`87,5`, `-0,25`, `12`): at most one `,`
/// and no `.` (as R's `read.csv2`, where `1.234,5` is text); otherwise as [`parse_number`].
pub(crate) fn parse_decimal_comma(cell: &[u8]) -> Option<f64> {
    if cell.contains(&b'.') {
        return None;
    }
    let Some(at) = cell.iter().position(|&b| b == b',') else {
        return parse_number(cell);
    };
    let mut buffer = [0u8; 64];
    let mut long = Vec::new();
    let copy = match buffer.get_mut(..cell.len()) {
        Some(short) => {
            short.copy_from_slice(cell);
            short
        }
        None => {
            long.extend_from_slice(cell);
            &mut long[..]
        }
    };
    copy[at] = b'.';
    parse_number(copy)
}

/// Exact powers of ten (every one up to 1e22 is an `f64` without rounding).
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A decimal without exponent (`-12.50`, `+3`, `.5`, `7.`) whose digits, read as an integer, are
/// at most 2^53: that integer and the power of ten dividing it are exact, so one division rounds
/// correctly. `None` for anything else (which may still be a number).
fn plain_decimal(cell: &[u8]) -> Option<f64> {
    let (negative, body) = match cell.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, cell),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    // Digits after the point, once there is one.
    let mut point: Option<usize> = None;
    for &b in body {
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            // Wraps only past 19 digits, which are refused below.
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
            digits += 1;
        } else if b == b'.' && point.is_none() {
            point = Some(digits);
        } else {
            return None;
        }
    }
    if digits == 0 || digits > 19 || mantissa > 1 << 53 {
        return None;
    }
    let fraction = digits - point.unwrap_or(digits);
    let value = match fraction {
        0 => mantissa as f64,
        f => mantissa as f64 / *POWERS_OF_TEN.get(f)?,
    };
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_and_standard_parsing_agree() {
        let cells = [
            "0",
            "-0",
            "+0",
            "1",
            "007",
            "84.3",
            "-2.5",
            ".5",
            "7.",
            "0.1",
            "0.30000000000000004",
            "9007199254740992",
            "9007199254740993",
            "123456789012345.6",
            "1e5",
            "1E-3",
            "-.0",
            "60000.12",
            "19078.60631091499",
            "4503599627370497.5",
            "0.000000000000000000001",
        ];
        for cell in cells {
            let std: f64 = cell.parse().unwrap();
            let ours = parse_number(cell.as_bytes()).unwrap();
            assert_eq!(ours.to_bits(), std.to_bits(), "{cell}");
        }
        for cell in [
            "", ".", "-", "+", "1.2.3", "--1", "1-", "abc", "1,5", " 1", "0x10",
        ] {
            assert_eq!(parse_number(cell.as_bytes()), None, "{cell}");
        }
    }

    #[test]
    fn decimal_commas_read_as_points() {
        for (comma, point) in [
            ("87,5", "87.5"),
            ("-0,25", "-0.25"),
            ("12", "12"),
            (",5", ".5"),
        ] {
            let ours = parse_decimal_comma(comma.as_bytes()).unwrap();
            assert_eq!(ours.to_bits(), point.parse::<f64>().unwrap().to_bits());
        }
        for cell in ["87.5", "1.234,5", "1,2,3", ",", "a,b"] {
            assert_eq!(parse_decimal_comma(cell.as_bytes()), None, "{cell}");
        }
        let long = format!("0,{}", "1".repeat(80));
        let expected: f64 = format!("0.{}", "1".repeat(80)).parse().unwrap();
        assert_eq!(parse_decimal_comma(long.as_bytes()), Some(expected));
    }
}
