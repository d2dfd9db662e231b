//! Normalising Japanese names for search, so that a requester finds 山田太郎 by typing
//! 山田, やまだ, ヤマダ, ﾔﾏﾀﾞ or yamada: full-width ASCII becomes ASCII and lower case,
//! half-width katakana becomes full-width (with voiced marks joined), hiragana becomes
//! katakana, and DICOM's `^` and `=` separators and spaces go away.

/// Half-width katakana U+FF66..=U+FF9D to full-width, in code point order.
const HALF_KANA: [char; 56] = [
    'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー', 'ア', 'イ', 'ウ', 'エ', 'オ',
    'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ', 'タ', 'チ', 'ツ', 'テ', 'ト', 'ナ',
    'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ', 'ホ', 'マ', 'ミ', 'ム', 'メ', 'モ', 'ヤ', 'ユ',
    'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ', 'ン',
];

fn voiced(c: char) -> Option<char> {
    // カ→ガ etc.: in Unicode the voiced form follows the plain one.
    let v = match c {
        'カ'..='ト' | 'ハ'..='ホ' => char::from_u32(c as u32 + 1),
        'ウ' => Some('ヴ'),
        _ => None,
    }?;
    // Only kana that really have a voiced form (カキクケコサシスセソタチツテトハヒフヘホ).
    matches!(
        c,
        'カ' | 'キ'
            | 'ク'
            | 'ケ'
            | 'コ'
            | 'サ'
            | 'シ'
            | 'ス'
            | 'セ'
            | 'ソ'
            | 'タ'
            | 'チ'
            | 'ツ'
            | 'テ'
            | 'ト'
            | 'ハ'
            | 'ヒ'
            | 'フ'
            | 'ヘ'
            | 'ホ'
            | 'ウ'
    )
    .then_some(v)
}

fn semi_voiced(c: char) -> Option<char> {
    matches!(c, 'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ')
        .then(|| char::from_u32(c as u32 + 2))
        .flatten()
}

/// The search form of a name or a query.
pub fn normalise_for_search(s: &str) -> String {
    let mut out: Vec<char> = Vec::with_capacity(s.len());
    for c in s.chars() {
        let c = match c {
            // Full-width ASCII → ASCII.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        };
        match c {
            '^' | '=' | ' ' | '\t' | '・' | '　' => continue,
            '\u{FF9E}' => {
                // Half-width voiced mark joins the previous kana.
                if let Some(v) = out.last().copied().and_then(voiced) {
                    out.pop();
                    out.push(v);
                }
                continue;
            }
            '\u{FF9F}' => {
                if let Some(v) = out.last().copied().and_then(semi_voiced) {
                    out.pop();
                    out.push(v);
                }
                continue;
            }
            '\u{FF70}' => out.push('ー'),
            '\u{FF66}'..='\u{FF9D}' => out.push(HALF_KANA[(c as u32 - 0xFF66) as usize]),
            // Hiragana → katakana.
            '\u{3041}'..='\u{3096}' => out.push(char::from_u32(c as u32 + 0x60).unwrap_or(c)),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::normalise_for_search as n;

    #[test]
    fn kana_forms_meet() {
        assert_eq!(n("やまだ^たろう"), "ヤマダタロウ");
        assert_eq!(n("ﾔﾏﾀﾞ^ﾀﾛｳ"), "ヤマダタロウ");
        assert_eq!(n("ヤマダ タロウ"), "ヤマダタロウ");
        assert_eq!(n("ﾊﾟﾋﾟﾌﾟ"), "パピプ");
        assert_eq!(n("Yamada^Tarou"), "yamadatarou");
        assert_eq!(n("ＹＡＭＡＤＡ"), "yamada");
        assert_eq!(n("山田^太郎"), "山田太郎");
    }
}
