//! The pricing engine: a pure function from a facility's price table, its tax rule and what a
//! request asks for, to a quote with one line per charge.
//!
//! A price table (料金表) has one row per category and exam: the base price (基本料金) covers a
//! number of body parts (部位) and images (画像); beyond them the facility charges per extra
//! body part and per started block of extra images. Surcharges apply to emergency reads
//! (緊急加算), reads after hours (時間外加算) and comparison with a prior study (比較読影加算),
//! unless the base price already includes the comparison.
//!
//! Consumption tax (消費税) is either included in the table's prices (税込, the tax contained
//! in the amount is shown) or excluded (税抜, the tax is added on top), and rounded to whole yen
//! by the table's [`Rounding`] rule. All arithmetic is on integers (with `i128`
//! intermediates), so rounding is exact and never depends on floating point.

use serde::{Deserialize, Serialize};
use shared::domain::{Category, Exam, Rounding, Yen};

/// The most body parts one request may ask for.
pub const MAX_BODY_PARTS: u32 = 50;

/// The most images one request may carry.
pub const MAX_IMAGES: u32 = 1_000_000;

/// The highest tax rate accepted, in percent.
pub const MAX_TAX_RATE_PERCENT: u32 = 100;

/// One row of a facility's price table: the price of reading one exam of one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRule {
    pub category: Category,
    pub exam: Exam,
    /// The row's name as printed in the table, e.g. `CT（2部位・500画像まで）`.
    pub label: String,
    /// Yen, as written in the table (tax included or not, per the [`TaxRule`]).
    pub base_price: i64,
    /// Body parts the base price covers; `None`: any number.
    pub covered_body_parts: Option<u32>,
    /// Images the base price covers; `None`: any number.
    pub covered_images: Option<u32>,
    /// Whether comparison with a prior study is included in the base price.
    pub includes_comparison: bool,
    /// Per body part beyond `covered_body_parts`.
    pub extra_body_part_price: i64,
    /// N: a surcharge for every started N images beyond `covered_images` (`None` or 0: no
    /// image surcharge).
    pub extra_images_block: Option<u32>,
    /// Per started block of `extra_images_block` images.
    pub extra_images_price: i64,
    /// Added to an emergency read.
    pub emergency_surcharge: i64,
    /// Added to a read requested after hours.
    pub after_hours_surcharge: i64,
    /// Once per request when at least one prior is compared and `includes_comparison` is false.
    pub comparison_price: i64,
}

/// How a table's prices carry consumption tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRule {
    /// 税込: the prices include the tax. Otherwise (税抜) the tax is added on top.
    pub included: bool,
    /// 0 to 100 (10 in Japan since October 2019).
    pub rate_percent: u32,
    /// How the tax is rounded to whole yen.
    pub rounding: Rounding,
}

/// What a request asks for, as far as the price is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceInput {
    pub category: Category,
    pub exam: Exam,
    /// Body parts to read; a request always has at least one (0 counts as 1). At most 50.
    pub body_parts: u32,
    /// Images in the request's studies. At most 1,000,000.
    pub images: u32,
    pub emergency: bool,
    pub after_hours: bool,
    /// Prior studies to compare with (any number is charged once).
    pub comparisons: u32,
}

/// What a quote line charges for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Base,
    ExtraBodyParts,
    ExtraImages,
    Emergency,
    AfterHours,
    Comparison,
}

impl LineKind {
    /// The snake_case code, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Base => "base",
            LineKind::ExtraBodyParts => "extra_body_parts",
            LineKind::ExtraImages => "extra_images",
            LineKind::Emergency => "emergency",
            LineKind::AfterHours => "after_hours",
            LineKind::Comparison => "comparison",
        }
    }
}

impl std::fmt::Display for LineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One charge of a quote: `amount = quantity × unit_price`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteLine {
    pub kind: LineKind,
    pub quantity: u32,
    pub unit_price: i64,
    pub amount: i64,
}

/// The price of a request, snapshotted on the request as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The base line first, then the surcharges that apply (none with amount 0).
    pub lines: Vec<QuoteLine>,
    /// The sum of the lines' amounts, as written in the table.
    pub subtotal: i64,
    /// Tax included: the tax contained in the subtotal. Excluded: the tax added to it.
    pub tax: i64,
    /// What the requester pays: the subtotal (tax included) or subtotal + tax (excluded).
    pub total: i64,
    pub tax_included: bool,
    pub tax_rate_percent: u32,
    pub rounding: Rounding,
    /// The label of the price-table row used.
    pub rule_label: String,
}

/// Why a request could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The table has no row for this category and exam.
    #[error("no price for {category} {exam}")]
    NoRule { category: Category, exam: Exam },
    /// The input or the table row is out of range; the reason is short English.
    #[error("invalid pricing input: {0}")]
    Invalid(&'static str),
}

/// Prices a request: finds the table row for its category and exam, charges the base price
/// and the surcharges that apply, and adds the tax.
///
/// Lines, in order:
/// - `Base`: quantity 1, always present;
/// - `ExtraBodyParts`: each body part beyond `covered_body_parts` (when that is set);
/// - `ExtraImages`: each started block of `extra_images_block` images beyond
///   `covered_images` (when both are set);
/// - `Emergency`, `AfterHours`: when the request is flagged so;
/// - `Comparison`: once when at least one prior is compared and the base does not include it.
///
/// Lines with amount 0 are left out, except `Base`. The first row matching the category and
/// exam is used, and only that row is validated.
pub fn quote(
    rules: &[PriceRule],
    tax: &TaxRule,
    input: &PriceInput,
) -> Result<Quote, PricingError> {
    validate_tax(tax)?;
    validate_input(input)?;
    let rule = rules
        .iter()
        .find(|r| r.category == input.category && r.exam == input.exam)
        .ok_or(PricingError::NoRule {
            category: input.category,
            exam: input.exam,
        })?;
    validate_rule(rule)?;

    let lines = quote_lines(rule, input);
    let subtotal_wide: i128 = lines.iter().map(|l| i128::from(l.amount)).sum();
    let subtotal = to_i64(subtotal_wide)?;
    let (tax_amount, total) = apply_tax(subtotal, tax)?;
    Ok(Quote {
        lines,
        subtotal,
        tax: tax_amount,
        total,
        tax_included: tax.included,
        tax_rate_percent: tax.rate_percent,
        rounding: tax.rounding,
        rule_label: rule.label.clone(),
    })
}

/// The lines a validated rule charges for a validated input.
fn quote_lines(rule: &PriceRule, input: &PriceInput) -> Vec<QuoteLine> {
    let mut lines = vec![line(LineKind::Base, 1, rule.base_price)];
    let mut push = |kind: LineKind, quantity: u32, unit_price: i64| {
        let l = line(kind, quantity, unit_price);
        if l.amount > 0 {
            lines.push(l);
        }
    };

    if let Some(covered) = rule.covered_body_parts {
        let extra = input.body_parts.max(1).saturating_sub(covered);
        push(LineKind::ExtraBodyParts, extra, rule.extra_body_part_price);
    }
    if let (Some(covered), Some(block)) = (rule.covered_images, rule.extra_images_block) {
        push(
            LineKind::ExtraImages,
            started_blocks(input.images.saturating_sub(covered), block),
            rule.extra_images_price,
        );
    }
    if input.emergency {
        push(LineKind::Emergency, 1, rule.emergency_surcharge);
    }
    if input.after_hours {
        push(LineKind::AfterHours, 1, rule.after_hours_surcharge);
    }
    if input.comparisons > 0 && !rule.includes_comparison {
        push(LineKind::Comparison, 1, rule.comparison_price);
    }
    lines
}

/// A line of `quantity × unit_price`. Validated prices (≤ 10,000,000 yen) times a validated
/// quantity (≤ 1,000,000) stay far inside `i64`; the product saturates all the same.
fn line(kind: LineKind, quantity: u32, unit_price: i64) -> QuoteLine {
    QuoteLine {
        kind,
        quantity,
        unit_price,
        amount: unit_price.saturating_mul(i64::from(quantity)),
    }
}

/// How many blocks of `block` items `count` items start: ⌈count / block⌉ (0 for a block of 0).
fn started_blocks(count: u32, block: u32) -> u32 {
    if block == 0 {
        return 0;
    }
    count.div_ceil(block)
}

/// `(tax, total)` for a subtotal: tax included → the tax contained in it,
/// `subtotal × rate / (100 + rate)`; excluded → `subtotal × rate / 100` on top.
fn apply_tax(subtotal: i64, tax: &TaxRule) -> Result<(i64, i64), PricingError> {
    let rate = i128::from(tax.rate_percent);
    let amount = i128::from(subtotal) * rate;
    if tax.included {
        let contained = divide_rounded(amount, 100 + rate, tax.rounding);
        Ok((to_i64(contained)?, subtotal))
    } else {
        let added = divide_rounded(amount, 100, tax.rounding);
        let total = i128::from(subtotal) + added;
        Ok((to_i64(added)?, to_i64(total)?))
    }
}

/// `numerator / denominator` rounded to an integer by `rounding`, for a non-negative numerator
/// and a positive denominator (what [`quote`] passes after validation). Half-up rounds .5 up.
pub fn divide_rounded(numerator: i128, denominator: i128, rounding: Rounding) -> i128 {
    if denominator <= 0 || numerator < 0 {
        return 0;
    }
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    match rounding {
        Rounding::Floor => quotient,
        Rounding::Ceil => quotient + i128::from(remainder > 0),
        Rounding::HalfUp => quotient + i128::from(remainder * 2 >= denominator),
    }
}

fn to_i64(v: i128) -> Result<i64, PricingError> {
    i64::try_from(v).map_err(|_| PricingError::Invalid("amount out of range"))
}

fn validate_tax(tax: &TaxRule) -> Result<(), PricingError> {
    if tax.rate_percent > MAX_TAX_RATE_PERCENT {
        return Err(PricingError::Invalid("tax rate above 100%"));
    }
    Ok(())
}

fn validate_input(input: &PriceInput) -> Result<(), PricingError> {
    if input.body_parts > MAX_BODY_PARTS {
        return Err(PricingError::Invalid("more than 50 body parts"));
    }
    if input.images > MAX_IMAGES {
        return Err(PricingError::Invalid("more than 1,000,000 images"));
    }
    Ok(())
}

/// Every price of a row must be whole yen from 0 to 10,000,000 (what a table may hold).
fn validate_rule(rule: &PriceRule) -> Result<(), PricingError> {
    let prices = [
        rule.base_price,
        rule.extra_body_part_price,
        rule.extra_images_price,
        rule.emergency_surcharge,
        rule.after_hours_surcharge,
        rule.comparison_price,
    ];
    if prices.iter().any(|p| *p < 0) {
        return Err(PricingError::Invalid("negative price"));
    }
    if prices.iter().any(|p| Yen::new(*p).is_err()) {
        return Err(PricingError::Invalid("price above 10,000,000 yen"));
    }
    Ok(())
}

/// A row with only a base price: no limits, no surcharges.
fn plain_rule(category: Category, exam: Exam, label: &str, base_price: i64) -> PriceRule {
    PriceRule {
        category,
        exam,
        label: label.to_string(),
        base_price,
        covered_body_parts: None,
        covered_images: None,
        includes_comparison: false,
        extra_body_part_price: 0,
        extra_images_block: None,
        extra_images_price: 0,
        emergency_surcharge: 0,
        after_hours_surcharge: 0,
        comparison_price: 0,
    }
}

/// A K-MIX R row: the base price and its limits from the published table, with the seeded
/// market options (1,100 per extra body part, 550 per started 500 extra images, 1,100
/// emergency, 1,100 after hours, 550 comparison where not included).
fn kmix_rule(
    category: Category,
    exam: Exam,
    label: &str,
    base_price: i64,
    covered_body_parts: Option<u32>,
    covered_images: Option<u32>,
    includes_comparison: bool,
) -> PriceRule {
    PriceRule {
        covered_body_parts,
        covered_images,
        includes_comparison,
        extra_body_part_price: if covered_body_parts.is_some() {
            1_100
        } else {
            0
        },
        extra_images_block: covered_images.map(|_| 500),
        extra_images_price: if covered_images.is_some() { 550 } else { 0 },
        emergency_surcharge: 1_100,
        after_hours_surcharge: 1_100,
        comparison_price: if includes_comparison { 0 } else { 550 },
        ..plain_rule(category, exam, label, base_price)
    }
}

/// The K-MIX R table of March 2022 (Kagawa's regional network), tax included at 10 %,
/// rounded down.
///
/// Base prices as published: clinical CT 3,300 (up to 2 body parts / 500 images), MRI 3,300
/// (up to 500 images), CR/DX 880, mammography (MMG) 990; screening chest CT 3,300 (2 body
/// parts / 500 images), chest CR 605 (comparison with the prior included), upper GI (胃透視)
/// 880, mammography 990 (CC and MLO views), fundus (眼底) 495. The published table leaves the
/// charges beyond its limits to each facility; this seed uses common market options, tax
/// included: 1,100 per extra body part, 550 per started 500 images beyond the limit, 1,100
/// emergency, 1,100 after hours, 550 for a comparison where not included.
pub fn kmix_r_2022() -> (Vec<PriceRule>, TaxRule) {
    use Category::{Clinical, Screening};
    let rules = vec![
        kmix_rule(
            Clinical,
            Exam::Ct,
            "CT（2部位・500画像まで）",
            3_300,
            Some(2),
            Some(500),
            false,
        ),
        kmix_rule(
            Clinical,
            Exam::Mri,
            "MRI（500画像まで）",
            3_300,
            None,
            Some(500),
            false,
        ),
        kmix_rule(
            Clinical,
            Exam::CrDx,
            "一般撮影（CR・DX）",
            880,
            None,
            None,
            false,
        ),
        kmix_rule(
            Clinical,
            Exam::Mmg,
            "マンモグラフィ",
            990,
            None,
            None,
            false,
        ),
        kmix_rule(
            Screening,
            Exam::Ct,
            "胸部CT（2部位・500画像まで）",
            3_300,
            Some(2),
            Some(500),
            false,
        ),
        kmix_rule(
            Screening,
            Exam::CrDx,
            "胸部CR（前回比較含む）",
            605,
            None,
            None,
            true,
        ),
        kmix_rule(Screening, Exam::Ugi, "胃透視", 880, None, None, false),
        kmix_rule(
            Screening,
            Exam::Mmg,
            "マンモグラフィ（CC・MLO）",
            990,
            None,
            None,
            false,
        ),
        kmix_rule(Screening, Exam::Fundus, "眼底", 495, None, None, false),
    ];
    let tax = TaxRule {
        included: true,
        rate_percent: 10,
        rounding: Rounding::Floor,
    };
    (rules, tax)
}

/// A flat table in the style of Kagoshima's network, tax excluded at 10 %, rounded down:
/// 3,000 a routine read of clinical CT, MRI, CR/DX, MMG and screening CT, CR/DX, MMG, with an
/// emergency surcharge of 1,000 (4,000 an emergency read); no other surcharges, no limits on
/// body parts or images.
pub fn kagoshima_style() -> (Vec<PriceRule>, TaxRule) {
    use Category::{Clinical, Screening};
    let row = |category: Category, exam: Exam, label: &str| PriceRule {
        emergency_surcharge: 1_000,
        ..plain_rule(category, exam, label, 3_000)
    };
    let rules = vec![
        row(Clinical, Exam::Ct, "CT"),
        row(Clinical, Exam::Mri, "MRI"),
        row(Clinical, Exam::CrDx, "一般撮影（CR・DX）"),
        row(Clinical, Exam::Mmg, "マンモグラフィ"),
        row(Screening, Exam::Ct, "健診CT"),
        row(Screening, Exam::CrDx, "健診一般撮影（CR・DX）"),
        row(Screening, Exam::Mmg, "健診マンモグラフィ"),
    ];
    let tax = TaxRule {
        included: false,
        rate_percent: 10,
        rounding: Rounding::Floor,
    };
    (rules, tax)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_exact() {
        assert_eq!(divide_rounded(9_990, 100, Rounding::Floor), 99);
        assert_eq!(divide_rounded(9_990, 100, Rounding::HalfUp), 100);
        assert_eq!(divide_rounded(9_950, 100, Rounding::HalfUp), 100);
        assert_eq!(divide_rounded(9_949, 100, Rounding::HalfUp), 99);
        assert_eq!(divide_rounded(9_901, 100, Rounding::Ceil), 100);
        assert_eq!(divide_rounded(9_900, 100, Rounding::Ceil), 99);
        assert_eq!(divide_rounded(5, 0, Rounding::Ceil), 0);
    }

    #[test]
    fn blocks_are_started_blocks() {
        assert_eq!(started_blocks(0, 500), 0);
        assert_eq!(started_blocks(1, 500), 1);
        assert_eq!(started_blocks(500, 500), 1);
        assert_eq!(started_blocks(501, 500), 2);
        assert_eq!(started_blocks(u32::MAX, 1), u32::MAX);
        assert_eq!(started_blocks(10, 0), 0);
    }

    #[test]
    fn line_kinds_serialise_as_their_codes() {
        for k in [
            LineKind::Base,
            LineKind::ExtraBodyParts,
            LineKind::ExtraImages,
            LineKind::Emergency,
            LineKind::AfterHours,
            LineKind::Comparison,
        ] {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
    }
}
