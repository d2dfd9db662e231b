//! DICOM vocabulary used by membership: AE titles, modalities, and source-address lists.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// An Application Entity title: 1-16 characters of the default repertoire, no backslash or
/// control characters, not only spaces. Leading and trailing spaces are not significant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct AeTitle(String);

impl AeTitle {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let t = s.trim_matches(' ');
        if t.is_empty() {
            return Err("err.required");
        }
        if t.len() > 16 {
            return Err("err.ae_title");
        }
        if !t
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '\\' || c == ' ')
        {
            return Err("err.ae_title");
        }
        Ok(AeTitle(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The modalities (DICOM Modality codes) a contract may cover and a request may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Modality {
    CT,
    MR,
    CR,
    DX,
    MG,
    US,
    NM,
    PT,
    /// Radiofluoroscopy: upper GI series (胃透視).
    RF,
    XA,
    /// Ophthalmic photography: fundus (眼底).
    OP,
    OT,
}

impl Modality {
    pub const ALL: &'static [Modality] = &[
        Modality::CT,
        Modality::MR,
        Modality::CR,
        Modality::DX,
        Modality::MG,
        Modality::US,
        Modality::NM,
        Modality::PT,
        Modality::RF,
        Modality::XA,
        Modality::OP,
        Modality::OT,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Modality::CT => "CT",
            Modality::MR => "MR",
            Modality::CR => "CR",
            Modality::DX => "DX",
            Modality::MG => "MG",
            Modality::US => "US",
            Modality::NM => "NM",
            Modality::PT => "PT",
            Modality::RF => "RF",
            Modality::XA => "XA",
            Modality::OP => "OP",
            Modality::OT => "OT",
        }
    }

    pub fn parse(s: &str) -> Result<Self, &'static str> {
        Modality::ALL
            .iter()
            .copied()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or("err.modality")
    }

    /// Parses a list separated by spaces or commas; sorted, without duplicates.
    pub fn parse_list(s: &str) -> Result<Vec<Modality>, &'static str> {
        let mut out = Vec::new();
        for part in s.split([' ', ',', '\n']).filter(|p| !p.trim().is_empty()) {
            out.push(Modality::parse(part)?);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The stored form of a list: codes separated by single spaces.
    pub fn list_to_stored(list: &[Modality]) -> String {
        list.iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl std::fmt::Display for Modality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Source addresses a DICOM node may connect from: single addresses or CIDR networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressAllowList(Vec<IpNet>);

impl AddressAllowList {
    pub const MAX: usize = 32;

    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let mut nets = Vec::new();
        for part in s
            .split([',', '\n', ' ', '\r'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let net = match part.parse::<IpNet>() {
                Ok(n) => n.trunc(),
                Err(_) => match part.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => return Err("err.address"),
                },
            };
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        if nets.is_empty() {
            return Err("err.required");
        }
        if nets.len() > Self::MAX {
            return Err("err.too_many");
        }
        Ok(AddressAllowList(nets))
    }

    pub fn allows(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&addr))
    }

    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(|n| {
                if n.prefix_len() == n.max_prefix_len() {
                    n.addr().to_string()
                } else {
                    n.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ae_titles() {
        assert_eq!(AeTitle::parse(" CLINIC_A ").unwrap().as_str(), "CLINIC_A");
        assert!(AeTitle::parse("").is_err());
        assert!(AeTitle::parse("    ").is_err());
        assert!(AeTitle::parse("ABCDEFGHIJKLMNOPQ").is_err());
        assert!(AeTitle::parse("A\\B").is_err());
        assert!(AeTitle::parse("A\nB").is_err());
        assert!(AeTitle::parse("ＣＴ").is_err());
    }

    #[test]
    fn modalities() {
        assert_eq!(
            Modality::parse_list("mr, CT CT").unwrap(),
            vec![Modality::CT, Modality::MR]
        );
        assert!(Modality::parse_list("CT XX").is_err());
        assert_eq!(
            Modality::list_to_stored(&[Modality::CT, Modality::MG]),
            "CT MG"
        );
    }

    #[test]
    fn address_lists() {
        let l = AddressAllowList::parse("127.0.0.1\n10.1.2.0/24").unwrap();
        assert!(l.allows("127.0.0.1".parse().unwrap()));
        assert!(l.allows("10.1.2.77".parse().unwrap()));
        assert!(l.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!l.allows("10.1.3.1".parse().unwrap()));
        assert_eq!(l.to_stored(), "127.0.0.1\n10.1.2.0/24");
        assert!(AddressAllowList::parse("").is_err());
        assert!(AddressAllowList::parse("example.com").is_err());
    }
}
