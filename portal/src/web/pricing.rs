//! Price tables (料金表) on screen, and the supporting facility's reading policy.
//!
//! The table screens — the table in force with its versions, one version, and the editor
//! that saves a new version (with a preview on an example study) — are mounted twice: under
//! `/pricing` for the coordinator of a supporting facility (its own table) and under
//! `/admin/pricing` for the association administrator (the default table, `owner = None`).
//! The [`Scope`] in each mount's app data tells the shared handlers whose table it is.
//! A requester sees a contracted facility's table read-only at
//! `/directory/{facility_id}/prices`. Anyone else, and any version of another owner, gets a
//! 404 and a denied audit event.

mod editor;
mod policy;
mod view;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use shared::auth::Denied;
use shared::domain::Role;
use shared::membership::contracts;
use shared::reading::pricing::{self as tables, PriceTableForm};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;
use crate::web::signin::NoticeQuery;

use editor::{Action, Example, Posted};
use view::{TableView, VersionRow};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/pricing/pricing.css", web::get().to(css))
        .service(
            web::scope("/pricing")
                .app_data(web::Data::new(Scope::Facility))
                .configure(table_routes),
        )
        .service(
            web::scope("/admin/pricing")
                .app_data(web::Data::new(Scope::Association))
                .configure(table_routes),
        )
        .route(
            "/directory/{facility_id}/prices",
            web::get().to(directory_prices),
        )
        .route("/facility/reading-policy", web::get().to(policy::form))
        .route("/facility/reading-policy", web::post().to(policy::save));
}

/// The table screens, the same for both owners.
fn table_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(show))
        .route("/edit", web::get().to(edit_form))
        .route("/edit", web::post().to(edit))
        .route("/versions/{id}", web::get().to(version));
}

/// Which owner's table a mount of the table screens is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The signed-in coordinator's supporting facility.
    Facility,
    /// The association's default table.
    Association,
}

/// The owner of the table on screen, once the viewer has been allowed.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    scope: Scope,
    /// `None`: the association's default table.
    id: Option<i64>,
}

impl Owner {
    pub fn base(self) -> &'static str {
        match self.scope {
            Scope::Facility => "/pricing",
            Scope::Association => "/admin/pricing",
        }
    }

    fn title_key(self) -> &'static str {
        match self.scope {
            Scope::Facility => "pricing.title.facility",
            Scope::Association => "pricing.title.association",
        }
    }

    fn edit_title_key(self) -> &'static str {
        match self.scope {
            Scope::Facility => "pricing.title.edit",
            Scope::Association => "pricing.title.edit_default",
        }
    }
}

/// The coordinator of a supporting facility keeps its price table and reading policy.
pub fn coordinator_check(me: &SignedIn) -> Result<(), Denied> {
    if me.principal.has(Role::Coordinator) && me.principal.facility_is_supporting {
        Ok(())
    } else {
        Err(Denied)
    }
}

/// Lets the viewer in for `scope` (or answers an audited 404) and names the owner.
async fn owner(
    state: &AppState,
    me: &SignedIn,
    scope: Scope,
    action: &'static str,
    object: Option<(&'static str, String)>,
) -> Result<Owner, WebError> {
    let (check, id) = match scope {
        Scope::Facility => (coordinator_check(me), Some(me.principal.facility_id)),
        Scope::Association => (me.principal.require_association_admin(), None),
    };
    authz::allow(state, me, check, action, object).await?;
    Ok(Owner { scope, id })
}

#[derive(Template)]
#[template(path = "pricing/show.html")]
struct ShowPage {
    page: Page,
    base: &'static str,
    is_default_owner: bool,
    table: Option<TableView>,
    /// The table shown is the association's default: the facility has none in force.
    showing_default: bool,
    versions: Vec<VersionRow>,
}

/// `GET …/pricing`: the table in force and the owner's versions.
async fn show(
    state: web::Data<AppState>,
    me: SignedIn,
    scope: web::Data<Scope>,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    let owner = owner(&state, &me, **scope, "price_table.view", None).await?;
    let now = state.clock.now();
    let id = owner.id;
    let (current, default, versions) = state
        .db(move |c| {
            let current = tables::own_in_force(c, id, now)?;
            let default = match (&current, id) {
                (None, Some(_)) => tables::own_in_force(c, None, now)?,
                _ => None,
            };
            Ok((current, default, tables::versions(c, id)?))
        })
        .await?;
    let page = Page::for_user(&state, &me, owner.title_key()).with_notice(q.notice.as_deref());
    let in_force = current.as_ref().map(|v| v.table.id);
    let showing_default = current.is_none() && default.is_some();
    let table = current.or(default).map(|v| view::table(&page, &v));
    let versions = view::version_rows(&page, &versions, in_force, now, owner.base());
    render(&ShowPage {
        base: owner.base(),
        is_default_owner: owner.id.is_none(),
        table,
        showing_default,
        versions,
        page,
    })
}

#[derive(Template)]
#[template(path = "pricing/version.html")]
struct VersionPage {
    page: Page,
    base: &'static str,
    table: TableView,
    state_key: &'static str,
}

/// `GET …/pricing/versions/{id}`: one of the owner's versions.
async fn version(
    state: web::Data<AppState>,
    me: SignedIn,
    scope: web::Data<Scope>,
    path: web::Path<String>,
) -> WebResult {
    let raw = path.into_inner();
    let object = ("price_table", raw.chars().take(40).collect::<String>());
    let owner = owner(
        &state,
        &me,
        **scope,
        "price_table.view",
        Some(object.clone()),
    )
    .await?;
    let Some(id) = raw.parse::<i64>().ok().filter(|id| *id > 0) else {
        authz::deny(&state, &me, "price_table.view", Some(object)).await?;
        return Err(WebError::NotFound);
    };
    let now = state.clock.now();
    let owner_id = owner.id;
    let r = state
        .db(move |c| {
            let v = tables::get_version(c, id)?;
            if v.table.facility_id != owner_id {
                return Err(shared::Error::NotFound);
            }
            let in_force = tables::own_in_force(c, owner_id, now)?.map(|v| v.table.id);
            Ok((v, in_force))
        })
        .await;
    let (v, in_force) = authz::found(&state, &me, r, "price_table.view", object).await?;
    let page = Page::for_user(&state, &me, "pricing.title.version");
    render(&VersionPage {
        base: owner.base(),
        state_key: view::state_key(&v.table, in_force, now),
        table: view::table(&page, &v),
        page,
    })
}

/// `GET …/pricing/edit`: a new version, starting from the table in force (a facility
/// without one starts from the association's default), else blank.
async fn edit_form(state: web::Data<AppState>, me: SignedIn, scope: web::Data<Scope>) -> WebResult {
    let owner = owner(&state, &me, **scope, "price_table.edit", None).await?;
    let now = state.clock.now();
    let id = owner.id;
    let start = state
        .db(move |c| match id {
            Some(f) => tables::in_force_for(c, f, now),
            None => tables::own_in_force(c, None, now),
        })
        .await?;
    let form = start
        .as_ref()
        .map(PriceTableForm::from_version)
        .unwrap_or_else(PriceTableForm::blank);
    let page = Page::for_user(&state, &me, owner.edit_title_key());
    render(&editor::page(
        page,
        owner,
        form,
        Example::default(),
        None,
        FieldErrors::new(),
    ))
}

/// `POST …/pricing/edit`: `action=preview` prices the example study on the unsaved form;
/// `action=save` creates the new version (audited) and returns to the table. Invalid input
/// is shown next to its field or row (422) and nothing is written.
async fn edit(
    state: web::Data<AppState>,
    me: SignedIn,
    scope: web::Data<Scope>,
    form: CsrfForm<Vec<(String, String)>>,
) -> WebResult {
    let owner = owner(&state, &me, **scope, "price_table.create", None).await?;
    let posted = Posted::from_pairs(form.0);
    let checked = editor::check(&posted.form, state.clock.now());
    let example = Example::from_form(&posted.form);
    let page = Page::for_user(&state, &me, owner.edit_title_key());
    if posted.action == Action::Save {
        return match checked {
            Ok((v, from)) => {
                let ctx = me.audit_ctx();
                let id = owner.id;
                state
                    .db(move |c| tables::create_version(c, &ctx, id, from, &v))
                    .await?;
                Ok(see_other(&format!("{}?notice=flash.saved", owner.base())))
            }
            Err(errors) => render_invalid(&editor::page(
                page,
                owner,
                posted.form,
                example,
                None,
                errors,
            )),
        };
    }
    let mut errors = FieldErrors::new();
    let input = example.input(&mut errors);
    let quote = match (&checked, input) {
        (Ok((v, _)), Some(input)) => match editor::preview(v, &input) {
            Ok(q) => Some(q),
            Err((field, message)) => {
                errors.add(field, message);
                None
            }
        },
        _ => None,
    };
    if let Err(e) = &checked {
        editor::merge(&mut errors, e);
    }
    let p = editor::page(page, owner, posted.form, example, quote.as_ref(), errors);
    if p.errors.is_empty() {
        render(&p)
    } else {
        render_invalid(&p)
    }
}

#[derive(Template)]
#[template(path = "pricing/directory.html")]
struct DirectoryPage {
    page: Page,
    facility_name: String,
    table: Option<TableView>,
    /// The facility has no table of its own in force: the association's default applies.
    is_default: bool,
}

/// `GET /directory/{facility_id}/prices`: the table in force for requests to a supporting
/// facility, for a requester whose facility has a contract with it today.
async fn directory_prices(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
) -> WebResult {
    let raw = path.into_inner();
    let object = ("facility", raw.chars().take(40).collect::<String>());
    let id = raw.parse::<i64>().ok().filter(|id| *id > 0);
    let check = match id {
        Some(_) if me.principal.is_requester() && me.principal.facility_is_requesting => Ok(()),
        _ => Err(Denied),
    };
    authz::allow(&state, &me, check, "price_table.view", Some(object.clone())).await?;
    let id = id.ok_or(WebError::NotFound)?;
    let mine = me.principal.facility_id;
    let now = state.clock.now();
    let today = radvision::core::calendar::to_jst(now).date();
    let r = state
        .db(move |c| {
            let entry = contracts::directory(c, mine, today)?
                .into_iter()
                .find(|e| e.facility_id == id)
                .ok_or(shared::Error::NotFound)?;
            Ok((entry, tables::in_force_for(c, id, now)?))
        })
        .await;
    let (entry, v) = authz::found(&state, &me, r, "price_table.view", object).await?;
    let page = Page::for_user(&state, &me, "pricing.title.directory");
    render(&DirectoryPage {
        facility_name: entry.name,
        is_default: v.as_ref().is_some_and(|v| v.table.facility_id.is_none()),
        table: v.map(|v| view::table(&page, &v)),
        page,
    })
}

const PRICING_CSS: &str = include_str!("../../../templates/pricing/pricing.css");

/// `GET /pricing/pricing.css`: the price-table screens' styles.
async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(PRICING_CSS)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use shared::domain::{BodyRegion, Category, Exam, Rounding};
    use shared::reading::pricing::ITEM_COLUMNS;

    use super::view::{category_key, exam_key, rounding_key};
    use crate::i18n::{Lang, Messages};

    /// Keys built at run time (not seen by the i18n test) exist in both languages.
    #[test]
    fn computed_keys_exist() {
        let m = Messages::load().unwrap();
        let mut keys: Vec<String> = Vec::new();
        keys.extend(Category::ALL.iter().map(|c| category_key(*c).to_owned()));
        keys.extend(Exam::ALL.iter().map(|e| exam_key(*e).to_owned()));
        keys.extend(Rounding::ALL.iter().map(|r| rounding_key(*r).to_owned()));
        keys.extend(ITEM_COLUMNS.iter().map(|c| format!("pricing.col.{c}")));
        keys.extend(
            BodyRegion::ALL
                .iter()
                .map(|r| format!("request.region.{}", r.as_str())),
        );
        for line in [
            "base",
            "extra_body_parts",
            "extra_images",
            "emergency",
            "after_hours",
            "comparison",
        ] {
            keys.push(format!("request.line.{line}"));
        }
        for k in &keys {
            for lang in [Lang::Ja, Lang::En] {
                assert_ne!(m.get(lang, k), k.as_str(), "missing {k} ({lang:?})");
            }
        }
    }
}
