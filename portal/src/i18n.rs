//! Translations: Japanese first, English available. Messages live in
//! `templates/i18n/{ja,en}.toml` and `templates/i18n/{ja,en}/*.toml` (one file per area) as
//! flat `"key" = "text"` tables, compiled in; a key defined twice is an error.

use std::collections::HashMap;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// The Japanese message files (name, content).
pub const JA_FILES: &[(&str, &str)] = &[
    ("ja.toml", include_str!("../../templates/i18n/ja.toml")),
    (
        "ja/requests.toml",
        include_str!("../../templates/i18n/ja/requests.toml"),
    ),
    (
        "ja/pricing.toml",
        include_str!("../../templates/i18n/ja/pricing.toml"),
    ),
    (
        "ja/send.toml",
        include_str!("../../templates/i18n/ja/send.toml"),
    ),
    (
        "ja/viewer.toml",
        include_str!("../../templates/i18n/ja/viewer.toml"),
    ),
    (
        "ja/reports.toml",
        include_str!("../../templates/i18n/ja/reports.toml"),
    ),
    (
        "ja/worklist.toml",
        include_str!("../../templates/i18n/ja/worklist.toml"),
    ),
];
/// The English message files, in step with [`JA_FILES`].
pub const EN_FILES: &[(&str, &str)] = &[
    ("en.toml", include_str!("../../templates/i18n/en.toml")),
    (
        "en/requests.toml",
        include_str!("../../templates/i18n/en/requests.toml"),
    ),
    (
        "en/pricing.toml",
        include_str!("../../templates/i18n/en/pricing.toml"),
    ),
    (
        "en/send.toml",
        include_str!("../../templates/i18n/en/send.toml"),
    ),
    (
        "en/viewer.toml",
        include_str!("../../templates/i18n/en/viewer.toml"),
    ),
    (
        "en/reports.toml",
        include_str!("../../templates/i18n/en/reports.toml"),
    ),
    (
        "en/worklist.toml",
        include_str!("../../templates/i18n/en/worklist.toml"),
    ),
];

#[derive(Debug)]
pub struct Messages {
    ja: HashMap<String, String>,
    en: HashMap<String, String>,
}

fn parse(src: &str, name: &str) -> Result<HashMap<String, String>, shared::Error> {
    toml::from_str(src).map_err(|e| shared::Error::Config(format!("translations {name}: {e}")))
}

fn parse_all(files: &[(&str, &str)]) -> Result<HashMap<String, String>, shared::Error> {
    let mut all = HashMap::new();
    for (name, src) in files {
        for (k, v) in parse(src, name)? {
            if all.contains_key(&k) {
                return Err(shared::Error::Config(format!(
                    "translations {name}: key {k} is defined twice"
                )));
            }
            all.insert(k, v);
        }
    }
    Ok(all)
}

impl Messages {
    pub fn load() -> Result<Self, shared::Error> {
        Ok(Messages {
            ja: parse_all(JA_FILES)?,
            en: parse_all(EN_FILES)?,
        })
    }

    /// The text for `key`; an unknown key shows itself (and a test catches it).
    pub fn get<'a>(&'a self, lang: Lang, key: &'a str) -> &'a str {
        let table = match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        };
        table.get(key).map(String::as_str).unwrap_or(key)
    }

    pub fn keys(&self, lang: Lang) -> Vec<&str> {
        let table = match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        };
        table.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        let m = Messages::load().unwrap();
        let mut ja = m.keys(Lang::Ja);
        let mut en = m.keys(Lang::En);
        ja.sort();
        en.sort();
        let only_ja: Vec<_> = ja.iter().filter(|k| !en.contains(k)).collect();
        let only_en: Vec<_> = en.iter().filter(|k| !ja.contains(k)).collect();
        assert!(
            only_ja.is_empty() && only_en.is_empty(),
            "ja only: {only_ja:?}, en only: {only_en:?}"
        );
    }

    /// Every key a template or the code asks for: calls of `t`, and literal err/flash/role/status/kind keys.
    /// exists.
    #[test]
    fn every_used_key_exists() {
        let m = Messages::load().unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut missing = Vec::new();
        let mut files = Vec::new();
        for dir in ["templates", "portal/src", "shared/src", "radvision/src"] {
            collect(&root.join(dir), &mut files);
        }
        let re_t = regex_lite("t(\"");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for key in re_t(&text) {
                if !m.ja.contains_key(&key) {
                    missing.push(format!("{}: {key}", f.display()));
                }
            }
            for prefix in ["\"err.", "\"flash.", "\"role.", "\"status.", "\"kind."] {
                let mut rest = text.as_str();
                while let Some(i) = rest.find(prefix) {
                    let after = &rest[i + 1..];
                    let end = after.find('"').unwrap_or(0);
                    let key = &after[..end];
                    if !key.ends_with('.') && !key.contains(' ') && !m.ja.contains_key(key) {
                        missing.push(format!("{}: {key}", f.display()));
                    }
                    rest = &after[end..];
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(
            missing.is_empty(),
            "missing translations:\n{}",
            missing.join("\n")
        );
    }

    fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    collect(&p, out);
                } else if matches!(
                    p.extension().and_then(|x| x.to_str()),
                    Some("rs" | "html" | "txt")
                ) {
                    out.push(p);
                }
            }
        }
    }

    /// Finds calls of `t` with a string-literal key.
    fn regex_lite(open: &'static str) -> impl Fn(&str) -> Vec<String> {
        move |text: &str| {
            let mut out = Vec::new();
            let mut rest = text;
            while let Some(i) = rest.find(open) {
                // Only a call of `t` itself (`page.t(`), not `object(` or `BadRequest(`.
                let is_call = rest[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
                let after = &rest[i + open.len()..];
                if let Some(end) = after.find('"') {
                    let key = &after[..end];
                    if is_call
                        && !key.is_empty()
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
                    {
                        out.push(key.to_owned());
                    }
                    rest = &after[end..];
                } else {
                    break;
                }
            }
            out
        }
    }
}
