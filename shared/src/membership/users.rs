//! Users of a facility and their roles. People sign in; service accounts only hold API
//! tokens. Passwords are argon2id hashes; TOTP secrets are kept for verification only.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Ctx, Event};
use crate::auth::password;
use crate::db::schema::{facilities, recovery_codes, sessions, user_roles, users};
use crate::db::{self, DbConnection};
use crate::domain::{EmailList, Password, Role, UserKind, Username};
use crate::error::{Error, OptionalExt, Result};
use crate::membership::facilities::{self as fac, Facility};
use crate::validation::{self, FieldErrors};

#[derive(Queryable, Selectable, Identifiable, Debug, Clone)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct User {
    pub id: i64,
    pub facility_id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub kind: String,
    pub password_hash: Option<String>,
    pub must_change_password: bool,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub is_active: bool,
    pub last_sign_in_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl User {
    pub fn kind(&self) -> UserKind {
        UserKind::parse(&self.kind).unwrap_or(UserKind::Service)
    }
}

/// A user with roles and facility, as lists and screens show them.
#[derive(Debug, Clone)]
pub struct UserWithRoles {
    pub user: User,
    pub roles: Vec<Role>,
    pub facility: Facility,
}

impl UserWithRoles {
    pub fn roles_str(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
    pub fn has_role(&self, r: Role) -> bool {
        self.roles.contains(&r)
    }
}

/// The user form (screens and API). `password` is only read when creating a person, or when
/// an administrator resets it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UserForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default, deserialize_with = "crate::serde_util::string_list")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing)]
    pub password: String,
}

/// Who is making the change decides which roles may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granter {
    Association,
    FacilityAdmin,
}

fn validate_roles(
    e: &mut FieldErrors,
    raw: &[String],
    facility: &Facility,
    granter: Granter,
    kind: UserKind,
) -> Vec<Role> {
    let mut roles = Vec::new();
    for r in raw.iter().filter(|r| !r.is_empty()) {
        match Role::parse(r) {
            Ok(role) => {
                let allowed_here = role.allowed_in(
                    facility.kind(),
                    facility.is_requesting,
                    facility.is_supporting,
                );
                let grantable =
                    granter != Granter::FacilityAdmin || role.grantable_by_facility_admin();
                if !allowed_here || !grantable {
                    e.add("roles", "err.role_not_allowed");
                } else if kind == UserKind::Service
                    && matches!(
                        role,
                        Role::FacilityAdmin | Role::AssociationAdmin | Role::Auditor
                    )
                {
                    e.add("roles", "err.role_not_for_service");
                } else if !roles.contains(&role) {
                    roles.push(role);
                }
            }
            Err(m) => e.add("roles", m),
        }
    }
    if roles.is_empty() {
        e.add("roles", "err.role_required");
    }
    roles.sort();
    roles
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    facility_id: i64,
    username: &'a str,
    display_name: &'a str,
    email: &'a str,
    kind: &'a str,
    password_hash: Option<String>,
    must_change_password: bool,
    totp_enabled: bool,
    is_active: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Creates a person (with an initial password they must change) or a service account.
pub fn create(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    form: &UserForm,
    kind: UserKind,
    granter: Granter,
) -> Result<UserWithRoles> {
    db::write_tx(conn, |c| {
        let facility = fac::get(c, facility_id)?;
        let mut e = FieldErrors::new();
        let username = e.take("username", Username::parse(&form.username));
        let display_name = e.take(
            "display_name",
            validation::required_text(&form.display_name, 100),
        );
        let email = e.take(
            "email",
            EmailList::parse(&form.email, kind == UserKind::Person),
        );
        if let Some(em) = &email {
            if em.items().len() > 1 {
                e.add("email", "err.email");
            }
        }
        let roles = validate_roles(&mut e, &form.roles, &facility, granter, kind);
        let password = if kind == UserKind::Person {
            e.take("password", Password::parse(&form.password))
        } else {
            None
        };
        if let Some(u) = &username {
            if users::table
                .filter(users::username.eq(u.as_str()))
                .select(users::id)
                .first::<i64>(c)
                .optional()?
                .is_some()
            {
                e.add("username", "err.duplicate");
            }
        }
        if !e.is_empty() {
            return Err(Error::Validation(e));
        }
        let (Some(username), Some(display_name), Some(email)) = (username, display_name, email)
        else {
            return Err(Error::Validation(e));
        };
        let hash = match &password {
            Some(p) => Some(password::hash(p.expose())?),
            None => None,
        };
        let now = db::now();
        let user: User = diesel::insert_into(users::table)
            .values(NewUser {
                facility_id,
                username: username.as_str(),
                display_name: &display_name,
                email: &email.to_stored(),
                kind: kind.as_str(),
                password_hash: hash,
                must_change_password: kind == UserKind::Person,
                totp_enabled: false,
                is_active: true,
                created_at: now,
                updated_at: now,
            })
            .returning(users::all_columns)
            .get_result(c)?;
        set_roles(c, user.id, &roles)?;
        audit::record(
            c,
            ctx,
            Event::success("user.create")
                .object("user", user.id)
                .detail(serde_json::json!({
                    "username": user.username,
                    "facility_id": facility_id,
                    "kind": user.kind,
                    "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                })),
        )?;
        Ok(UserWithRoles {
            user,
            roles,
            facility: facility.clone(),
        })
    })
}

fn set_roles(c: &mut DbConnection, user_id: i64, roles: &[Role]) -> Result<()> {
    diesel::delete(user_roles::table.filter(user_roles::user_id.eq(user_id))).execute(c)?;
    for r in roles {
        diesel::insert_into(user_roles::table)
            .values((
                user_roles::user_id.eq(user_id),
                user_roles::role.eq(r.as_str()),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Edits name, e-mail and roles (the username is fixed once created).
pub fn update(
    conn: &mut DbConnection,
    ctx: &Ctx,
    user_id: i64,
    form: &UserForm,
    granter: Granter,
) -> Result<UserWithRoles> {
    db::write_tx(conn, |c| {
        let existing = get(c, user_id)?;
        let kind = existing.user.kind();
        let mut e = FieldErrors::new();
        let display_name = e.take(
            "display_name",
            validation::required_text(&form.display_name, 100),
        );
        let email = e.take(
            "email",
            EmailList::parse(&form.email, kind == UserKind::Person),
        );
        if let Some(em) = &email {
            if em.items().len() > 1 {
                e.add("email", "err.email");
            }
        }
        let roles = validate_roles(&mut e, &form.roles, &existing.facility, granter, kind);
        if granter == Granter::FacilityAdmin
            && existing
                .roles
                .iter()
                .any(|r| !r.grantable_by_facility_admin())
        {
            return Err(Error::NotFound);
        }
        let (Some(display_name), Some(email)) = (display_name, email) else {
            return Err(Error::Validation(e));
        };
        e.into_result()?;
        diesel::update(users::table.find(user_id))
            .set((
                users::display_name.eq(&display_name),
                users::email.eq(email.to_stored()),
                users::updated_at.eq(db::now()),
            ))
            .execute(c)?;
        set_roles(c, user_id, &roles)?;
        audit::record(
            c,
            ctx,
            Event::success("user.update")
                .object("user", user_id)
                .detail(serde_json::json!({
                    "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                })),
        )?;
        get(c, user_id)
    })
}

/// Enables or disables an account. Disabling ends its sessions at once; its API tokens stop
/// working because every use checks the account.
pub fn set_active(conn: &mut DbConnection, ctx: &Ctx, user_id: i64, active: bool) -> Result<()> {
    db::write_tx(conn, |c| {
        if ctx.actor.user_id == Some(user_id) && !active {
            return Err(Error::Conflict("err.cannot_disable_self"));
        }
        let n = diesel::update(users::table.find(user_id))
            .set((users::is_active.eq(active), users::updated_at.eq(db::now())))
            .execute(c)?;
        if n == 0 {
            return Err(Error::NotFound);
        }
        if !active {
            diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(c)?;
        }
        audit::record(
            c,
            ctx,
            Event::success(if active {
                "user.enable"
            } else {
                "user.disable"
            })
            .object("user", user_id),
        )?;
        Ok(())
    })
}

/// An administrator sets a new temporary password (the user must change it at next sign-in)
/// and, if asked, clears the second factor so the user enrols again.
pub fn admin_reset_credentials(
    conn: &mut DbConnection,
    ctx: &Ctx,
    user_id: i64,
    new_password: &str,
    reset_totp: bool,
) -> Result<()> {
    let p = Password::parse(new_password).map_err(|m| FieldErrors::single("password", m))?;
    let hash = password::hash(p.expose())?;
    db::write_tx(conn, |c| {
        let u = get(c, user_id)?;
        if u.user.kind() != UserKind::Person {
            return Err(Error::Conflict("err.service_account_no_password"));
        }
        diesel::update(users::table.find(user_id))
            .set((
                users::password_hash.eq(Some(hash.clone())),
                users::must_change_password.eq(true),
                users::updated_at.eq(db::now()),
            ))
            .execute(c)?;
        if reset_totp {
            diesel::update(users::table.find(user_id))
                .set((
                    users::totp_secret.eq(None::<String>),
                    users::totp_enabled.eq(false),
                ))
                .execute(c)?;
            diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
                .execute(c)?;
        }
        diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(c)?;
        audit::record(
            c,
            ctx,
            Event::success("user.reset_credentials")
                .object("user", user_id)
                .detail(serde_json::json!({"second_factor_reset": reset_totp})),
        )?;
        Ok(())
    })
}

pub fn roles_of(conn: &mut DbConnection, user_id: i64) -> Result<Vec<Role>> {
    let raw: Vec<String> = user_roles::table
        .filter(user_roles::user_id.eq(user_id))
        .select(user_roles::role)
        .load(conn)?;
    let mut roles: Vec<Role> = raw.iter().filter_map(|r| Role::parse(r).ok()).collect();
    roles.sort();
    Ok(roles)
}

pub fn get(conn: &mut DbConnection, user_id: i64) -> Result<UserWithRoles> {
    let (user, facility): (User, Facility) = users::table
        .inner_join(facilities::table)
        .filter(users::id.eq(user_id))
        .select((User::as_select(), Facility::as_select()))
        .first(conn)
        .found()?;
    let roles = roles_of(conn, user.id)?;
    Ok(UserWithRoles {
        user,
        roles,
        facility,
    })
}

pub fn find_by_username(conn: &mut DbConnection, username: &str) -> Result<Option<UserWithRoles>> {
    let id: Option<i64> = users::table
        .filter(users::username.eq(username.trim().to_ascii_lowercase()))
        .select(users::id)
        .first(conn)
        .optional()?;
    match id {
        Some(id) => get(conn, id).map(Some),
        None => Ok(None),
    }
}

/// Users, optionally of one facility, ordered by facility and name.
pub fn list(conn: &mut DbConnection, facility_id: Option<i64>) -> Result<Vec<UserWithRoles>> {
    let mut q = users::table
        .inner_join(facilities::table)
        .select((User::as_select(), Facility::as_select()))
        .order((facilities::name.asc(), users::username.asc()))
        .into_boxed();
    if let Some(f) = facility_id {
        q = q.filter(users::facility_id.eq(f));
    }
    let rows: Vec<(User, Facility)> = q.load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|(u, _)| u.id).collect();
    let all_roles: Vec<(i64, String)> = user_roles::table
        .filter(user_roles::user_id.eq_any(&ids))
        .select((user_roles::user_id, user_roles::role))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(user, facility)| {
            let mut roles: Vec<Role> = all_roles
                .iter()
                .filter(|(id, _)| *id == user.id)
                .filter_map(|(_, r)| Role::parse(r).ok())
                .collect();
            roles.sort();
            UserWithRoles {
                user,
                roles,
                facility,
            }
        })
        .collect())
}

/// Lets an account keep its current password (the demo's accounts).
pub fn clear_must_change_password(conn: &mut DbConnection, user_id: i64) -> Result<()> {
    diesel::update(users::table.find(user_id))
        .set(users::must_change_password.eq(false))
        .execute(conn)?;
    Ok(())
}

/// A user of `facility_id` that its facility administrator may manage. Users of other
/// facilities, and the operator's and prefecture's staff (roles a facility administrator
/// cannot grant), are `NotFound`.
pub fn get_of_facility(
    conn: &mut DbConnection,
    facility_id: i64,
    user_id: i64,
) -> Result<UserWithRoles> {
    let u = get(conn, user_id)?;
    if u.user.facility_id != facility_id || u.roles.iter().any(|r| !r.grantable_by_facility_admin())
    {
        return Err(Error::NotFound);
    }
    Ok(u)
}

/// A facility administrator edits a user of their own facility.
pub fn update_in_facility(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    user_id: i64,
    form: &UserForm,
) -> Result<UserWithRoles> {
    db::write_tx(conn, |c| {
        get_of_facility(c, facility_id, user_id)?;
        update(c, ctx, user_id, form, Granter::FacilityAdmin)
    })
}

/// A facility administrator enables or disables a user of their own facility.
pub fn set_active_in_facility(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    user_id: i64,
    active: bool,
) -> Result<()> {
    db::write_tx(conn, |c| {
        get_of_facility(c, facility_id, user_id)?;
        set_active(c, ctx, user_id, active)
    })
}

/// A facility administrator resets a person's password (and optionally second factor) in
/// their own facility. Another facility's user is `NotFound` before the password is looked
/// at.
pub fn reset_credentials_in_facility(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    user_id: i64,
    new_password: &str,
    reset_totp: bool,
) -> Result<()> {
    get_of_facility(conn, facility_id, user_id)?;
    admin_reset_credentials(conn, ctx, user_id, new_password, reset_totp)
}

/// A service account of `facility_id` (`NotFound` for people and other facilities).
pub fn get_service_account_of_facility(
    conn: &mut DbConnection,
    facility_id: i64,
    user_id: i64,
) -> Result<UserWithRoles> {
    let u = get_of_facility(conn, facility_id, user_id)?;
    if u.user.kind() != UserKind::Service {
        return Err(Error::NotFound);
    }
    Ok(u)
}
