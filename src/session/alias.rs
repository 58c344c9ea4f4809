//! MQTT 5.0 topic aliases: outbound assignment (least recently used is replaced) and inbound
//! resolution. Both are connection-scoped: a new connection starts with none.

use crate::vec_map::VecMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Aliases this client assigns to the topics it publishes to.
#[derive(Debug, Default)]
pub(crate) struct OutboundAliases {
    max: u16,
    by_topic: VecMap<String, (u16, u64)>,
    topics: Vec<String>,
    tick: u64,
    /// Aliases given back by [`OutboundAliases::release`], to hand out again first.
    free: Vec<u16>,
}

impl OutboundAliases {
    pub(crate) fn reset(&mut self, max: u16) {
        *self = OutboundAliases {
            max,
            ..Default::default()
        };
    }

    /// The alias to use for `topic` and whether the topic must be sent with it (a new or
    /// re-assigned alias). `None` when aliases are off.
    pub(crate) fn assign(&mut self, topic: &str) -> Option<(u16, bool)> {
        if self.max == 0 {
            return None;
        }
        self.tick += 1;
        if let Some(entry) = self.by_topic.get_mut(topic) {
            entry.1 = self.tick;
            return Some((entry.0, false));
        }
        let alias = if let Some(alias) = self.free.pop() {
            self.topics[alias as usize - 1] = topic.to_string();
            alias
        } else if self.topics.len() < self.max as usize {
            self.topics.push(topic.to_string());
            self.topics.len() as u16
        } else {
            let (old, &(alias, _)) = self.by_topic.iter().min_by_key(|(_, (_, t))| *t)?;
            let old = old.clone();
            self.by_topic.remove(&old);
            self.topics[alias as usize - 1] = topic.to_string();
            alias
        };
        self.by_topic.insert(topic.to_string(), (alias, self.tick));
        Some((alias, true))
    }

    /// Undoes the assignment `assign` just made for `topic` (with the topic to send): the
    /// packet that would have told the receiver was not sent, so the alias is free again.
    pub(crate) fn release(&mut self, topic: &str) {
        if let Some((alias, _)) = self.by_topic.remove(topic) {
            self.free.push(alias);
        }
    }
}

/// Aliases the broker sets for the messages it sends us.
#[derive(Debug, Default)]
pub(crate) struct InboundAliases {
    map: VecMap<u16, String>,
}

impl InboundAliases {
    pub(crate) fn set(&mut self, alias: u16, topic: &str) {
        match self.map.get_mut(&alias) {
            Some(t) if t == topic => {}
            Some(t) => *t = topic.to_string(),
            None => {
                self.map.insert(alias, topic.to_string());
            }
        }
    }

    pub(crate) fn get(&self, alias: u16) -> Option<&str> {
        self.map.get(&alias).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_alias_is_reassigned() {
        let mut a = OutboundAliases::default();
        a.reset(2);
        assert_eq!(a.assign("a"), Some((1, true)));
        assert_eq!(a.assign("b"), Some((2, true)));
        assert_eq!(a.assign("a"), Some((1, false)));
        assert_eq!(a.assign("c"), Some((2, true)), "b was least recently used");
        assert_eq!(a.assign("a"), Some((1, false)));
        assert_eq!(a.assign("b"), Some((2, true)));
    }
}
