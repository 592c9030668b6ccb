//! [`Table`]: the rows of one kind of tenant object (users, groups, spaces, content, ...) in a
//! vector, with a hash index from each row's key to its position.
//!
//! Why not a plain `Vec` or an `IndexMap`: lookups by id sit on every validation and write path
//! (a tenant file of 100k users and 1M items validates millions of references), so they must be
//! O(1); but rows already hold their key, and a map keyed by a copy of it would store every id
//! twice. `hashbrown::HashTable` indexes positions by a hash of the row's own key instead.
//!
//! INVARIANT: `index` holds exactly one entry per row, the row's position, and no two rows share
//! a key. Rows are reached mutably only through [`Table::get_mut`] and friends, whose callers
//! must not change the key (the key fields are the ones [`Keyed::key`] reads).

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// A row with a unique key.
pub trait Keyed {
    /// The row's key: unique within its table, never changed in place.
    fn key(&self) -> &str;
}

/// Rows with unique keys, in insertion order (removal moves the last row into the gap).
#[derive(Clone, Default)]
pub struct Table<T> {
    rows: Vec<T>,
    index: HashTable<u32>,
}

fn hash(key: &str) -> u64 {
    FxBuildHasher.hash_one(key)
}

impl<T: Keyed> Table<T> {
    /// An empty table.
    pub fn new() -> Self {
        Table {
            rows: Vec::new(),
            index: HashTable::new(),
        }
    }

    /// An empty table with room for `capacity` rows.
    pub fn with_capacity(capacity: usize) -> Self {
        Table {
            rows: Vec::with_capacity(capacity),
            index: HashTable::with_capacity(capacity),
        }
    }

    /// Makes room for `additional` more rows.
    pub fn reserve(&mut self, additional: usize) {
        self.rows.reserve(additional);
        let rows = &self.rows;
        self.index.reserve(additional, |&i| hash(rows[i as usize].key()));
    }

    /// The position of the row with `key`.
    pub fn position(&self, key: &str) -> Option<usize> {
        let rows = &self.rows;
        self.index.find(hash(key), |&i| rows[i as usize].key() == key).map(|&i| i as usize)
    }

    /// The row with `key`.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.position(key).map(|i| &self.rows[i])
    }

    /// The row with `key`, to change anything but its key.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut T> {
        self.position(key).map(|i| &mut self.rows[i])
    }

    /// The row at `position` (from [`Table::position`]), to change anything but its key.
    pub fn at_mut(&mut self, position: usize) -> Option<&mut T> {
        self.rows.get_mut(position)
    }

    /// Whether a row has `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Adds a row; gives it back when its key is taken.
    pub fn insert(&mut self, row: T) -> Result<(), T> {
        match self.find_or_index(&row) {
            Some(_) => Err(row),
            None => {
                self.rows.push(row);
                Ok(())
            }
        }
    }

    /// Adds a row, or replaces the row with the same key in place.
    pub fn upsert(&mut self, row: T) {
        match self.find_or_index(&row) {
            Some(position) => self.rows[position] = row,
            None => self.rows.push(row),
        }
    }

    /// The position of the row with `row`'s key, or `None` after indexing the position `row`
    /// takes when the caller pushes it next (which the caller must): one hash of the key either
    /// way, where a separate look-up and insert took three (a start inserts millions of rows).
    fn find_or_index(&mut self, row: &T) -> Option<usize> {
        let position = self.rows.len() as u32;
        let rows = &self.rows;
        let key = row.key();
        match self
            .index
            .entry(hash(key), |&i| rows[i as usize].key() == key, |&i| hash(rows[i as usize].key()))
        {
            hashbrown::hash_table::Entry::Occupied(entry) => Some(*entry.get() as usize),
            hashbrown::hash_table::Entry::Vacant(entry) => {
                entry.insert(position);
                None
            }
        }
    }

    /// Removes and returns the row with `key`, in O(1): the last row takes its place.
    pub fn remove(&mut self, key: &str) -> Option<T> {
        let position = self.position(key)?;
        let h = hash(key);
        let rows = &self.rows;
        if let Ok(entry) = self.index.find_entry(h, |&i| rows[i as usize].key() == key) {
            entry.remove();
        }
        let last = self.rows.len() - 1;
        if position != last {
            let moved_hash = hash(self.rows[last].key());
            if let Some(slot) = self.index.find_mut(moved_hash, |&i| i as usize == last) {
                *slot = position as u32;
            }
        }
        Some(self.rows.swap_remove(position))
    }

    /// Keeps the rows `keep` accepts, in order; O(rows).
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.rows.retain(keep);
        self.reindex();
    }

    /// Removes every row.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.index.clear();
    }

    /// Changes rows in place (never their keys).
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.rows.iter_mut()
    }

    fn reindex(&mut self) {
        self.index.clear();
        let rows = &self.rows;
        for (i, row) in rows.iter().enumerate() {
            self.index.insert_unique(hash(row.key()), i as u32, |&j| hash(rows[j as usize].key()));
        }
    }

    /// The rows as a slice.
    pub fn as_slice(&self) -> &[T] {
        &self.rows
    }
}

impl<T> std::ops::Deref for Table<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.rows
    }
}

impl<'a, T> IntoIterator for &'a Table<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut Table<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;

    /// Changes rows in place (never their keys).
    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter_mut()
    }
}

impl<T: Keyed> FromIterator<T> for Table<T> {
    /// Collects rows; a later row with a taken key replaces the earlier one.
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut table = Table::new();
        for row in iter {
            table.upsert(row);
        }
        table
    }
}

impl<T: Keyed> From<Vec<T>> for Table<T> {
    fn from(rows: Vec<T>) -> Self {
        rows.into_iter().collect()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.rows).finish()
    }
}

/// Two tables are equal when they hold equal rows under the same keys, in any order: removal
/// reorders rows, and the order carries no meaning.
impl<T: Keyed + PartialEq> PartialEq for Table<T> {
    fn eq(&self, other: &Self) -> bool {
        self.rows.len() == other.rows.len() && self.rows.iter().all(|row| other.get(row.key()) == Some(row))
    }
}

impl<T: Keyed + Eq> Eq for Table<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Row(String, u32);

    impl Keyed for Row {
        fn key(&self) -> &str {
            &self.0
        }
    }

    fn row(key: &str, value: u32) -> Row {
        Row(key.to_owned(), value)
    }

    #[test]
    fn finds_inserts_and_refuses_taken_keys() {
        let mut table = Table::new();
        table.insert(row("a", 1)).unwrap();
        table.insert(row("b", 2)).unwrap();
        assert_eq!(table.insert(row("a", 3)), Err(row("a", 3)));
        assert_eq!(table.get("a"), Some(&row("a", 1)));
        assert_eq!(table.len(), 2);
        table.upsert(row("a", 4));
        assert_eq!(table.get("a"), Some(&row("a", 4)));
        assert!(table.get("c").is_none());
    }

    #[test]
    fn removal_keeps_every_other_row_reachable() {
        let mut table: Table<Row> = (0..100).map(|i| row(&i.to_string(), i)).collect();
        for i in (0..100).step_by(3) {
            assert_eq!(table.remove(&i.to_string()), Some(row(&i.to_string(), i)));
        }
        for i in 0..100u32 {
            assert_eq!(table.get(&i.to_string()).is_some(), i % 3 != 0, "{i}");
        }
        table.retain(|r| r.1 % 2 == 0);
        for i in 0..100u32 {
            assert_eq!(table.get(&i.to_string()).map(|r| r.1), (i % 3 != 0 && i % 2 == 0).then_some(i));
        }
    }

    #[test]
    fn equality_ignores_order() {
        let a: Table<Row> = vec![row("x", 1), row("y", 2)].into();
        let b: Table<Row> = vec![row("y", 2), row("x", 1)].into();
        let c: Table<Row> = vec![row("y", 2), row("x", 5)].into();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    proptest::proptest! {
        /// Any sequence of inserts and removals leaves the index agreeing with a naive scan.
        #[test]
        fn index_agrees_with_a_scan(ops in proptest::collection::vec((0u8..3, 0u32..40), 0..200)) {
            let mut table = Table::new();
            let mut naive: Vec<Row> = Vec::new();
            for (op, key) in ops {
                let key = key.to_string();
                match op {
                    0 => {
                        let inserted = table.insert(row(&key, 0)).is_ok();
                        proptest::prop_assert_eq!(inserted, !naive.iter().any(|r| r.0 == key));
                        if inserted { naive.push(row(&key, 0)); }
                    }
                    1 => {
                        let removed = table.remove(&key).is_some();
                        proptest::prop_assert_eq!(removed, naive.iter().any(|r| r.0 == key));
                        naive.retain(|r| r.0 != key);
                    }
                    _ => {
                        table.retain(|r| r.0 != key);
                        naive.retain(|r| r.0 != key);
                    }
                }
            }
            proptest::prop_assert_eq!(table.len(), naive.len());
            for r in &naive {
                proptest::prop_assert_eq!(table.get(&r.0), Some(r));
            }
        }
    }
}
