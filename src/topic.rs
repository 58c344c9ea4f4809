//! Topic names and topic filters: validation and matching, as pure functions.
//!
//! Rules from MQTT 3.1.1 §4.7 and MQTT 5.0 §4.7–4.8 (they agree on everything here):
//! `/` separates levels; `+` matches exactly one level and must fill its level; `#` matches the
//! rest (including the parent level) and must be last and fill its level; names never hold
//! wildcards; a filter starting with a wildcard does not match a name starting with `$`; names
//! and filters are 1 to 65 535 bytes of UTF-8 without U+0000. A shared subscription is
//! `$share/{ShareName}/{filter}`, where the share name is at least one character with no `/`,
//! `+` or `#`.

use thiserror::Error;

/// Why a topic name or filter is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Topic names and filters must be at least one character long.
    #[error("topic is empty")]
    Empty,
    /// Longer than the 65 535 bytes a UTF-8 string field can hold.
    #[error("topic is {0} bytes long, more than 65535")]
    TooLong(usize),
    /// U+0000 is not allowed in any UTF-8 string field.
    #[error("topic contains the null character U+0000")]
    NullCharacter,
    /// `+` or `#` in a topic name (only filters may hold wildcards).
    #[error("topic name contains a wildcard ('+' or '#')")]
    WildcardInName,
    /// `#` not alone in the last level of a filter.
    #[error("'#' must be the last character and occupy a whole level")]
    MisplacedMultiLevelWildcard,
    /// `+` sharing its level with other characters.
    #[error("'+' must occupy a whole level")]
    MisplacedSingleLevelWildcard,
    /// `$share/` without a valid share name and filter after it.
    #[error("shared subscription must be '$share/<name>/<filter>' with a non-empty name free of '/', '+' and '#'")]
    InvalidSharedSubscription,
}

/// The longest UTF-8 string field MQTT can carry.
pub const MAX_TOPIC_LEN: usize = 65_535;

fn check_common(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong(s.len()));
    }
    if s.as_bytes().contains(&0) {
        return Err(TopicError::NullCharacter);
    }
    Ok(())
}

/// Checks a topic name (what a PUBLISH carries): non-empty, no wildcards, no U+0000.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    check_common(name)?;
    if name.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter (what a SUBSCRIBE or UNSUBSCRIBE carries), shared subscriptions included.
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    check_common(filter)?;
    let inner = match parse_shared(filter)? {
        Some(shared) => shared.filter,
        None => filter,
    };
    check_filter_levels(inner)
}

fn check_filter_levels(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') {
            if level != "#" || levels.peek().is_some() {
                return Err(TopicError::MisplacedMultiLevelWildcard);
            }
        } else if level.contains('+') && level != "+" {
            return Err(TopicError::MisplacedSingleLevelWildcard);
        }
    }
    Ok(())
}

/// A shared subscription filter split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedFilter<'a> {
    /// The share name (the group).
    pub group: &'a str,
    /// The filter that selects the messages.
    pub filter: &'a str,
}

/// Splits `$share/{group}/{filter}`; `Ok(None)` when the filter is not a shared subscription.
pub fn parse_shared(filter: &str) -> Result<Option<SharedFilter<'_>>, TopicError> {
    let Some(rest) = filter.strip_prefix("$share/") else {
        if filter == "$share" {
            return Err(TopicError::InvalidSharedSubscription);
        }
        return Ok(None);
    };
    let Some((group, inner)) = rest.split_once('/') else {
        return Err(TopicError::InvalidSharedSubscription);
    };
    if group.is_empty() || group.contains(['+', '#']) || inner.is_empty() {
        return Err(TopicError::InvalidSharedSubscription);
    }
    Ok(Some(SharedFilter {
        group,
        filter: inner,
    }))
}

/// Whether `name` matches `filter`.
///
/// Both are assumed valid (see [`validate_topic_name`], [`validate_topic_filter`]). A shared
/// subscription matches as its inner filter. A filter whose first level is a wildcard does not
/// match a name whose first level starts with `$` (MQTT 3.1.1 and 5.0 §4.7.2).
pub fn matches(filter: &str, name: &str) -> bool {
    let filter = match parse_shared(filter) {
        Ok(Some(shared)) => shared.filter,
        Ok(None) => filter,
        Err(_) => return false,
    };
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(nl)) if fl == nl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_level_matches_parent() {
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches("sport/#", "sport"));
        assert!(!matches("sport/tennis/#", "sport"));
    }
}
