//! Small serde helpers for HTML forms.

use serde::{Deserialize, Deserializer};

/// An HTML checkbox: present ("on", "true", "1", "yes") is true, absent is false.
pub fn checkbox<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        B(bool),
        S(String),
    }
    Ok(match V::deserialize(d)? {
        V::B(b) => b,
        V::S(s) => matches!(s.as_str(), "on" | "true" | "1" | "yes"),
    })
}

/// Repeated form fields (`roles=a&roles=b`) or a JSON array, as a list of strings.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        One(String),
        Many(Vec<String>),
    }
    Ok(match V::deserialize(d)? {
        V::One(s) => vec![s],
        V::Many(v) => v,
    })
}
