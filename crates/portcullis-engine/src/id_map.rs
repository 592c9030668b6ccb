//! [`IdMap`]: the snapshot's persistent map from an id to its dense index.
//!
//! Cloning one is O(1) and a write copies one shard, so the next snapshot shares every shard a
//! write did not touch. The keys are spread over up to [`MAX_SHARDS`] hash tables by bits of
//! their hash that the tables themselves do not use (see [`shard_of`]), each behind an `Arc`.
//!
//! Why not a hash array mapped trie (`imbl`'s hash map, which this replaced): building one of a
//! million ids inserts them one by one into a tree of small nodes — a node allocation every few
//! keys and a copy-on-write check per step — and was the largest single cost of building a
//! 100k-user view at a start (about 0.8 s of CPU, more than the items' links beside it). A
//! shard is one table allocated at its final size; a write copies a shard of at most
//! [`MAX_SHARD`] entries (tens of microseconds) instead of a trie path (a few nodes), which
//! writes can afford and starts could not.
//!
//! INVARIANT: every key is in the shard [`shard_of`] picks for the current shard count, once;
//! `len` is the number of keys.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// The most shards a map is split into: 2^12.
const MAX_SHARD_BITS: u32 = 12;
/// The most shards.
pub const MAX_SHARDS: usize = 1 << MAX_SHARD_BITS;
/// Keys a shard holds before the map doubles its shards (while it may): the bound on a write's copy.
pub const MAX_SHARD: usize = 1024;
/// Where in the hash the shard bits start: above the bits a shard's table indexes its
/// buckets by (the low ones: a shard of [`MAX_SHARD`] keys has at most 2^11 buckets) and below
/// the seven top bits it tags entries with, so the keys of one shard still spread over its
/// buckets and tags. The Fx hash's middle bits are mixed as well as its others.
const SHARD_SHIFT: u32 = 32;

type Shard<I> = HashTable<(Arc<str>, I)>;

fn hash(key: &str) -> u64 {
    FxBuildHasher.hash_one(key)
}

/// The shard of a key's hash when the map has `2^bits` shards.
fn shard_of(hash: u64, bits: u32) -> usize {
    ((hash >> SHARD_SHIFT) & ((1u64 << bits) - 1)) as usize
}

/// A persistent map from an id (a user's id, a group's name, ...) to a value (its index).
pub struct IdMap<I> {
    shards: Arc<[Arc<Shard<I>>]>,
    bits: u32,
    len: usize,
}

impl<I> Clone for IdMap<I> {
    fn clone(&self) -> Self {
        IdMap {
            shards: Arc::clone(&self.shards),
            bits: self.bits,
            len: self.len,
        }
    }
}

impl<I> Default for IdMap<I> {
    fn default() -> Self {
        IdMap {
            shards: Arc::from([Arc::new(HashTable::new())]),
            bits: 0,
            len: 0,
        }
    }
}

impl<I: std::fmt::Debug> std::fmt::Debug for IdMap<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.shards.iter().flat_map(|s| s.iter().map(|(k, v)| (k, v))))
            .finish()
    }
}

/// The fewest shard bits that keep `len` keys within [`MAX_SHARD`] per shard on average.
fn bits_for(len: usize) -> u32 {
    let shards = len.div_ceil(MAX_SHARD / 2).max(1).next_power_of_two();
    shards.trailing_zeros().min(MAX_SHARD_BITS)
}

impl<I: Clone> IdMap<I> {
    /// How many keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&I> {
        let h = hash(key);
        self.shards[shard_of(h, self.bits)].find(h, |(k, _)| &**k == key).map(|(_, v)| v)
    }

    /// Sets the value of `key`, copying its shard if another map shares it.
    pub fn insert(&mut self, key: Arc<str>, value: I) {
        let h = hash(&key);
        let slot = shard_of(h, self.bits);
        let shard = Arc::make_mut(&mut Arc::make_mut(&mut self.shards)[slot]);
        match shard.find_mut(h, |(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => {
                shard.insert_unique(h, (key, value), |(k, _)| hash(k));
                self.len += 1;
                if shard.len() > MAX_SHARD && self.bits < MAX_SHARD_BITS {
                    self.reshard(self.bits + 1);
                }
            }
        }
    }

    /// Removes `key`, copying its shard if another map shares it.
    pub fn remove(&mut self, key: &str) -> Option<I> {
        let h = hash(key);
        let slot = shard_of(h, self.bits);
        self.shards[slot].find(h, |(k, _)| &**k == key)?;
        let shard = Arc::make_mut(&mut Arc::make_mut(&mut self.shards)[slot]);
        let (_, value) = shard.find_entry(h, |(k, _)| &**k == key).ok()?.remove().0;
        self.len -= 1;
        Some(value)
    }

    /// Every key and value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &I)> {
        self.shards.iter().flat_map(|s| s.iter().map(|(k, v)| (k, v)))
    }

    /// Spreads the keys over `2^bits` shards: O(keys), once per doubling.
    fn reshard(&mut self, bits: u32) {
        let entries: Vec<(u64, Arc<str>, I)> = self.iter().map(|(k, v)| (hash(k), Arc::clone(k), v.clone())).collect();
        *self = Self::from_hashed(entries, bits);
    }

    /// A map of `2^bits` shards from keys with their hashes; each shard is sized once.
    fn from_hashed(entries: Vec<(u64, Arc<str>, I)>, bits: u32) -> Self {
        let mut counts = vec![0usize; 1 << bits];
        for (h, _, _) in &entries {
            counts[shard_of(*h, bits)] += 1;
        }
        let mut shards: Vec<Shard<I>> = counts.into_iter().map(HashTable::with_capacity).collect();
        let mut len = 0;
        for (h, key, value) in entries {
            let shard = &mut shards[shard_of(h, bits)];
            match shard.find_mut(h, |(k, _)| *k == key) {
                Some(entry) => entry.1 = value,
                None => {
                    shard.insert_unique(h, (key, value), |(k, _)| hash(k));
                    len += 1;
                }
            }
        }
        IdMap {
            shards: shards.into_iter().map(Arc::new).collect(),
            bits,
            len,
        }
    }
}

impl<I: Clone> FromIterator<(Arc<str>, I)> for IdMap<I> {
    /// Later pairs win over earlier ones with the same key.
    fn from_iter<T: IntoIterator<Item = (Arc<str>, I)>>(iter: T) -> Self {
        let entries: Vec<(u64, Arc<str>, I)> = iter.into_iter().map(|(k, v)| (hash(&k), k, v)).collect();
        let bits = bits_for(entries.len());
        Self::from_hashed(entries, bits)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, u32),
        Remove(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u16..3000, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u16..3000).prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// The map answers as a plain hash map does after any inserts and removes, grows its
        /// shards as it fills, and a clone taken before the writes still answers as before.
        #[test]
        fn behaves_as_a_hash_map_and_clones_stay_unchanged(start in 0usize..2500, ops in prop::collection::vec(op(), 0..3000)) {
            let initial: Vec<(Arc<str>, u32)> = (0..start).map(|i| (Arc::from(format!("id-{i}")), i as u32)).collect();
            let mut map: IdMap<u32> = initial.iter().cloned().collect();
            let before = map.clone();
            let mut expected: HashMap<String, u32> = initial.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        map.insert(Arc::from(format!("id-{k}")), v);
                        expected.insert(format!("id-{k}"), v);
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(map.remove(&format!("id-{k}")), expected.remove(&format!("id-{k}")));
                    }
                }
            }
            prop_assert_eq!(map.len(), expected.len());
            for k in 0..3000 {
                let key = format!("id-{k}");
                prop_assert_eq!(map.get(&key), expected.get(&key));
                prop_assert_eq!(before.get(&key).copied(), (k < start).then_some(k as u32));
            }
            prop_assert_eq!(map.iter().count(), expected.len());
            for shard in map.shards.iter() {
                prop_assert!(shard.len() <= MAX_SHARD || map.bits == MAX_SHARD_BITS);
            }
        }
    }

    #[test]
    fn a_write_copies_one_shard_and_shares_the_others() {
        let mut map: IdMap<u32> = (0..100_000u32).map(|i| (Arc::from(format!("item-{i}")), i)).collect();
        assert!(map.shards.len() > 64, "a large map is split: {} shards", map.shards.len());
        let before = map.clone();
        map.insert(Arc::from("item-new"), 7);
        let shared = map.shards.iter().zip(before.shards.iter()).filter(|(a, b)| Arc::ptr_eq(a, b)).count();
        assert_eq!(shared, map.shards.len() - 1);
        assert_eq!(before.get("item-new"), None);
        assert_eq!(map.get("item-new"), Some(&7));
        assert_eq!(map.get("item-99999"), Some(&99_999));
    }

    #[test]
    fn the_shards_of_a_large_map_are_even() {
        let map: IdMap<u32> = (0..300_000u32).map(|i| (Arc::from(format!("app-{i:08}")), i)).collect();
        let largest = map.shards.iter().map(|s| s.len()).max().unwrap_or(0);
        let mean = map.len() / map.shards.len();
        assert!(largest <= MAX_SHARD, "largest shard {largest}");
        assert!(largest < mean * 2, "largest shard {largest} against a mean of {mean}");
    }
}
