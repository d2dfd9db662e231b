//! The pricing engine: the seeded tables, each line, tax and rounding, and its properties.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use radvision::core::pricing::{
    kagoshima_style, kmix_r_2022, quote, LineKind, PriceInput, PriceRule, PricingError, Quote,
    QuoteLine, TaxRule,
};
use shared::domain::{Category, Exam, Rounding};

fn input(category: Category, exam: Exam) -> PriceInput {
    PriceInput {
        category,
        exam,
        body_parts: 1,
        images: 100,
        emergency: false,
        after_hours: false,
        comparisons: 0,
    }
}

fn line(kind: LineKind, quantity: u32, unit_price: i64) -> QuoteLine {
    QuoteLine {
        kind,
        quantity,
        unit_price,
        amount: unit_price * i64::from(quantity),
    }
}

/// A table with one row of only a base price.
fn flat(price: i64) -> Vec<PriceRule> {
    vec![PriceRule {
        category: Category::Clinical,
        exam: Exam::Ct,
        label: "CT".into(),
        base_price: price,
        covered_body_parts: None,
        covered_images: None,
        includes_comparison: false,
        extra_body_part_price: 0,
        extra_images_block: None,
        extra_images_price: 0,
        emergency_surcharge: 0,
        after_hours_surcharge: 0,
        comparison_price: 0,
    }]
}

fn tax(included: bool, rounding: Rounding) -> TaxRule {
    TaxRule {
        included,
        rate_percent: 10,
        rounding,
    }
}

fn ct() -> PriceInput {
    input(Category::Clinical, Exam::Ct)
}

#[test]
fn every_kmix_r_row_has_its_published_price() {
    let (rules, tax) = kmix_r_2022();
    assert_eq!(
        tax,
        TaxRule {
            included: true,
            rate_percent: 10,
            rounding: Rounding::Floor
        }
    );
    let expected = [
        (Category::Clinical, Exam::Ct, 3_300, 300),
        (Category::Clinical, Exam::Mri, 3_300, 300),
        (Category::Clinical, Exam::CrDx, 880, 80),
        (Category::Clinical, Exam::Mmg, 990, 90),
        (Category::Screening, Exam::Ct, 3_300, 300),
        (Category::Screening, Exam::CrDx, 605, 55),
        (Category::Screening, Exam::Ugi, 880, 80),
        (Category::Screening, Exam::Mmg, 990, 90),
        (Category::Screening, Exam::Fundus, 495, 45),
    ];
    assert_eq!(rules.len(), expected.len());
    for (category, exam, price, contained_tax) in expected {
        let q = quote(&rules, &tax, &input(category, exam)).unwrap();
        assert_eq!(
            q.lines,
            vec![line(LineKind::Base, 1, price)],
            "{category} {exam}"
        );
        assert_eq!((q.subtotal, q.tax, q.total), (price, contained_tax, price));
        assert!(q.tax_included);
        // A routine request within the limits costs the base price, and with a prior only
        // the chest CR includes the comparison.
        let with_prior = PriceInput {
            comparisons: 1,
            ..input(category, exam)
        };
        let q = quote(&rules, &tax, &with_prior).unwrap();
        let included = (category, exam) == (Category::Screening, Exam::CrDx);
        assert_eq!(q.total, if included { price } else { price + 550 });
    }
}

#[test]
fn kmix_r_labels_are_japanese() {
    let (rules, _) = kmix_r_2022();
    let labels: Vec<&str> = rules.iter().map(|r| r.label.as_str()).collect();
    assert!(labels.contains(&"CT（2部位・500画像まで）"));
    assert!(labels.contains(&"胸部CR（前回比較含む）"));
}

#[test]
fn ct_beyond_every_limit_charges_each_line() {
    let (rules, tax) = kmix_r_2022();
    let request = PriceInput {
        body_parts: 3,
        images: 1_200,
        emergency: true,
        after_hours: true,
        ..ct()
    };
    let q = quote(&rules, &tax, &request).unwrap();
    assert_eq!(
        q.lines,
        vec![
            line(LineKind::Base, 1, 3_300),
            line(LineKind::ExtraBodyParts, 1, 1_100),
            // 700 images beyond 500: two started blocks of 500.
            line(LineKind::ExtraImages, 2, 550),
            line(LineKind::Emergency, 1, 1_100),
            line(LineKind::AfterHours, 1, 1_100),
        ]
    );
    assert_eq!(q.subtotal, 7_700);
    assert_eq!(q.tax, 700);
    assert_eq!(q.total, 7_700);
    assert_eq!(q.rule_label, "CT（2部位・500画像まで）");
}

#[test]
fn image_blocks_start_one_past_the_limit() {
    let (rules, tax) = kmix_r_2022();
    let at = |images: u32| {
        quote(&rules, &tax, &PriceInput { images, ..ct() })
            .unwrap()
            .total
    };
    assert_eq!(at(500), 3_300);
    assert_eq!(at(501), 3_850);
    assert_eq!(at(1_000), 3_850);
    assert_eq!(at(1_001), 4_400);
}

#[test]
fn zero_body_parts_count_as_one() {
    let (rules, tax) = kmix_r_2022();
    let zero = quote(
        &rules,
        &tax,
        &PriceInput {
            body_parts: 0,
            ..ct()
        },
    )
    .unwrap();
    let one = quote(
        &rules,
        &tax,
        &PriceInput {
            body_parts: 1,
            ..ct()
        },
    )
    .unwrap();
    assert_eq!(zero, one);
    let two = quote(
        &rules,
        &tax,
        &PriceInput {
            body_parts: 2,
            ..ct()
        },
    )
    .unwrap();
    assert_eq!(two.total, 3_300);
}

#[test]
fn comparisons_are_charged_once() {
    let (rules, tax) = kmix_r_2022();
    let q = quote(
        &rules,
        &tax,
        &PriceInput {
            comparisons: 4,
            ..ct()
        },
    )
    .unwrap();
    assert_eq!(
        q.lines,
        vec![
            line(LineKind::Base, 1, 3_300),
            line(LineKind::Comparison, 1, 550)
        ]
    );
}

#[test]
fn tax_included_shows_the_tax_contained() {
    let t = |price: i64, rounding: Rounding| {
        let q = quote(&flat(price), &tax(true, rounding), &ct()).unwrap();
        assert_eq!(q.total, price);
        assert_eq!(q.subtotal, price);
        q.tax
    };
    assert_eq!(t(3_300, Rounding::Floor), 300);
    assert_eq!(t(605, Rounding::Floor), 55);
    // 1,000 × 10 / 110 = 90.909…
    assert_eq!(t(1_000, Rounding::Floor), 90);
    assert_eq!(t(1_000, Rounding::HalfUp), 91);
    assert_eq!(t(1_000, Rounding::Ceil), 91);
    // 1,004 × 10 / 110 = 91.272…
    assert_eq!(t(1_004, Rounding::Floor), 91);
    assert_eq!(t(1_004, Rounding::HalfUp), 91);
    assert_eq!(t(1_004, Rounding::Ceil), 92);
}

#[test]
fn tax_excluded_adds_the_tax() {
    let t = |price: i64, rounding: Rounding| {
        let q = quote(&flat(price), &tax(false, rounding), &ct()).unwrap();
        assert_eq!(q.total, q.subtotal + q.tax);
        (q.tax, q.total)
    };
    assert_eq!(t(3_000, Rounding::Floor), (300, 3_300));
    // 99.9
    assert_eq!(t(999, Rounding::Floor), (99, 1_098));
    assert_eq!(t(999, Rounding::HalfUp), (100, 1_099));
    assert_eq!(t(999, Rounding::Ceil), (100, 1_099));
    // 99.5: half rounds up.
    assert_eq!(t(995, Rounding::Floor), (99, 1_094));
    assert_eq!(t(995, Rounding::HalfUp), (100, 1_095));
    // 99.4
    assert_eq!(t(994, Rounding::HalfUp), (99, 1_093));
    assert_eq!(t(994, Rounding::Ceil), (100, 1_094));
}

#[test]
fn zero_and_full_tax_rates() {
    let zero = TaxRule {
        included: false,
        rate_percent: 0,
        rounding: Rounding::Ceil,
    };
    let q = quote(&flat(999), &zero, &ct()).unwrap();
    assert_eq!((q.tax, q.total), (0, 999));
    let full = TaxRule {
        included: true,
        rate_percent: 100,
        rounding: Rounding::Ceil,
    };
    let q = quote(&flat(999), &full, &ct()).unwrap();
    assert_eq!((q.tax, q.total), (500, 999));
}

#[test]
fn kagoshima_routine_and_emergency() {
    let (rules, tax) = kagoshima_style();
    assert!(!tax.included);
    for rule in &rules {
        let routine = input(rule.category, rule.exam);
        let q = quote(&rules, &tax, &routine).unwrap();
        assert_eq!((q.subtotal, q.tax, q.total), (3_000, 300, 3_300));
        let emergency = PriceInput {
            emergency: true,
            after_hours: true,
            body_parts: 10,
            images: 5_000,
            comparisons: 2,
            ..routine
        };
        let q = quote(&rules, &tax, &emergency).unwrap();
        assert_eq!(
            q.lines,
            vec![
                line(LineKind::Base, 1, 3_000),
                line(LineKind::Emergency, 1, 1_000)
            ]
        );
        assert_eq!((q.subtotal, q.tax, q.total), (4_000, 400, 4_400));
    }
}

#[test]
fn a_missing_row_is_no_rule() {
    let (rules, tax) = kagoshima_style();
    let request = input(Category::Screening, Exam::Fundus);
    assert_eq!(
        quote(&rules, &tax, &request),
        Err(PricingError::NoRule {
            category: Category::Screening,
            exam: Exam::Fundus
        })
    );
    assert!(matches!(
        quote(&[], &tax, &ct()),
        Err(PricingError::NoRule { .. })
    ));
}

#[test]
fn invalid_input_is_refused() {
    let (rules, tax) = kmix_r_2022();
    let invalid = |r: Result<Quote, PricingError>| matches!(r, Err(PricingError::Invalid(_)));
    assert!(invalid(quote(
        &rules,
        &tax,
        &PriceInput {
            body_parts: 51,
            ..ct()
        }
    )));
    assert!(quote(
        &rules,
        &tax,
        &PriceInput {
            body_parts: 50,
            ..ct()
        }
    )
    .is_ok());
    assert!(invalid(quote(
        &rules,
        &tax,
        &PriceInput {
            images: 1_000_001,
            ..ct()
        }
    )));
    assert!(quote(
        &rules,
        &tax,
        &PriceInput {
            images: 1_000_000,
            ..ct()
        }
    )
    .is_ok());
    let too_high = TaxRule {
        rate_percent: 101,
        ..tax
    };
    assert!(invalid(quote(&rules, &too_high, &ct())));

    let mut negative = flat(3_000);
    negative[0].emergency_surcharge = -1;
    assert_eq!(
        quote(&negative, &tax, &ct()),
        Err(PricingError::Invalid("negative price"))
    );
    assert!(invalid(quote(&flat(-3_000), &tax, &ct())));
    assert!(invalid(quote(&flat(i64::MAX), &tax, &ct())));
}

#[test]
fn quotes_round_trip_as_json() {
    let (rules, tax) = kmix_r_2022();
    let q = quote(
        &rules,
        &tax,
        &PriceInput {
            images: 700,
            emergency: true,
            ..ct()
        },
    )
    .unwrap();
    let json = serde_json::to_value(&q).unwrap();
    assert_eq!(json["lines"][1]["kind"], "extra_images");
    assert_eq!(json["rounding"], "floor");
    let back: Quote = serde_json::from_value(json).unwrap();
    assert_eq!(back, q);
}

// Properties.

fn any_rounding() -> impl Strategy<Value = Rounding> {
    prop_oneof![
        Just(Rounding::Floor),
        Just(Rounding::HalfUp),
        Just(Rounding::Ceil)
    ]
}

fn any_tax() -> impl Strategy<Value = TaxRule> {
    (any::<bool>(), 0u32..=100, any_rounding()).prop_map(|(included, rate_percent, rounding)| {
        TaxRule {
            included,
            rate_percent,
            rounding,
        }
    })
}

fn price() -> impl Strategy<Value = i64> {
    0i64..=100_000
}

/// A valid row for clinical CT, with or without each limit.
fn any_rule() -> impl Strategy<Value = PriceRule> {
    (
        (
            price(),
            proptest::option::of(0u32..10),
            proptest::option::of(0u32..2_000),
        ),
        (
            any::<bool>(),
            price(),
            proptest::option::of(0u32..1_000),
            price(),
        ),
        (price(), price(), price()),
    )
        .prop_map(
            |(
                (base_price, covered_body_parts, covered_images),
                (
                    includes_comparison,
                    extra_body_part_price,
                    extra_images_block,
                    extra_images_price,
                ),
                (emergency_surcharge, after_hours_surcharge, comparison_price),
            )| PriceRule {
                category: Category::Clinical,
                exam: Exam::Ct,
                label: "CT".into(),
                base_price,
                covered_body_parts,
                covered_images,
                includes_comparison,
                extra_body_part_price,
                extra_images_block,
                extra_images_price,
                emergency_surcharge,
                after_hours_surcharge,
                comparison_price,
            },
        )
}

/// A valid clinical CT request.
fn any_input() -> impl Strategy<Value = PriceInput> {
    (
        0u32..=50,
        0u32..=1_000_000,
        any::<bool>(),
        any::<bool>(),
        0u32..5,
    )
        .prop_map(
            |(body_parts, images, emergency, after_hours, comparisons)| PriceInput {
                body_parts,
                images,
                emergency,
                after_hours,
                comparisons,
                ..ct()
            },
        )
}

fn total(rule: &PriceRule, tax: &TaxRule, input: &PriceInput) -> i64 {
    quote(std::slice::from_ref(rule), tax, input).unwrap().total
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn totals_never_decrease_when_more_is_asked(
        rule in any_rule(),
        tax in any_tax(),
        a in any_input(),
        more_images in 0u32..5_000,
        more_parts in 0u32..10,
        more_comparisons in 0u32..3,
        emergency in any::<bool>(),
        after_hours in any::<bool>(),
    ) {
        let b = PriceInput {
            images: a.images.saturating_add(more_images).min(1_000_000),
            body_parts: a.body_parts.saturating_add(more_parts).min(50),
            comparisons: a.comparisons + more_comparisons,
            emergency: a.emergency || emergency,
            after_hours: a.after_hours || after_hours,
            ..a
        };
        prop_assert!(total(&rule, &tax, &b) >= total(&rule, &tax, &a));
        // One dimension at a time as well.
        for one in [
            PriceInput { images: b.images, ..a },
            PriceInput { body_parts: b.body_parts, ..a },
            PriceInput { comparisons: b.comparisons, ..a },
            PriceInput { emergency: b.emergency, ..a },
            PriceInput { after_hours: b.after_hours, ..a },
        ] {
            prop_assert!(total(&rule, &tax, &one) >= total(&rule, &tax, &a));
        }
    }

    #[test]
    fn quotes_add_up(rule in any_rule(), tax in any_tax(), input in any_input()) {
        let q = quote(std::slice::from_ref(&rule), &tax, &input).unwrap();
        prop_assert_eq!(q.lines.iter().map(|l| l.amount).sum::<i64>(), q.subtotal);
        for l in &q.lines {
            prop_assert_eq!(l.amount, l.unit_price * i64::from(l.quantity));
            prop_assert!(l.amount > 0 || l.kind == LineKind::Base);
        }
        prop_assert_eq!(q.lines[0].kind, LineKind::Base);
        prop_assert!(q.tax >= 0);
        prop_assert!(q.tax <= q.subtotal);
        if tax.included {
            prop_assert_eq!(q.total, q.subtotal);
        } else {
            prop_assert!(q.total >= q.subtotal);
            prop_assert_eq!(q.total, q.subtotal + q.tax);
        }
        prop_assert_eq!(q.tax_included, tax.included);
        prop_assert_eq!(q.tax_rate_percent, tax.rate_percent);
    }

    #[test]
    fn any_numbers_never_panic(
        prices in proptest::collection::vec(any::<i64>(), 6),
        covered_body_parts in any::<Option<u32>>(),
        covered_images in any::<Option<u32>>(),
        extra_images_block in any::<Option<u32>>(),
        includes_comparison in any::<bool>(),
        included in any::<bool>(),
        rate_percent in any::<u32>(),
        rounding in any_rounding(),
        body_parts in any::<u32>(),
        images in any::<u32>(),
        comparisons in any::<u32>(),
        emergency in any::<bool>(),
        after_hours in any::<bool>(),
    ) {
        let rule = PriceRule {
            category: Category::Clinical,
            exam: Exam::Ct,
            label: String::new(),
            base_price: prices[0],
            covered_body_parts,
            covered_images,
            includes_comparison,
            extra_body_part_price: prices[1],
            extra_images_block,
            extra_images_price: prices[2],
            emergency_surcharge: prices[3],
            after_hours_surcharge: prices[4],
            comparison_price: prices[5],
        };
        let tax = TaxRule { included, rate_percent, rounding };
        let input = PriceInput { body_parts, images, emergency, after_hours, comparisons, ..ct() };
        if let Ok(q) = quote(&[rule], &tax, &input) {
            prop_assert!(q.total >= q.subtotal || tax.included);
            prop_assert!(q.tax <= q.subtotal);
        }
    }

    #[test]
    fn valid_inputs_with_large_limits_never_panic(
        prices in proptest::collection::vec(0i64..=10_000_000, 6),
        covered_body_parts in any::<Option<u32>>(),
        covered_images in any::<Option<u32>>(),
        extra_images_block in any::<Option<u32>>(),
        tax in any_tax(),
        input in any_input(),
    ) {
        let rule = PriceRule {
            category: Category::Clinical,
            exam: Exam::Ct,
            label: String::new(),
            base_price: prices[0],
            covered_body_parts,
            covered_images,
            includes_comparison: false,
            extra_body_part_price: prices[1],
            extra_images_block,
            extra_images_price: prices[2],
            emergency_surcharge: prices[3],
            after_hours_surcharge: prices[4],
            comparison_price: prices[5],
        };
        prop_assert!(quote(&[rule], &tax, &input).is_ok());
    }
}
