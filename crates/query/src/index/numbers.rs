//! A bot's channels and users by number, so that the rows the indexes keep are small and
//! copyable.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use hashbrown::{HashTable, hash_table};

use crate::{Error, Result};

/// A bot's channels and users by number.
#[derive(Debug, Default)]
pub(super) struct Numbers {
    /// Channel uuids by number.
    channels: Vec<String>,
    channel_numbers: HashMap<String, u16>,
    users: UserNumbers,
}

impl Numbers {
    pub fn channel(&mut self, uuid: &str) -> Result<u16> {
        if let Some(number) = self.channel_numbers.get(uuid) {
            return Ok(*number);
        }
        let number = u16::try_from(self.channels.len())
            .map_err(|_| internal("more than 65,536 channels in one bot"))?;
        self.channels.push(uuid.to_string());
        self.channel_numbers.insert(uuid.to_string(), number);
        Ok(number)
    }

    pub fn user(&mut self, user_id: &str) -> Result<u32> {
        self.users.number(user_id)
    }

    pub fn user_count(&self) -> usize {
        self.users.ends.len()
    }

    /// Channel uuids by number.
    pub fn channels(&self) -> &[String] {
        &self.channels
    }

    /// About what the user ids and their table hold in memory.
    pub fn bytes(&self) -> usize {
        self.users.bytes()
    }
}

/// A bot's user ids by number, in one buffer: a `HashMap<Box<str>, u32>` holds, per user, a
/// separate allocation of the id and a 24-byte slot (at most 7/8 of slots full), and `large`'s
/// bot has four million users.
#[derive(Debug, Default)]
struct UserNumbers {
    /// The ids one after the other, in number order.
    ids: String,
    /// Where each number's id ends in `ids`.
    ends: Vec<usize>,
    /// The numbers, by their id's hash.
    by_id: HashTable<u32>,
    hasher: RandomState,
}

impl UserNumbers {
    fn number(&mut self, user_id: &str) -> Result<u32> {
        let Self {
            ids,
            ends,
            by_id,
            hasher,
        } = self;
        let id_of = |number: u32| {
            let number = number as usize;
            let start = number.checked_sub(1).map_or(0, |before| ends[before]);
            &ids[start..ends[number]]
        };
        let hash = hasher.hash_one(user_id);
        let entry = by_id.entry(
            hash,
            |number| id_of(*number) == user_id,
            |number| hasher.hash_one(id_of(*number)),
        );
        match entry {
            hash_table::Entry::Occupied(known) => Ok(*known.get()),
            hash_table::Entry::Vacant(vacant) => {
                let number = u32::try_from(ends.len())
                    .map_err(|_| internal("more than 2^32 users in one bot"))?;
                vacant.insert(number);
                ids.push_str(user_id);
                ends.push(ids.len());
                Ok(number)
            }
        }
    }

    /// About what the ids and their table hold in memory.
    fn bytes(&self) -> usize {
        self.ids.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
            + self.by_id.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

pub(super) fn internal(message: &str) -> Error {
    Error::Query(datafusion::error::DataFusionError::Internal(
        message.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each id keeps the number it was first given, through the table's growth; numbers count up
    /// from 0.
    #[test]
    fn users_keep_their_numbers() {
        let mut numbers = Numbers::default();
        let id = |n: usize| format!("user-{}", n * 7919 % 100_003);
        for n in 0..50_000 {
            assert_eq!(numbers.user(&id(n)).expect("numbered"), n as u32);
        }
        for n in (0..50_000).rev() {
            assert_eq!(numbers.user(&id(n)).expect("numbered"), n as u32);
        }
        assert_eq!(numbers.user("").expect("numbered"), 50_000);
        assert_eq!(numbers.user("user-").expect("numbered"), 50_001);
        assert_eq!(numbers.user("").expect("numbered"), 50_000);
        assert_eq!(numbers.user_count(), 50_002);
    }
}
