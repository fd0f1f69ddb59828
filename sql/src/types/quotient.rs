//! The scale of numeric quotients, as PostgreSQL chooses it.
//!
//! PostgreSQL's numeric division (and `avg`, a sum divided by a count)
//! gives at least 16 significant digits and no fewer decimals than either
//! operand shows (`select_div_scale` in `numeric.c`): `10.0 / 4` is
//! `2.5000000000000000`, `1 / 3.0` is `0.33333333333333333333`. That scale
//! belongs to each value, and an Arrow decimal column has one scale for all
//! its values, so quotients are computed at PostgreSQL's scale (at most
//! [`QUOTIENT_NUMERIC_SCALE`] decimals) and kept in a column of type
//! `Decimal128(38, QUOTIENT_NUMERIC_SCALE)`; [`display`] gives each value
//! back the scale PostgreSQL would print it with.

use super::Decimal;

/// Decimals kept for numeric quotients (the Arrow scale of their column).
pub const QUOTIENT_NUMERIC_SCALE: i8 = 20;

/// PostgreSQL's lowest number of significant digits in a quotient
/// (`NUMERIC_MIN_SIG_DIGITS`).
const MIN_SIG_DIGITS: i32 = 16;

/// The weight and first digit of `mantissa × 10^-scale` written in base
/// 10000 with digit groups aligned on the decimal point, as PostgreSQL
/// keeps a numeric: `12345.6` has weight 1 and first digit 1, `0.05` has
/// weight -1 and first digit 500. Zero is `(0, 0)`.
pub fn lead(mantissa: i128, scale: u8) -> (i32, i32) {
    if mantissa == 0 {
        return (0, 0);
    }
    let digits = mantissa.unsigned_abs().to_string();
    let scale = scale as usize;
    let group_value = |g: &str| {
        let mut g = g.to_string();
        while g.len() < 4 {
            g.push('0');
        }
        g.parse::<i32>().unwrap_or(0)
    };
    if digits.len() > scale {
        let int_len = digits.len() - scale;
        let weight = (int_len - 1) / 4;
        let first = &digits[..int_len - 4 * weight];
        (weight as i32, first.parse().unwrap_or(0))
    } else {
        // |value| < 1: the fraction's first `zeros` digits are zero.
        let zeros = scale - digits.len();
        let group = zeros / 4;
        let fraction = format!("{}{digits}", "0".repeat(zeros));
        let end = (4 * group + 4).min(fraction.len());
        (-(group as i32) - 1, group_value(&fraction[4 * group..end]))
    }
}

/// PostgreSQL's result scale for `a / b` (`select_div_scale`), given each
/// operand's mantissa, scale and display scale.
pub fn division_scale(a: (i128, u8, u8), b: (i128, u8, u8)) -> i32 {
    let (w1, f1) = lead(a.0, a.1);
    let (w2, f2) = lead(b.0, b.1);
    let mut qweight = w1 - w2;
    if f1 <= f2 {
        qweight -= 1;
    }
    (MIN_SIG_DIGITS - qweight * 4)
        .max(a.2 as i32)
        .max(b.2 as i32)
        .clamp(0, 1000)
}

/// A quotient kept at [`QUOTIENT_NUMERIC_SCALE`] with the scale PostgreSQL
/// would print it with: its significant decimals, padded to 16 significant
/// digits as PostgreSQL's division gives them (`1.5000000000000000`,
/// `0.33333333333333333333`, `1500000.000000000000`).
pub fn display(d: Decimal) -> Decimal {
    let n = d.normalize();
    // The weight the quotient itself has (PostgreSQL estimates it from the
    // operands; the two differ only when the operands' first digits are
    // equal, e.g. `2.0 / 2` prints 20 decimals there and 16 here).
    let (weight, _) = lead(n.mantissa, n.scale);
    let weight = if n.mantissa == 0 { -1 } else { weight };
    let want = (MIN_SIG_DIGITS - weight * 4).clamp(0, QUOTIENT_NUMERIC_SCALE as i32) as u8;
    if want > n.scale {
        n.rescale(want).unwrap_or(n)
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(m: i128) -> String {
        display(Decimal {
            mantissa: m,
            scale: QUOTIENT_NUMERIC_SCALE as u8,
        })
        .to_string()
    }

    #[test]
    fn lead_digits_are_base_10000() {
        assert_eq!(lead(123456, 1), (1, 1)); // 12345.6
        assert_eq!(lead(5, 2), (-1, 500)); // 0.05
        assert_eq!(lead(3, 0), (0, 3));
        assert_eq!(lead(10000, 0), (1, 1));
        assert_eq!(lead(1, 5), (-2, 1000)); // 0.00001
        assert_eq!(lead(0, 3), (0, 0));
    }

    #[test]
    fn division_scales_match_postgres() {
        // 10.0 / 4, 1 / 3.0, 2.0 / 2, 1 / 30000.0, 3000000 / 2
        assert_eq!(division_scale((100, 1, 1), (4, 0, 0)), 16);
        assert_eq!(division_scale((1, 0, 0), (30, 1, 1)), 20);
        assert_eq!(division_scale((20, 1, 1), (2, 0, 0)), 20);
        assert_eq!(division_scale((1, 0, 0), (300000, 1, 1)), 24);
        assert_eq!(division_scale((3000000, 0, 0), (2, 0, 0)), 12);
    }

    #[test]
    fn quotients_print_like_postgres() {
        let e20 = 10i128.pow(20);
        assert_eq!(show(e20 * 3 / 2), "1.5000000000000000");
        assert_eq!(show(e20 / 3), "0.33333333333333333333");
        assert_eq!(show(1_500_000 * e20), "1500000.000000000000");
        assert_eq!(show(0), "0.00000000000000000000");
        assert_eq!(show(-35 * e20 / 10), "-3.5000000000000000");
    }
}
