//! Automatic assignment of a supporting facility's requests to its radiologists: a pure
//! function from the waiting requests, the radiologists (specialty table, duty, open work,
//! work already given today) and the rules to a plan that says, for every request, who
//! reads it and why — or why it waits.
//!
//! What today's systems do (`003_*.txt`, section 6) is oldest first plus a self-declared
//! specialty table; urgency is typed in by hand, specialists are scarce in some regions and a
//! veteran operator fixes the rest. Here:
//!
//! 1. **Order**: emergencies first, then by due time, then by filing time, then id — so an
//!    emergency filed behind 50 routine requests is planned first.
//! 2. **Who may**: on duty, and a specialty score above zero for the request's exam in every
//!    region it covers (a region scored 0 is never assigned). Routine work respects a cap on
//!    open work per radiologist; an emergency does not wait for a free slot (it goes to the
//!    best qualified radiologist on duty even above the cap).
//! 3. **Who best**: the weakest region's score, minus a penalty per open request, minus a
//!    fairness penalty for work given today above the on-duty team's average. Waiting
//!    requests that only a few can read are *reserved* for those few and count as work on
//!    their desk (open and today) while others' work is planned — so a scarce specialist is not
//!    flooded with work others can do.
//! 4. **Why**: each assignment keeps the figures it was decided on (score, region, open work,
//!    duty, how many could have taken it), for the coordinator's screen and the audit.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use shared::domain::{BodyRegion, Exam, Urgency};

/// A request waiting for a radiologist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub id: i64,
    pub urgency: Urgency,
    pub due_at: NaiveDateTime,
    pub filed_at: NaiveDateTime,
    pub exam: Exam,
    /// The regions of the requested body parts (empty: [`BodyRegion::Other`]).
    pub regions: Vec<BodyRegion>,
}

/// A radiologist of the facility as the engine sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Radiologist {
    pub id: i64,
    /// On duty now (from the duty schedule).
    pub on_duty: bool,
    /// Requests assigned to them and not yet confirmed.
    pub open: u32,
    /// Requests assigned to them since the start of the day (Japan time).
    pub today: u32,
    /// Specialty score 0–100 per exam and region; absent means 0.
    pub scores: BTreeMap<(Exam, BodyRegion), u8>,
}

impl Radiologist {
    /// The score for an exam over regions: the weakest region's, with that region.
    pub fn score_for(&self, exam: Exam, regions: &[BodyRegion]) -> (u8, BodyRegion) {
        let regions: &[BodyRegion] = if regions.is_empty() {
            &[BodyRegion::Other]
        } else {
            regions
        };
        regions
            .iter()
            .map(|&r| (self.scores.get(&(exam, r)).copied().unwrap_or(0), r))
            .min_by_key(|&(s, r)| (s, r))
            .unwrap_or((0, BodyRegion::Other))
    }
}

/// The facility's assignment rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Routine requests are not given to a radiologist with this many open (emergencies are).
    pub max_open: u32,
    /// Points taken off per open request.
    pub open_weight: f64,
    /// Points taken off per request given today above the on-duty team's average.
    pub fairness_weight: f64,
    /// A request with at most this many qualified radiologists on duty counts as scarce.
    pub scarce_at: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_open: 8,
            open_weight: 8.0,
            fairness_weight: 8.0,
            scarce_at: 2,
        }
    }
}

/// Why a request went to whom: the figures it was decided on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Why {
    pub exam: Exam,
    /// The request's weakest region for this radiologist, and its score.
    pub region: BodyRegion,
    pub score: u8,
    /// Their open requests before this one.
    pub open: u32,
    pub on_duty: bool,
    /// How many radiologists could have taken it.
    pub candidates: u32,
    /// Given above the open-work cap because it is an emergency.
    pub over_cap: bool,
}

/// Why a request still waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    /// Nobody has a score above zero for this exam in every region.
    NobodyQualified,
    /// Qualified radiologists exist, none on duty.
    NobodyOnDuty,
    /// Everyone qualified and on duty has reached the open-work cap (routine only).
    EveryoneFull,
}

/// The engine's decision for one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    Assigned { radiologist_id: i64, why: Why },
    Waits { reason: Wait },
}

/// Plans every waiting request, in the order of [`priority_order`]. Returns the decisions in
/// that order, with the request ids.
pub fn plan(waiting: &[Waiting], team: &[Radiologist], rules: &Rules) -> Vec<(i64, Decision)> {
    let order = priority_order(waiting);
    // Who is qualified (score > 0 in every region) and on duty, per request, once.
    let qualified: Vec<Vec<(usize, u8, BodyRegion)>> = waiting
        .iter()
        .map(|w| {
            team.iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let (s, region) = r.score_for(w.exam, &w.regions);
                    (s > 0).then_some((i, s, region))
                })
                .collect()
        })
        .collect();
    let on_duty = |q: &Vec<(usize, u8, BodyRegion)>| {
        q.iter()
            .filter(|(i, _, _)| team.get(*i).is_some_and(|r| r.on_duty))
            .count()
    };
    // Reservations: per radiologist, the waiting scarce requests they could read.
    let scarce: Vec<bool> = qualified
        .iter()
        .map(|q| {
            let n = on_duty(q);
            n > 0 && n <= rules.scarce_at
        })
        .collect();
    let mut reserved = vec![0u32; team.len()];
    for (q, _) in qualified.iter().zip(&scarce).filter(|(_, &s)| s) {
        for &(i, _, _) in q {
            if let Some(r) = reserved.get_mut(i) {
                *r += 1;
            }
        }
    }
    let mut open: Vec<u32> = team.iter().map(|r| r.open).collect();
    let mut today: Vec<u32> = team.iter().map(|r| r.today).collect();
    let duty_count = team.iter().filter(|r| r.on_duty).count().max(1) as f64;

    let mut out = Vec::with_capacity(waiting.len());
    for idx in order {
        let (Some(w), Some(q)) = (waiting.get(idx), qualified.get(idx)) else {
            continue;
        };
        let is_scarce = scarce.get(idx).copied().unwrap_or(false);
        if is_scarce {
            // This request no longer needs reserving.
            for &(i, _, _) in q {
                if let Some(r) = reserved.get_mut(i) {
                    *r = r.saturating_sub(1);
                }
            }
        }
        let emergency = w.urgency == Urgency::Emergency;
        // Work reserved for waiting scarce requests counts as work on the desk, both as
        // open work and for fairness (but not when planning a scarce request itself).
        let desk = |i: usize| {
            let r = if is_scarce {
                0
            } else {
                reserved.get(i).copied().unwrap_or(0)
            };
            (
                open.get(i).copied().unwrap_or(0),
                today.get(i).copied().unwrap_or(0) + r,
                r,
            )
        };
        let average_today = (0..team.len())
            .filter(|&i| team.get(i).is_some_and(|r| r.on_duty))
            .map(|i| f64::from(desk(i).1))
            .sum::<f64>()
            / duty_count;
        let candidates: Vec<&(usize, u8, BodyRegion)> = q
            .iter()
            .filter(|(i, _, _)| team.get(*i).is_some_and(|r| r.on_duty))
            .filter(|(i, _, _)| emergency || open.get(*i).is_some_and(|&o| o < rules.max_open))
            .collect();
        let best = candidates
            .iter()
            .map(|&&(i, score, region)| {
                let (o, t, r) = desk(i);
                let value = f64::from(score)
                    - rules.open_weight * f64::from(o + r)
                    - rules.fairness_weight * (f64::from(t) - average_today).max(0.0);
                (value, score, o, i, region)
            })
            .max_by(|a, b| {
                a.0.total_cmp(&b.0)
                    .then(a.1.cmp(&b.1))
                    .then(b.2.cmp(&a.2))
                    .then_with(|| {
                        let id = |i: usize| team.get(i).map_or(i64::MAX, |r| r.id);
                        id(b.3).cmp(&id(a.3))
                    })
            });
        let decision = match best {
            Some((_, score, o, i, region)) => {
                let over_cap = o >= rules.max_open;
                if let Some(x) = open.get_mut(i) {
                    *x += 1;
                }
                if let Some(x) = today.get_mut(i) {
                    *x += 1;
                }
                let id = team.get(i).map_or(0, |r| r.id);
                Decision::Assigned {
                    radiologist_id: id,
                    why: Why {
                        exam: w.exam,
                        region,
                        score,
                        open: o,
                        on_duty: true,
                        candidates: u32::try_from(candidates.len()).unwrap_or(u32::MAX),
                        over_cap,
                    },
                }
            }
            None => Decision::Waits {
                reason: if q.is_empty() {
                    Wait::NobodyQualified
                } else if on_duty(q) == 0 {
                    Wait::NobodyOnDuty
                } else {
                    Wait::EveryoneFull
                },
            },
        };
        out.push((w.id, decision));
    }
    out
}

/// The order requests are planned in: emergencies first, then due time, filing time, id.
pub fn priority_order(waiting: &[Waiting]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..waiting.len()).collect();
    order.sort_by_key(|&i| {
        waiting
            .get(i)
            .map(|w| (w.urgency != Urgency::Emergency, w.due_at, w.filed_at, w.id))
    });
    order
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    fn t(min: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            + Duration::minutes(min)
    }

    fn req(id: i64, urgency: Urgency, filed: i64, exam: Exam, regions: &[BodyRegion]) -> Waiting {
        let due = match urgency {
            Urgency::Emergency => filed + 30,
            Urgency::Routine => filed + 24 * 60,
        };
        Waiting {
            id,
            urgency,
            due_at: t(due),
            filed_at: t(filed),
            exam,
            regions: regions.to_vec(),
        }
    }

    fn rad(id: i64, scores: &[(Exam, BodyRegion, u8)]) -> Radiologist {
        Radiologist {
            id,
            on_duty: true,
            open: 0,
            today: 0,
            scores: scores.iter().map(|&(e, r, s)| ((e, r), s)).collect(),
        }
    }

    fn assigned(d: &[(i64, Decision)], id: i64) -> Option<i64> {
        d.iter().find(|(r, _)| *r == id).and_then(|(_, d)| match d {
            Decision::Assigned { radiologist_id, .. } => Some(*radiologist_id),
            Decision::Waits { .. } => None,
        })
    }

    use shared::domain::BodyRegion::*;
    use shared::domain::Exam::*;

    #[test]
    fn an_emergency_behind_fifty_routine_requests_goes_first() {
        let mut w: Vec<Waiting> = (1..=50)
            .map(|i| req(i, Urgency::Routine, i, Ct, &[Chest]))
            .collect();
        w.push(req(99, Urgency::Emergency, 500, Ct, &[HeadNeck]));
        // One radiologist with one free slot.
        let mut r = rad(7, &[(Ct, Chest, 80), (Ct, HeadNeck, 80)]);
        r.open = 7;
        let d = plan(&w, &[r], &Rules::default());
        assert_eq!(d[0].0, 99, "planned first");
        assert_eq!(assigned(&d, 99), Some(7));
        assert_eq!(assigned(&d, 1), None, "the slot went to the emergency");
        assert!(matches!(
            d[1].1,
            Decision::Waits {
                reason: Wait::EveryoneFull
            }
        ));
    }

    #[test]
    fn emergencies_are_given_even_above_the_cap() {
        let mut r = rad(1, &[(Ct, HeadNeck, 50)]);
        r.open = 20;
        let d = plan(
            &[req(5, Urgency::Emergency, 0, Ct, &[HeadNeck])],
            &[r],
            &Rules::default(),
        );
        match &d[0].1 {
            Decision::Assigned { why, .. } => assert!(why.over_cap),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_region_scored_zero_is_never_assigned() {
        let a = rad(1, &[(Ct, HeadNeck, 100), (Ct, Chest, 0)]);
        let b = rad(2, &[(Mri, Chest, 90)]);
        let d = plan(
            &[
                req(1, Urgency::Emergency, 0, Ct, &[HeadNeck, Chest]),
                req(2, Urgency::Routine, 0, Ct, &[Chest]),
            ],
            &[a, b],
            &Rules::default(),
        );
        for (_, x) in &d {
            assert_eq!(
                *x,
                Decision::Waits {
                    reason: Wait::NobodyQualified
                }
            );
        }
    }

    #[test]
    fn nobody_on_duty_waits_with_that_reason() {
        let mut a = rad(1, &[(Ct, Chest, 90)]);
        a.on_duty = false;
        let d = plan(
            &[req(1, Urgency::Emergency, 0, Ct, &[Chest])],
            &[a],
            &Rules::default(),
        );
        assert_eq!(
            d[0].1,
            Decision::Waits {
                reason: Wait::NobodyOnDuty
            }
        );
    }

    #[test]
    fn the_best_score_wins_and_the_reason_says_why() {
        let a = rad(1, &[(Ct, HeadNeck, 50)]);
        let b = rad(2, &[(Ct, HeadNeck, 90)]);
        let d = plan(
            &[req(1, Urgency::Routine, 0, Ct, &[HeadNeck])],
            &[a, b],
            &Rules::default(),
        );
        assert_eq!(
            d[0].1,
            Decision::Assigned {
                radiologist_id: 2,
                why: Why {
                    exam: Ct,
                    region: HeadNeck,
                    score: 90,
                    open: 0,
                    on_duty: true,
                    candidates: 2,
                    over_cap: false
                }
            }
        );
    }

    #[test]
    fn a_scarce_specialist_is_not_flooded_with_work_others_can_do() {
        // Dr 1 reads everything, including musculoskeletal CT that nobody else reads; Drs 2
        // and 3 read head CT a little less well.
        let everything = [(Ct, HeadNeck, 100), (Ct, LowerLimb, 100)];
        let team = [
            rad(1, &everything),
            rad(2, &[(Ct, HeadNeck, 70)]),
            rad(3, &[(Ct, HeadNeck, 70)]),
        ];
        let mut w: Vec<Waiting> = (1..=12)
            .map(|i| req(i, Urgency::Routine, i, Ct, &[HeadNeck]))
            .collect();
        // The knee CTs were filed last, so oldest-first would hand Dr 1 the head CTs first.
        w.extend((100..104).map(|i| req(i, Urgency::Routine, 100 + i, Ct, &[LowerLimb])));
        let d = plan(&w, &team, &Rules::default());
        for i in 100..104 {
            assert_eq!(
                assigned(&d, i),
                Some(1),
                "the knee CTs go to the only reader"
            );
        }
        // Oldest-first by best score would give Dr 1 all twelve head CTs (score 100 > 70)
        // and leave the knees over the cap; here Dr 1 gets fewer head CTs than either
        // colleague and the knees fit under the cap.
        let heads = |r: i64| (1..=12).filter(|&i| assigned(&d, i) == Some(r)).count();
        assert!(
            heads(1) < heads(2) && heads(1) < heads(3),
            "head CTs: Dr 1 {}, Dr 2 {}, Dr 3 {}",
            heads(1),
            heads(2),
            heads(3)
        );
        assert!(d.iter().all(|(_, x)| match x {
            Decision::Assigned { why, .. } => !why.over_cap,
            Decision::Waits { .. } => false,
        }));
        // Everything was placed.
        assert!(d
            .iter()
            .all(|(_, x)| matches!(x, Decision::Assigned { .. })));
    }

    #[test]
    fn open_work_and_fairness_spread_equal_readers() {
        let team: Vec<Radiologist> = (1..=3).map(|i| rad(i, &[(Mri, Chest, 80)])).collect();
        let w: Vec<Waiting> = (1..=9)
            .map(|i| req(i, Urgency::Routine, i, Mri, &[Chest]))
            .collect();
        let d = plan(&w, &team, &Rules::default());
        for r in 1..=3 {
            let n = d
                .iter()
                .filter(|(id, _)| assigned(&d, *id) == Some(r))
                .count();
            assert_eq!(n, 3, "radiologist {r}");
        }
    }

    #[test]
    fn work_given_earlier_today_counts() {
        let mut a = rad(1, &[(Ct, Chest, 80)]);
        a.today = 10;
        let b = rad(2, &[(Ct, Chest, 80)]);
        let d = plan(
            &[req(1, Urgency::Routine, 0, Ct, &[Chest])],
            &[a, b],
            &Rules::default(),
        );
        assert_eq!(assigned(&d, 1), Some(2));
    }

    #[test]
    fn order_is_emergency_then_due_then_filed_then_id() {
        let w = vec![
            req(3, Urgency::Routine, 5, Ct, &[]),
            req(2, Urgency::Routine, 1, Ct, &[]),
            req(4, Urgency::Emergency, 900, Ct, &[]),
            req(1, Urgency::Routine, 1, Ct, &[]),
        ];
        let ids: Vec<i64> = priority_order(&w).iter().map(|&i| w[i].id).collect();
        assert_eq!(ids, [4, 1, 2, 3]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn team() -> impl Strategy<Value = Vec<Radiologist>> {
            prop::collection::vec(
                (
                    any::<bool>(),
                    0u32..12,
                    0u32..20,
                    prop::collection::vec((0usize..3, 0usize..4, 0u8..=100), 0..8),
                ),
                0..6,
            )
            .prop_map(|v| {
                v.into_iter()
                    .enumerate()
                    .map(|(i, (on_duty, open, today, scores))| Radiologist {
                        id: i as i64 + 1,
                        on_duty,
                        open,
                        today,
                        scores: scores
                            .into_iter()
                            .map(|(e, r, s)| ((Exam::ALL[e], BodyRegion::ALL[r]), s))
                            .collect(),
                    })
                    .collect()
            })
        }

        fn waiting() -> impl Strategy<Value = Vec<Waiting>> {
            prop::collection::vec(
                (
                    any::<bool>(),
                    0i64..600,
                    0usize..3,
                    prop::collection::vec(0usize..4, 0..3),
                ),
                0..30,
            )
            .prop_map(|v| {
                v.into_iter()
                    .enumerate()
                    .map(|(i, (emergency, filed, e, regions))| {
                        let u = if emergency {
                            Urgency::Emergency
                        } else {
                            Urgency::Routine
                        };
                        let mut w = req(i as i64 + 1, u, filed, Exam::ALL[e], &[]);
                        w.regions = regions.into_iter().map(|r| BodyRegion::ALL[r]).collect();
                        w
                    })
                    .collect()
            })
        }

        proptest! {
            #[test]
            fn every_decision_respects_duty_scores_and_the_cap(team in team(), w in waiting()) {
                let rules = Rules::default();
                let d = plan(&w, &team, &rules);
                prop_assert_eq!(d.len(), w.len());
                let mut open: BTreeMap<i64, u32> = team.iter().map(|r| (r.id, r.open)).collect();
                for (id, x) in &d {
                    let req = w.iter().find(|r| r.id == *id).unwrap();
                    if let Decision::Assigned { radiologist_id, why } = x {
                        let r = team.iter().find(|r| r.id == *radiologist_id).unwrap();
                        prop_assert!(r.on_duty);
                        let regions = if req.regions.is_empty() { vec![BodyRegion::Other] } else { req.regions.clone() };
                        for region in regions {
                            prop_assert!(r.scores.get(&(req.exam, region)).copied().unwrap_or(0) > 0);
                        }
                        let o = open.get_mut(radiologist_id).unwrap();
                        prop_assert_eq!(why.open, *o);
                        if req.urgency == Urgency::Routine {
                            prop_assert!(*o < rules.max_open);
                        }
                        *o += 1;
                    }
                }
                // Emergencies are planned before any routine request.
                let first_routine = d.iter().position(|(id, _)| {
                    w.iter().any(|r| r.id == *id && r.urgency == Urgency::Routine)
                });
                if let Some(p) = first_routine {
                    let routine_after = d[p..].iter().all(|(id, _)| {
                        w.iter().any(|r| r.id == *id && r.urgency == Urgency::Routine)
                    });
                    prop_assert!(routine_after);
                }
            }
        }
    }
}
