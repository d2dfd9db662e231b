//! Membership vocabulary: facility kinds and states, user roles, and contact details.

use serde::{Deserialize, Serialize};

string_enum! {
    /// What a member facility is. The operator (the medical association's office) and the
    /// prefecture are facilities too, so that every user belongs to exactly one facility.
    FacilityKind {
        Clinic => "clinic",
        Hospital => "hospital",
        Operator => "operator",
        Prefecture => "prefecture",
    }
}

string_enum! {
    /// Membership state. Only `active` facilities' users can sign in and their DICOM nodes
    /// send; `suspended` blocks both at once.
    FacilityStatus {
        Applied => "applied",
        Active => "active",
        Suspended => "suspended",
        Withdrawn => "withdrawn",
    }
}

impl FacilityStatus {
    /// The transitions the medical association may make.
    pub fn can_become(self, next: FacilityStatus) -> bool {
        use FacilityStatus::*;
        matches!(
            (self, next),
            (Applied, Active)
                | (Applied, Withdrawn)
                | (Active, Suspended)
                | (Active, Withdrawn)
                | (Suspended, Active)
                | (Suspended, Withdrawn)
        )
    }
}

string_enum! {
    /// A user's role. A user may hold several (e.g. radiologist and coordinator).
    Role {
        /// 依頼医: requesting physician.
        Physician => "physician",
        /// 診療放射線技師: radiographer at a requesting facility.
        Radiographer => "radiographer",
        /// 読影医: radiologist at a supporting facility.
        Radiologist => "radiologist",
        /// 配分担当: assigns requests at a supporting facility.
        Coordinator => "coordinator",
        /// Manages the facility's users and DICOM nodes (no patient data).
        FacilityAdmin => "facility_admin",
        /// 医師会・事務局: administers membership (no images, no report text).
        AssociationAdmin => "association_admin",
        /// 県: audits usage and the audit trail.
        Auditor => "auditor",
    }
}

impl Role {
    /// Requesters file read requests and see their facility's studies.
    pub fn is_requester(self) -> bool {
        matches!(self, Role::Physician | Role::Radiographer)
    }

    /// Whether a facility of this kind and these capabilities may have users with this role.
    pub fn allowed_in(self, kind: FacilityKind, requesting: bool, supporting: bool) -> bool {
        match self {
            Role::Physician | Role::Radiographer => {
                requesting && matches!(kind, FacilityKind::Clinic | FacilityKind::Hospital)
            }
            Role::Radiologist | Role::Coordinator => {
                supporting && matches!(kind, FacilityKind::Clinic | FacilityKind::Hospital)
            }
            Role::FacilityAdmin => true,
            Role::AssociationAdmin => kind == FacilityKind::Operator,
            Role::Auditor => kind == FacilityKind::Prefecture,
        }
    }

    /// Roles a facility administrator may grant (never the operator's or prefecture's).
    pub fn grantable_by_facility_admin(self) -> bool {
        !matches!(self, Role::AssociationAdmin | Role::Auditor)
    }
}

string_enum! {
    /// A person signs in; a service account only uses API tokens.
    UserKind {
        Person => "person",
        Service => "service",
    }
}

/// A sign-in name: 3-64 characters of ASCII letters, digits, `.`, `_`, `-`, `@`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        if s.is_empty() {
            return Err("err.required");
        }
        if s.len() < 3 {
            return Err("err.too_short");
        }
        if s.len() > 64 {
            return Err("err.too_long");
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        {
            return Err("err.username_chars");
        }
        Ok(Username(s.to_ascii_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A new password: 12-256 characters, not all the same character.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    pub const MIN_CHARS: usize = 12;

    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let n = s.chars().count();
        if n == 0 {
            return Err("err.required");
        }
        if n < Self::MIN_CHARS {
            return Err("err.password_short");
        }
        if n > 256 {
            return Err("err.too_long");
        }
        let mut chars = s.chars();
        if let Some(first) = chars.next() {
            if chars.all(|c| c == first) {
                return Err("err.password_weak");
            }
        }
        Ok(Password(s.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// One or more e-mail addresses, one per line or separated by commas; stored one per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailList(Vec<String>);

impl EmailList {
    pub const MAX: usize = 10;

    pub fn parse(s: &str, required: bool) -> Result<Self, &'static str> {
        let items: Vec<String> = s
            .split([',', '\n', '\r', ';'])
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect();
        if items.is_empty() && required {
            return Err("err.required");
        }
        if items.len() > Self::MAX {
            return Err("err.too_many");
        }
        for i in &items {
            if i.len() > 254 || !email_address::EmailAddress::is_valid(i) {
                return Err("err.email");
            }
        }
        Ok(EmailList(items))
    }
    pub fn to_stored(&self) -> String {
        self.0.join("\n")
    }
    pub fn items(&self) -> &[String] {
        &self.0
    }
}

/// A Japanese phone number as written: digits, hyphens, parentheses, spaces and a leading +.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Phone(String::new()));
        }
        let digits = s.chars().filter(char::is_ascii_digit).count();
        let ok = s.chars().enumerate().all(|(i, c)| {
            c.is_ascii_digit() || matches!(c, '-' | '(' | ')' | ' ') || (i == 0 && c == '+')
        });
        if !ok || !(6..=15).contains(&digits) || s.len() > 24 {
            return Err("err.phone");
        }
        Ok(Phone(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_transitions() {
        use FacilityStatus::*;
        assert!(Applied.can_become(Active));
        assert!(Active.can_become(Suspended));
        assert!(Suspended.can_become(Active));
        assert!(!Withdrawn.can_become(Active));
        assert!(!Active.can_become(Applied));
        assert!(!Active.can_become(Active));
    }

    #[test]
    fn roles_fit_facilities() {
        use FacilityKind::*;
        assert!(Role::Physician.allowed_in(Clinic, true, false));
        assert!(!Role::Physician.allowed_in(Hospital, false, true));
        assert!(Role::Radiologist.allowed_in(Hospital, false, true));
        assert!(!Role::Radiologist.allowed_in(Clinic, true, false));
        assert!(!Role::AssociationAdmin.allowed_in(Hospital, true, true));
        assert!(Role::AssociationAdmin.allowed_in(Operator, false, false));
        assert!(Role::Auditor.allowed_in(Prefecture, false, false));
        assert!(!Role::Auditor.grantable_by_facility_admin());
    }

    #[test]
    fn role_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), *r);
        }
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn usernames() {
        assert_eq!(
            Username::parse(" Dr.Tanaka ").unwrap().as_str(),
            "dr.tanaka"
        );
        assert_eq!(Username::parse("ab"), Err("err.too_short"));
        assert_eq!(Username::parse("田中"), Err("err.username_chars"));
        assert_eq!(Username::parse(&"a".repeat(65)), Err("err.too_long"));
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("correct horse battery").is_ok());
        assert_eq!(Password::parse("short").unwrap_err(), "err.password_short");
        assert_eq!(
            Password::parse("aaaaaaaaaaaaaa").unwrap_err(),
            "err.password_weak"
        );
        assert!(
            !format!("{:?}", Password::parse("correct horse battery").unwrap()).contains("horse")
        );
    }

    #[test]
    fn emails() {
        let l = EmailList::parse("a@example.jp, b@example.jp\nc@example.jp", true).unwrap();
        assert_eq!(l.items().len(), 3);
        assert_eq!(EmailList::parse("", true).unwrap_err(), "err.required");
        assert!(EmailList::parse("", false).unwrap().items().is_empty());
        assert_eq!(
            EmailList::parse("not-an-email", true).unwrap_err(),
            "err.email"
        );
        assert_eq!(
            EmailList::parse("a@b.jp\r\nBcc: x@y.jp", true).unwrap_err(),
            "err.email"
        );
    }

    #[test]
    fn phones() {
        assert!(Phone::parse("087-123-4567").is_ok());
        assert!(Phone::parse("+81 87 123 4567").is_ok());
        assert!(Phone::parse("").is_ok());
        assert!(Phone::parse("call me").is_err());
        assert!(Phone::parse("12").is_err());
    }
}
