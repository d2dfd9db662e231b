//! DICOMweb search (QIDO-RS) over the index: studies, series and instances matching a typed
//! query, restricted to the studies a caller may see. Everything comes from the index
//! tables (never from the stored files); values only ever reach SQL as bound parameters,
//! and every search is bounded by a limit.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use serde::Serialize;

use crate::db::schema::{instances, patients, series, studies};
use crate::db::DbConnection;
use crate::domain::japanese::normalise_for_search;
use crate::error::{OptionalExt, Result};
use crate::index::{Instance, Patient, Series, Study};

type Db = <DbConnection as diesel::Connection>::Backend;

/// Results per search when the caller names no limit.
pub const DEFAULT_LIMIT: i64 = 100;
/// The most results one search returns.
pub const MAX_LIMIT: i64 = 1000;
/// The furthest a search may page.
pub const MAX_OFFSET: i64 = 10_000_000;

/// Which studies a search may return: the facility's own (a requester's view) and an
/// explicit list (the studies and priors that requests made visible to a reader). Built
/// from the caller's scope by the web layer; an empty visibility finds nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    pub own_facility: Option<i64>,
    pub study_ids: Vec<i64>,
}

impl Visibility {
    fn is_empty(&self) -> bool {
        self.own_facility.is_none() && self.study_ids.is_empty()
    }
}

/// Study-level matching keys (PS3.18 10.6.1.2, Table 10.6.1-5). Lists match any of their
/// values; values with `*` or `?` match as DICOM wildcards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudyMatch {
    /// (0010,0020), exact or wildcard.
    pub patient_id: Option<String>,
    /// (0010,0010): kanji, kana or romaji, matched on all three groups through the
    /// normalised search column; part of the name is enough, `*` and `?` are wildcards.
    pub patient_name: Option<String>,
    /// (0008,0020) range, both ends inclusive, either open.
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
    /// (0008,0061): studies with a series of any of these modalities.
    pub modalities_in_study: Vec<String>,
    /// (0008,0050), exact or wildcard.
    pub accession_number: Option<String>,
    /// (0020,000D).
    pub study_uids: Vec<String>,
}

/// Series-level matching keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesMatch {
    /// (0020,000E).
    pub series_uids: Vec<String>,
    /// (0008,0060).
    pub modalities: Vec<String>,
}

/// Instance-level matching keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceMatch {
    /// (0008,0018).
    pub sop_instance_uids: Vec<String>,
    /// (0008,0016).
    pub sop_class_uids: Vec<String>,
}

/// Which page of the results: `limit` is clamped to 1..=[`MAX_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: i64,
    pub limit: i64,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl Page {
    fn bounded(self) -> Page {
        Page {
            offset: self.offset.clamp(0, MAX_OFFSET),
            limit: self.limit.clamp(1, MAX_LIMIT),
        }
    }
}

/// One page of results; `more` says that further results exist beyond it.
#[derive(Debug, Clone, Serialize)]
pub struct Found<T> {
    pub rows: Vec<T>,
    pub more: bool,
}

impl<T> Found<T> {
    fn of(mut rows: Vec<T>, limit: i64) -> Found<T> {
        let limit = usize::try_from(limit).unwrap_or(0);
        let more = rows.len() > limit;
        rows.truncate(limit);
        Found { rows, more }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StudyHit {
    pub study: Study,
    pub patient: Patient,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeriesHit {
    pub series: Series,
    pub study_uid: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceHit {
    pub instance: Instance,
    pub study_uid: String,
    pub series_uid: String,
}

/// Where a series or instance search is confined by its URL: one study (already checked
/// visible) and, for instances, one series of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Within {
    pub study_id: Option<i64>,
    pub series_id: Option<i64>,
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// A DICOM wildcard value as a LIKE pattern (escape `\`): `*` → `%`, `?` → `_`.
fn like_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '*' => out.push('%'),
            '?' => out.push('_'),
            _ => out.push(c),
        }
    }
    out
}

/// The name pattern on `patients.name_search`: the normalised value anywhere in the
/// concatenated groups, with wildcards kept.
fn name_pattern(name: &str) -> Option<String> {
    let n = normalise_for_search(name);
    let n = n.trim_matches('*');
    if n.is_empty() {
        return None;
    }
    Some(format!("%{}%", like_pattern(n)))
}

/// True when a wildcard value matches everything (`*`): no condition is needed.
fn matches_all(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c == '*')
}

/// One condition on a query whose source includes `studies` and `patients`.
type Cond<QS> = Box<dyn BoxableExpression<QS, Db, SqlType = Bool>>;

/// The conditions selecting the visible studies that match `m`, for any query joining
/// `studies` and `patients` (the study, series and instance searches share them).
fn study_conditions<QS>(vis: &Visibility, m: &StudyMatch) -> Vec<Cond<QS>>
where
    QS: 'static,
    studies::id: SelectableExpression<QS>,
    studies::facility_id: SelectableExpression<QS>,
    diesel::dsl::AssumeNotNull<studies::study_date>: SelectableExpression<QS>,
    studies::modalities: SelectableExpression<QS>,
    studies::accession_number: SelectableExpression<QS>,
    studies::study_uid: SelectableExpression<QS>,
    patients::patient_key: SelectableExpression<QS>,
    patients::name_search: SelectableExpression<QS>,
{
    let mut out: Vec<Cond<QS>> = Vec::new();
    out.push(match (vis.own_facility, vis.study_ids.is_empty()) {
        (Some(f), true) => Box::new(studies::facility_id.eq(f)),
        (Some(f), false) => Box::new(
            studies::facility_id
                .eq(f)
                .or(studies::id.eq_any(vis.study_ids.clone())),
        ),
        (None, _) => Box::new(studies::id.eq_any(vis.study_ids.clone())),
    });
    if let Some(pid) = m.patient_id.as_deref().filter(|s| !matches_all(s)) {
        out.push(if has_wildcard(pid) {
            Box::new(patients::patient_key.like(like_pattern(pid)).escape('\\'))
        } else {
            Box::new(patients::patient_key.eq(pid.to_owned()))
        });
    }
    if let Some(pattern) = m.patient_name.as_deref().and_then(name_pattern) {
        out.push(Box::new(patients::name_search.like(pattern).escape('\\')));
    }
    if let Some(d) = m.date_from {
        out.push(Box::new(studies::study_date.assume_not_null().ge(d)));
    }
    if let Some(d) = m.date_to {
        out.push(Box::new(studies::study_date.assume_not_null().le(d)));
    }
    // `studies.modalities` holds the study's modalities separated by single spaces.
    let mut any_modality: Option<Cond<QS>> = None;
    for modality in &m.modalities_in_study {
        let word = format!("% {} %", like_pattern(modality));
        let c: Cond<QS> = Box::new(
            " ".into_sql::<Text>()
                .concat(studies::modalities)
                .concat(" ")
                .like(word)
                .escape('\\'),
        );
        any_modality = Some(match any_modality {
            None => c,
            Some(a) => Box::new(a.or(c)),
        });
    }
    if let Some(c) = any_modality {
        out.push(c);
    }
    if let Some(acc) = m.accession_number.as_deref().filter(|s| !matches_all(s)) {
        out.push(if has_wildcard(acc) {
            Box::new(
                studies::accession_number
                    .like(like_pattern(acc))
                    .escape('\\'),
            )
        } else {
            Box::new(studies::accession_number.eq(acc.to_owned()))
        });
    }
    if !m.study_uids.is_empty() {
        out.push(Box::new(studies::study_uid.eq_any(m.study_uids.clone())));
    }
    out
}

/// Visible studies matching `m`, newest study date first.
pub fn studies(
    conn: &mut DbConnection,
    vis: &Visibility,
    m: &StudyMatch,
    page: Page,
) -> Result<Found<StudyHit>> {
    let page = page.bounded();
    if vis.is_empty() {
        return Ok(Found::of(Vec::new(), page.limit));
    }
    let mut q = studies::table.inner_join(patients::table).into_boxed();
    for c in study_conditions(vis, m) {
        q = q.filter(c);
    }
    let rows: Vec<(Study, Patient)> = q
        .select((Study::as_select(), Patient::as_select()))
        .order((
            studies::study_date.desc(),
            studies::study_time.desc(),
            studies::id.desc(),
        ))
        .offset(page.offset)
        .limit(page.limit + 1)
        .load(conn)?;
    Ok(Found::of(
        rows.into_iter()
            .map(|(study, patient)| StudyHit { study, patient })
            .collect(),
        page.limit,
    ))
}

/// Series of visible studies matching `m` and `s` (within one study when `within` says so),
/// in study then series-number order.
pub fn series(
    conn: &mut DbConnection,
    vis: &Visibility,
    within: Within,
    m: &StudyMatch,
    s: &SeriesMatch,
    page: Page,
) -> Result<Found<SeriesHit>> {
    let page = page.bounded();
    if vis.is_empty() {
        return Ok(Found::of(Vec::new(), page.limit));
    }
    let mut q = series::table
        .inner_join(studies::table.inner_join(patients::table))
        .into_boxed();
    for c in study_conditions(vis, m) {
        q = q.filter(c);
    }
    if let Some(id) = within.study_id {
        q = q.filter(series::study_id.eq(id));
    }
    if let Some(id) = within.series_id {
        q = q.filter(series::id.eq(id));
    }
    if !s.series_uids.is_empty() {
        q = q.filter(series::series_uid.eq_any(s.series_uids.clone()));
    }
    if !s.modalities.is_empty() {
        q = q.filter(series::modality.eq_any(s.modalities.clone()));
    }
    let rows: Vec<(Series, String)> = q
        .select((Series::as_select(), studies::study_uid))
        .order((
            studies::study_date.desc(),
            studies::id.desc(),
            series::series_number.asc(),
            series::id.asc(),
        ))
        .offset(page.offset)
        .limit(page.limit + 1)
        .load(conn)?;
    Ok(Found::of(
        rows.into_iter()
            .map(|(series, study_uid)| SeriesHit { series, study_uid })
            .collect(),
        page.limit,
    ))
}

/// Instances of visible studies matching `m`, `s` and `i` (within one study or one series
/// when `within` says so), in study, series and instance-number order.
pub fn instances(
    conn: &mut DbConnection,
    vis: &Visibility,
    within: Within,
    m: &StudyMatch,
    s: &SeriesMatch,
    i: &InstanceMatch,
    page: Page,
) -> Result<Found<InstanceHit>> {
    let page = page.bounded();
    if vis.is_empty() {
        return Ok(Found::of(Vec::new(), page.limit));
    }
    let mut q = instances::table
        .inner_join(series::table)
        .inner_join(studies::table.on(studies::id.eq(instances::study_id)))
        .inner_join(patients::table.on(patients::id.eq(studies::patient_id)))
        .into_boxed();
    for c in study_conditions(vis, m) {
        q = q.filter(c);
    }
    if let Some(id) = within.study_id {
        q = q.filter(instances::study_id.eq(id));
    }
    if let Some(id) = within.series_id {
        q = q.filter(instances::series_id.eq(id));
    }
    if !s.series_uids.is_empty() {
        q = q.filter(series::series_uid.eq_any(s.series_uids.clone()));
    }
    if !s.modalities.is_empty() {
        q = q.filter(series::modality.eq_any(s.modalities.clone()));
    }
    if !i.sop_instance_uids.is_empty() {
        q = q.filter(instances::sop_instance_uid.eq_any(i.sop_instance_uids.clone()));
    }
    if !i.sop_class_uids.is_empty() {
        q = q.filter(instances::sop_class_uid.eq_any(i.sop_class_uids.clone()));
    }
    let rows: Vec<(Instance, String, String)> = q
        .select((
            Instance::as_select(),
            studies::study_uid,
            series::series_uid,
        ))
        .order((
            studies::study_date.desc(),
            studies::id.desc(),
            series::series_number.asc(),
            series::id.asc(),
            instances::instance_number.asc(),
            instances::id.asc(),
        ))
        .offset(page.offset)
        .limit(page.limit + 1)
        .load(conn)?;
    Ok(Found::of(
        rows.into_iter()
            .map(|(instance, study_uid, series_uid)| InstanceHit {
                instance,
                study_uid,
                series_uid,
            })
            .collect(),
        page.limit,
    ))
}

/// The series with this Series Instance UID in the study (already checked visible), or
/// `NotFound`.
pub fn series_of_study(conn: &mut DbConnection, study_id: i64, series_uid: &str) -> Result<Series> {
    series::table
        .filter(series::study_id.eq(study_id))
        .filter(series::series_uid.eq(series_uid))
        .select(Series::as_select())
        .first(conn)
        .found()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_become_escaped_like_patterns() {
        assert_eq!(like_pattern("AB*"), "AB%");
        assert_eq!(like_pattern("A?C"), "A_C");
        assert_eq!(like_pattern("50%_x\\"), "50\\%\\_x\\\\");
        assert!(matches_all("**"));
        assert!(!matches_all(""));
        assert!(!matches_all("A*"));
    }

    #[test]
    fn names_match_any_group_in_part() {
        assert_eq!(name_pattern("山田^太郎").as_deref(), Some("%山田太郎%"));
        assert_eq!(name_pattern("やまだ*").as_deref(), Some("%ヤマダ%"));
        assert_eq!(name_pattern("Yama*"), Some("%yama%".to_owned()));
        assert_eq!(name_pattern("*"), None);
        assert_eq!(name_pattern(" ^ "), None);
    }

    #[test]
    fn pages_are_bounded() {
        let p = Page {
            offset: -5,
            limit: 5000,
        }
        .bounded();
        assert_eq!((p.offset, p.limit), (0, MAX_LIMIT));
        let f = Found::of(vec![1, 2, 3], 2);
        assert_eq!(f.rows, vec![1, 2]);
        assert!(f.more);
        assert!(!Found::of(vec![1, 2], 2).more);
    }
}
