//! Field-level validation errors, shown next to the field on screens and as JSON in the API.
//! Messages are translation keys (`err.*`), so the web layer can say them in Japanese or
//! English.

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FieldErrors(Vec<FieldError>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: &'static str,
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: &'static str, message: &'static str) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    pub fn add(&mut self, field: &'static str, message: &'static str) {
        if !self.0.iter().any(|e| e.field == field) {
            self.0.push(FieldError { field, message });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&'static str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message)
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// `Ok(())` when nothing was added, else `Err(self)`.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// Records the error of a parse and returns its value, if any.
    pub fn take<T>(&mut self, field: &'static str, r: Result<T, &'static str>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.add(field, m);
                None
            }
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// A required single-line text field: trimmed, not empty, at most `max` characters, no
/// control characters.
pub fn required_text(value: &str, max: usize) -> Result<String, &'static str> {
    let v = value.trim();
    if v.is_empty() {
        return Err("err.required");
    }
    optional_text(v, max)
}

/// An optional single-line text field.
pub fn optional_text(value: &str, max: usize) -> Result<String, &'static str> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err("err.too_long");
    }
    if v.chars().any(char::is_control) {
        return Err("err.control_chars");
    }
    Ok(v.to_owned())
}

/// Optional multi-line text (newlines allowed, other control characters not).
pub fn optional_multiline(value: &str, max: usize) -> Result<String, &'static str> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err("err.too_long");
    }
    if v.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err("err.control_chars");
    }
    Ok(v.replace("\r\n", "\n"))
}
