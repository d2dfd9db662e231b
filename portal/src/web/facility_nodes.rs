//! `/facility/dicom-nodes`: the AE titles and source addresses the facility sends from.

use actix_web::web;
use askama::Template;
use shared::membership::dicom_nodes::{self, DicomNode, DicomNodeForm};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::facility::own_facility;
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;
use crate::web::signin::{Empty, NoticeQuery};

#[derive(Template)]
#[template(path = "facility/nodes.html")]
struct NodesPage {
    page: Page,
    nodes: Vec<DicomNode>,
}

pub async fn list(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    let fid = own_facility(&state, &me, "dicom_node.list").await?;
    let nodes = state.db(move |c| dicom_nodes::list(c, fid)).await?;
    render(&NodesPage {
        page: Page::for_user(&state, &me, "fac.title.nodes").with_notice(q.notice.as_deref()),
        nodes,
    })
}

#[derive(Template)]
#[template(path = "facility/node_form.html")]
struct NodeFormPage {
    page: Page,
    action: String,
    node_id: Option<i64>,
    form: DicomNodeForm,
    errors: FieldErrors,
}

fn form_page(
    state: &AppState,
    me: &SignedIn,
    node_id: Option<i64>,
    form: DicomNodeForm,
    errors: FieldErrors,
    notice: Option<&str>,
) -> WebResult {
    let invalid = !errors.is_empty();
    let p = NodeFormPage {
        page: Page::for_user(
            state,
            me,
            if node_id.is_some() {
                "fac.title.node_edit"
            } else {
                "fac.title.node_new"
            },
        )
        .with_notice(notice),
        action: match node_id {
            Some(id) => format!("/facility/dicom-nodes/{id}"),
            None => "/facility/dicom-nodes".into(),
        },
        node_id,
        form,
        errors,
    };
    if invalid {
        render_invalid(&p)
    } else {
        render(&p)
    }
}

pub async fn new_form(state: web::Data<AppState>, me: SignedIn) -> WebResult {
    own_facility(&state, &me, "dicom_node.create").await?;
    let form = DicomNodeForm {
        is_enabled: true,
        ..Default::default()
    };
    form_page(&state, &me, None, form, FieldErrors::new(), None)
}

pub async fn create(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<DicomNodeForm>,
) -> WebResult {
    let fid = own_facility(&state, &me, "dicom_node.create").await?;
    let ctx = me.audit_ctx();
    let f = form.0;
    let submitted = f.clone();
    let r = state
        .db(move |c| dicom_nodes::create(c, &ctx, fid, &submitted))
        .await;
    match r {
        Ok(_) => Ok(see_other("/facility/dicom-nodes?notice=flash.created")),
        Err(WebError::Validation(errors)) => form_page(&state, &me, None, f, errors, None),
        Err(e) => Err(e),
    }
}

pub async fn edit_form(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    let fid = own_facility(&state, &me, "dicom_node.view").await?;
    let id = path.into_inner();
    let r = state
        .db(move |c| dicom_nodes::get_of_facility(c, fid, id))
        .await;
    let n = authz::found(
        &state,
        &me,
        r,
        "dicom_node.view",
        ("dicom_node", id.to_string()),
    )
    .await?;
    form_page(
        &state,
        &me,
        Some(id),
        DicomNodeForm::from_node(&n),
        FieldErrors::new(),
        q.notice.as_deref(),
    )
}

pub async fn update(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<DicomNodeForm>,
) -> WebResult {
    let fid = own_facility(&state, &me, "dicom_node.update").await?;
    let id = path.into_inner();
    let ctx = me.audit_ctx();
    let f = form.0;
    let submitted = f.clone();
    let r = state
        .db(move |c| dicom_nodes::update(c, &ctx, fid, id, &submitted))
        .await;
    match authz::found(
        &state,
        &me,
        r,
        "dicom_node.update",
        ("dicom_node", id.to_string()),
    )
    .await
    {
        Ok(_) => Ok(see_other("/facility/dicom-nodes?notice=flash.saved")),
        Err(WebError::Validation(errors)) => form_page(&state, &me, Some(id), f, errors, None),
        Err(e) => Err(e),
    }
}

pub async fn delete(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    _f: CsrfForm<Empty>,
) -> WebResult {
    let fid = own_facility(&state, &me, "dicom_node.delete").await?;
    let id = path.into_inner();
    let ctx = me.audit_ctx();
    let r = state
        .db(move |c| dicom_nodes::delete(c, &ctx, fid, id))
        .await;
    authz::found(
        &state,
        &me,
        r,
        "dicom_node.delete",
        ("dicom_node", id.to_string()),
    )
    .await?;
    Ok(see_other("/facility/dicom-nodes?notice=flash.deleted"))
}
