//! [`Decimal`]: an exact decimal number of up to 38 significant digits,
//! with its scale (`1.50` keeps its two decimals, as PostgreSQL's numeric
//! does). It is Arrow's `Decimal128` value with the scale attached, which
//! is what DataFusion computes with; numbers beyond 38 digits are refused
//! with an error, never rounded silently.

use std::cmp::Ordering;
use std::fmt;

/// Most significant digits a [`Decimal`] holds.
pub const MAX_PRECISION: u8 = 38;

/// 10^38: mantissas stay strictly below it in magnitude.
const LIMIT: i128 = 10i128.pow(MAX_PRECISION as u32);

/// An exact decimal: `mantissa × 10^-scale`.
#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    /// The digits, as an integer (|mantissa| < 10^38).
    pub mantissa: i128,
    /// Digits after the decimal point (0..=38).
    pub scale: u8,
}

/// Why a decimal could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// The text is not a number.
    #[error("invalid input syntax for type numeric: \"{0}\"")]
    Syntax(String),
    /// The number needs more digits than are kept.
    #[error("numeric field overflow")]
    Overflow,
}

fn pow10(n: u32) -> i128 {
    10i128.pow(n)
}

impl Decimal {
    /// `mantissa × 10^-scale`, if it fits.
    pub fn new(mantissa: i128, scale: u8) -> Result<Decimal, DecimalError> {
        if scale > MAX_PRECISION || mantissa.abs() >= LIMIT {
            return Err(DecimalError::Overflow);
        }
        Ok(Decimal { mantissa, scale })
    }

    /// The integer `n`.
    pub fn from_i64(n: i64) -> Decimal {
        Decimal {
            mantissa: n as i128,
            scale: 0,
        }
    }

    /// Parses PostgreSQL's numeric input: `[+-]digits[.digits][e[+-]digits]`,
    /// surrounding spaces allowed.
    pub fn parse(text: &str) -> Result<Decimal, DecimalError> {
        let bad = || DecimalError::Syntax(text.to_string());
        let s = text.trim();
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (num, exp) = match s.find(['e', 'E']) {
            Some(i) => {
                let e: i32 = s[i + 1..].parse().map_err(|_| bad())?;
                (&s[..i], e)
            }
            None => (s, 0),
        };
        let (int_part, frac_part) = match num.find('.') {
            Some(i) => (&num[..i], &num[i + 1..]),
            None => (num, ""),
        };
        if (int_part.is_empty() && frac_part.is_empty())
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        // Leading zeros carry nothing; digits are accumulated exactly.
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            // Zero, however written; its scale is kept where it fits.
            let scale = (frac_part.len() as i64 - exp as i64).clamp(0, MAX_PRECISION as i64);
            return Decimal::new(0, scale as u8);
        }
        let mut scale = frac_part.len() as i64 - exp as i64;
        let mut mantissa: i128 = 0;
        for (i, b) in digits.bytes().enumerate() {
            if i >= MAX_PRECISION as usize {
                // Digits past 38 significant ones must be zeros after the
                // decimal point to be dropped without loss.
                let rest = &digits[i..];
                let frac_rest = (scale as i128).min(rest.len() as i128);
                if frac_rest == rest.len() as i128 && rest.bytes().all(|b| b == b'0') {
                    scale -= rest.len() as i64;
                    break;
                }
                return Err(DecimalError::Overflow);
            }
            mantissa = mantissa * 10 + (b - b'0') as i128;
        }
        if scale < 0 {
            // 1e3 = 1000: scale 0 with the zeros written out.
            let up = (-scale) as u32;
            mantissa = mantissa
                .checked_mul(10i128.checked_pow(up).ok_or(DecimalError::Overflow)?)
                .ok_or(DecimalError::Overflow)?;
            scale = 0;
        }
        if scale > MAX_PRECISION as i64 {
            return Err(DecimalError::Overflow);
        }
        let mantissa = if negative { -mantissa } else { mantissa };
        Decimal::new(mantissa, scale as u8)
    }

    /// This value with `scale` decimals, rounding half away from zero as
    /// PostgreSQL does.
    pub fn rescale(self, scale: u8) -> Result<Decimal, DecimalError> {
        match scale.cmp(&self.scale) {
            Ordering::Equal => Ok(self),
            Ordering::Greater => {
                let m = self
                    .mantissa
                    .checked_mul(pow10((scale - self.scale) as u32))
                    .ok_or(DecimalError::Overflow)?;
                Decimal::new(m, scale)
            }
            Ordering::Less => {
                let div = pow10((self.scale - scale) as u32);
                let (q, r) = (self.mantissa / div, self.mantissa % div);
                // r.abs() * 2 could overflow: compare with what is left instead.
                let q = if r.abs() >= div - r.abs() {
                    q + r.signum()
                } else {
                    q
                };
                Decimal::new(q, scale)
            }
        }
    }

    /// Checks that this value fits `numeric(precision, scale)` once
    /// rounded to `scale` decimals, and returns the rounded value.
    pub fn fit(self, precision: u8, scale: u8) -> Result<Decimal, DecimalError> {
        if precision > MAX_PRECISION {
            return Err(DecimalError::Overflow);
        }
        let d = self.rescale(scale)?;
        if d.mantissa.abs() >= pow10(precision as u32) {
            return Err(DecimalError::Overflow);
        }
        Ok(d)
    }

    /// The same value with trailing zero decimals removed (the form keys
    /// and equality use: `1.50` and `1.5` are equal).
    pub fn normalize(self) -> Decimal {
        let (mut m, mut s) = (self.mantissa, self.scale);
        while s > 0 && m % 10 == 0 {
            m /= 10;
            s -= 1;
        }
        Decimal {
            mantissa: m,
            scale: s,
        }
    }

    /// The value as a float (for casts to real and double).
    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 / 10f64.powi(self.scale as i32)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.normalize(), other.normalize());
        let scale = a.scale.max(b.scale);
        // Scaled up to a common scale, mantissas may pass i128 (38 digits
        // times 10^38): compare integer parts first, then fractions.
        let (ai, af) = (
            a.mantissa / pow10(a.scale as u32),
            a.mantissa % pow10(a.scale as u32),
        );
        let (bi, bf) = (
            b.mantissa / pow10(b.scale as u32),
            b.mantissa % pow10(b.scale as u32),
        );
        ai.cmp(&bi).then_with(|| {
            let af = af * pow10((scale - a.scale) as u32);
            let bf = bf * pow10((scale - b.scale) as u32);
            af.cmp(&bf)
        })
    }
}

impl fmt::Display for Decimal {
    /// PostgreSQL's text form: all `scale` decimals, no exponent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn text_round_trips_with_its_scale() {
        for s in ["0", "1.50", "-0.001", "123456789.123456789", "-5", "0.0"] {
            assert_eq!(d(s).to_string(), s);
        }
        assert_eq!(d("+.5").to_string(), "0.5");
        assert_eq!(d("1e3").to_string(), "1000");
        assert_eq!(d("1.5e-2").to_string(), "0.015");
        assert_eq!(d(" 007 ").to_string(), "7");
        assert!(Decimal::parse("1.2.3").is_err());
        assert!(Decimal::parse("abc").is_err());
        assert!(Decimal::parse("").is_err());
        assert_eq!(Decimal::parse(&"9".repeat(39)), Err(DecimalError::Overflow));
    }

    #[test]
    fn rescaling_rounds_half_away_from_zero() {
        assert_eq!(d("2.345").rescale(2).unwrap().to_string(), "2.35");
        assert_eq!(d("-2.345").rescale(2).unwrap().to_string(), "-2.35");
        assert_eq!(d("2.344").rescale(2).unwrap().to_string(), "2.34");
        assert_eq!(d("2.5").rescale(0).unwrap().to_string(), "3");
        let nines = format!("0.{}", "9".repeat(38));
        assert_eq!(d(&nines).rescale(0).unwrap().to_string(), "1");
        assert_eq!(d("0e50").to_string(), "0");
        assert_eq!(d("1").rescale(3).unwrap().to_string(), "1.000");
        assert_eq!(d("999.995").fit(5, 2), Err(DecimalError::Overflow));
        assert_eq!(d("999.994").fit(5, 2).unwrap().to_string(), "999.99");
    }

    #[test]
    fn equal_values_of_different_scales_compare_equal() {
        assert_eq!(d("1.50"), d("1.5"));
        assert!(d("1.49") < d("1.5"));
        assert!(d("-1") < d("0.001"));
        assert!(d("10") > d("9.99999"));
        assert_eq!(d("1.500").normalize().to_string(), "1.5");
    }
}
