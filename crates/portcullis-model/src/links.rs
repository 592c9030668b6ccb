//! [`LinkTable`]: rows that link two things (an app reading a data connection, an app shared
//! with a user or a group), indexed by both ends, so that a write costs the rows of what it
//! touches rather than the whole list.
//!
//! Why: a tenant of 100k users holds about a million such rows. Every content write needs the
//! rows of one item (its shares, the `uses` it consumes, the `uses` that read it) and deleting a
//! user or a group needs the shares given to them; with plain vectors each was a scan of
//! everything.
//!
//! Layout: the rows sit in a vector in insertion order; a removed row leaves a tombstone, and
//! the tombstones are squeezed out once they outnumber the rows (amortised O(1) per removal).
//! Each row is on two chains — doubly linked lists threaded through a parallel vector of
//! positions — one of the rows with the same [`Link::key`], one of those with the same
//! [`Link::other`]. A hash table per end holds each chain's head, tail and length, found by
//! hashing the head row's own end (as in [`crate::table::Table`], no key is stored twice).
//! Inserting appends to both chains and removing unlinks from both, each O(1) plus one hash
//! lookup per end.
//!
//! Order: every iteration — over all rows, over one key's or one other end's rows — is
//! insertion order; replacing a row ([`LinkTable::upsert`]) keeps its place. Equality ignores
//! order, as `Table`'s does: the store reads a rewritten item's rows back after the others, and
//! the order carries no meaning.
//!
//! INVARIANT: no two rows share both ends; a live row is on exactly the two chains of its
//! ends, a tombstone on none; every chain is non-empty, listed once in its end's hash table
//! with its true head, tail and length. Rows are reached mutably only through
//! [`LinkTable::get_mut`], whose callers must not change either end.

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// A row that links a key (the entity that owns the row: the consuming app, the shared app)
/// to another end; at most one row per pair of ends.
pub trait Link {
    /// The owning end's type.
    type Key: ?Sized + Hash + Eq;
    /// The other end's type.
    type Other: ?Sized + Hash + Eq;
    /// The owning end, never changed in place.
    fn key(&self) -> &Self::Key;
    /// The other end, never changed in place.
    fn other(&self) -> &Self::Other;
}

/// No position: the end of a chain.
const NIL: u32 = u32::MAX;

/// A row's neighbours on one chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    prev: u32,
    next: u32,
}

const LONE: Step = Step { prev: NIL, next: NIL };

/// One chain: the rows with the same value at one end.
#[derive(Debug, Clone, Copy)]
struct Chain {
    head: u32,
    tail: u32,
    len: u32,
}

/// The chains of the key end (0) and of the other end (1).
const KEY: usize = 0;
const OTHER: usize = 1;

/// Rows linking two ends, unique per pair, in insertion order, indexed by each end.
#[derive(Clone)]
pub struct LinkTable<T> {
    /// The rows; `None` is a removed row not squeezed out yet.
    rows: Vec<Option<T>>,
    /// Per row, its neighbours on the key's chain and on the other end's chain.
    steps: Vec<[Step; 2]>,
    /// Per end, its chains.
    chains: [HashTable<Chain>; 2],
    /// Rows that are not tombstones.
    live: usize,
}

fn hash<K: ?Sized + Hash>(key: &K) -> u64 {
    FxBuildHasher.hash_one(key)
}

fn at<T>(rows: &[Option<T>], pos: u32) -> &T {
    rows[pos as usize].as_ref().expect("chains hold live rows only")
}

/// Puts the row at `pos` at the tail of its chain on `side` (whose end `end` reads), unless a
/// row on that chain is `taken` (then nothing changes and the answer is false). One hash lookup,
/// and a walk of the chain only when there is something to check: the other end's chains can
/// be long (a data connection read by thousands of apps), and walking them on every insert
/// made loading a tenant's `uses` quadratic in the most used source.
fn link_in<T, K: ?Sized + Hash + Eq>(
    rows: &[Option<T>],
    steps: &mut [[Step; 2]],
    chains: &mut HashTable<Chain>,
    (side, end): (usize, fn(&T) -> &K),
    pos: u32,
    taken: Option<&dyn Fn(&T) -> bool>,
) -> bool {
    let value = end(at(rows, pos));
    let h = hash(value);
    match chains.find_mut(h, |c| end(at(rows, c.head)) == value) {
        Some(chain) => {
            if let Some(taken) = taken {
                let mut p = chain.head;
                while p != NIL {
                    if taken(at(rows, p)) {
                        return false;
                    }
                    p = steps[p as usize][side].next;
                }
            }
            steps[chain.tail as usize][side].next = pos;
            steps[pos as usize][side] = Step { prev: chain.tail, next: NIL };
            chain.tail = pos;
            chain.len += 1;
        }
        None => {
            steps[pos as usize][side] = LONE;
            chains.insert_unique(
                h,
                Chain {
                    head: pos,
                    tail: pos,
                    len: 1,
                },
                |c| hash(end(at(rows, c.head))),
            );
        }
    }
    true
}

/// Takes the (still live) row at `pos` off its chain on `side`.
fn link_out<T, K: ?Sized + Hash + Eq>(
    rows: &[Option<T>],
    steps: &mut [[Step; 2]],
    chains: &mut HashTable<Chain>,
    side: usize,
    end: fn(&T) -> &K,
    pos: u32,
) {
    let Step { prev, next } = steps[pos as usize][side];
    if prev != NIL {
        steps[prev as usize][side].next = next;
    }
    if next != NIL {
        steps[next as usize][side].prev = prev;
    }
    steps[pos as usize][side] = LONE;
    let value = end(at(rows, pos));
    if let Ok(mut entry) = chains.find_entry(hash(value), |c| end(at(rows, c.head)) == value) {
        let chain = entry.get_mut();
        chain.len -= 1;
        if chain.len == 0 {
            entry.remove();
            return;
        }
        if chain.head == pos {
            chain.head = next;
        }
        if chain.tail == pos {
            chain.tail = prev;
        }
    }
}

fn find_chain<'a, T, K: ?Sized + Hash + Eq>(rows: &[Option<T>], chains: &'a HashTable<Chain>, end: fn(&T) -> &K, value: &K) -> Option<&'a Chain> {
    chains.find(hash(value), |c| end(at(rows, c.head)) == value)
}

impl<T: Link> LinkTable<T> {
    /// An empty table.
    pub fn new() -> Self {
        LinkTable {
            rows: Vec::new(),
            steps: Vec::new(),
            chains: [HashTable::new(), HashTable::new()],
            live: 0,
        }
    }

    /// An empty table with room for `capacity` rows.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut table = LinkTable::new();
        table.reserve(capacity);
        table
    }

    /// Makes room for `additional` more rows.
    pub fn reserve(&mut self, additional: usize) {
        self.rows.reserve(additional);
        self.steps.reserve(additional);
        let rows = &self.rows;
        let [keys, others] = &mut self.chains;
        keys.reserve(additional, |c| hash(at(rows, c.head).key()));
        others.reserve(additional, |c| hash(at(rows, c.head).other()));
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Every row, in insertion order.
    pub fn iter(&self) -> std::iter::Flatten<std::slice::Iter<'_, Option<T>>> {
        self.rows.iter().flatten()
    }

    /// The rows whose key is `key`, in insertion order.
    pub fn of(&self, key: &T::Key) -> Rows<'_, T> {
        let chain = find_chain(&self.rows, &self.chains[KEY], T::key, key);
        self.walk(KEY, chain)
    }

    /// The rows whose other end is `other`, in insertion order.
    pub fn of_other(&self, other: &T::Other) -> Rows<'_, T> {
        let chain = find_chain(&self.rows, &self.chains[OTHER], T::other, other);
        self.walk(OTHER, chain)
    }

    fn walk(&self, side: usize, chain: Option<&Chain>) -> Rows<'_, T> {
        Rows {
            table: self,
            side,
            next: chain.map_or(NIL, |c| c.head),
            left: chain.map_or(0, |c| c.len as usize),
        }
    }

    /// The position of the row linking `key` and `other`, walking the shorter of their chains.
    fn position(&self, key: &T::Key, other: &T::Other) -> Option<u32> {
        let by_key = find_chain(&self.rows, &self.chains[KEY], T::key, key)?;
        let by_other = find_chain(&self.rows, &self.chains[OTHER], T::other, other)?;
        let (side, chain) = if by_key.len <= by_other.len { (KEY, by_key) } else { (OTHER, by_other) };
        let mut pos = chain.head;
        while pos != NIL {
            let row = at(&self.rows, pos);
            if row.key() == key && row.other() == other {
                return Some(pos);
            }
            pos = self.steps[pos as usize][side].next;
        }
        None
    }

    /// The row linking `key` and `other`.
    pub fn get(&self, key: &T::Key, other: &T::Other) -> Option<&T> {
        self.position(key, other).map(|pos| at(&self.rows, pos))
    }

    /// The row linking `key` and `other`, to change anything but its ends.
    pub fn get_mut(&mut self, key: &T::Key, other: &T::Other) -> Option<&mut T> {
        let pos = self.position(key, other)?;
        self.rows[pos as usize].as_mut()
    }

    /// Whether a row links `key` and `other`.
    pub fn contains(&self, key: &T::Key, other: &T::Other) -> bool {
        self.position(key, other).is_some()
    }

    /// Adds a row at the end; gives it back when a row links the same ends. Two hash lookups,
    /// and a walk of the key's chain (an item's few rows) to find a taken pair.
    pub fn insert(&mut self, row: T) -> Result<(), T> {
        let pos = u32::try_from(self.rows.len())
            .ok()
            .filter(|p| *p != NIL)
            .expect("fewer than 2^32 - 1 rows");
        self.rows.push(Some(row));
        self.steps.push([LONE; 2]);
        let [keys, others] = &mut self.chains;
        let new = at(&self.rows, pos);
        // Pass the row's ends by reference so the closure does not hold the vector.
        let other = new.other();
        if !link_in(&self.rows, &mut self.steps, keys, (KEY, T::key), pos, Some(&|r: &T| r.other() == other)) {
            self.steps.pop();
            return Err(self.rows.pop().flatten().expect("the row just pushed"));
        }
        link_in(&self.rows, &mut self.steps, others, (OTHER, T::other), pos, None);
        self.live += 1;
        Ok(())
    }

    /// Adds a row at the end, or replaces the row linking the same ends in its place.
    pub fn upsert(&mut self, row: T) {
        if let Err(row) = self.insert(row)
            && let Some(pos) = self.position(row.key(), row.other())
        {
            self.rows[pos as usize] = Some(row);
        }
    }

    /// Takes the row at `pos` off both chains and leaves a tombstone (no squeezing: positions
    /// the caller holds stay valid).
    fn take(&mut self, pos: u32) -> T {
        let [keys, others] = &mut self.chains;
        link_out(&self.rows, &mut self.steps, keys, KEY, T::key, pos);
        link_out(&self.rows, &mut self.steps, others, OTHER, T::other, pos);
        self.live -= 1;
        self.rows[pos as usize].take().expect("a live row")
    }

    fn positions(rows: Rows<'_, T>) -> Vec<u32> {
        let table = rows.table;
        let side = rows.side;
        let mut out = Vec::with_capacity(rows.left);
        let mut pos = rows.next;
        while pos != NIL {
            out.push(pos);
            pos = table.steps[pos as usize][side].next;
        }
        out
    }

    /// Removes and returns the row linking `key` and `other`.
    pub fn remove(&mut self, key: &T::Key, other: &T::Other) -> Option<T> {
        let pos = self.position(key, other)?;
        let row = self.take(pos);
        self.settle();
        Some(row)
    }

    /// Removes and returns the rows whose key is `key`, in insertion order.
    pub fn remove_of(&mut self, key: &T::Key) -> Vec<T> {
        let positions = Self::positions(self.of(key));
        self.take_all(positions)
    }

    /// Removes and returns the rows whose other end is `other`, in insertion order.
    pub fn remove_of_other(&mut self, other: &T::Other) -> Vec<T> {
        let positions = Self::positions(self.of_other(other));
        self.take_all(positions)
    }

    fn take_all(&mut self, positions: Vec<u32>) -> Vec<T> {
        let taken = positions.into_iter().map(|pos| self.take(pos)).collect();
        self.settle();
        taken
    }

    /// Keeps the rows `keep` accepts, in order; O(rows).
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let dropped: Vec<u32> = (0..self.rows.len() as u32)
            .filter(|&pos| self.rows[pos as usize].as_ref().is_some_and(|row| !keep(row)))
            .collect();
        self.take_all(dropped);
    }

    /// Removes every row.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.steps.clear();
        self.chains.iter_mut().for_each(HashTable::clear);
        self.live = 0;
    }

    /// Squeezes the tombstones out once they outnumber the rows (and a few of them), so a
    /// removal costs O(1) amortised and the vector is at most about twice the rows.
    fn settle(&mut self) {
        let dead = self.rows.len() - self.live;
        if self.live == 0 {
            self.clear();
        } else if dead > self.live.max(16) {
            self.squeeze();
        }
    }

    /// Moves the rows down over the tombstones, in order, and renumbers the chains: O(rows),
    /// with no hashing (a chain's hash is its end's, which does not move).
    fn squeeze(&mut self) {
        let mut moved = vec![NIL; self.rows.len()];
        let mut n = 0u32;
        for (pos, row) in self.rows.iter().enumerate() {
            if row.is_some() {
                moved[pos] = n;
                n += 1;
            }
        }
        let renumber = |pos: u32| if pos == NIL { NIL } else { moved[pos as usize] };
        let mut at = 0;
        for pos in 0..self.rows.len() {
            if self.rows[pos].is_some() {
                self.rows.swap(at, pos);
                self.steps[at] = self.steps[pos].map(|s| Step {
                    prev: renumber(s.prev),
                    next: renumber(s.next),
                });
                at += 1;
            }
        }
        self.rows.truncate(at);
        self.steps.truncate(at);
        for chains in &mut self.chains {
            for chain in chains.iter_mut() {
                chain.head = renumber(chain.head);
                chain.tail = renumber(chain.tail);
            }
        }
    }
}

impl<T: Link> Default for LinkTable<T> {
    fn default() -> Self {
        LinkTable::new()
    }
}

/// The rows of one end, in insertion order: [`LinkTable::of`], [`LinkTable::of_other`].
pub struct Rows<'a, T> {
    table: &'a LinkTable<T>,
    side: usize,
    next: u32,
    left: usize,
}

impl<T> Clone for Rows<'_, T> {
    fn clone(&self) -> Self {
        Rows { ..*self }
    }
}

impl<'a, T> Iterator for Rows<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        if self.next == NIL {
            return None;
        }
        let pos = self.next;
        self.next = self.table.steps[pos as usize][self.side].next;
        self.left -= 1;
        Some(at(&self.table.rows, pos))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for Rows<'_, T> {}

impl<'a, T> IntoIterator for &'a LinkTable<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Option<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter().flatten()
    }
}

impl<T: Link> FromIterator<T> for LinkTable<T> {
    /// Collects rows; a later row linking the same ends replaces the earlier one in its place.
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut table = LinkTable::new();
        table.extend(iter);
        table
    }
}

impl<T: Link> Extend<T> for LinkTable<T> {
    /// Upserts each row.
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for row in iter {
            self.upsert(row);
        }
    }
}

impl<T: Link> From<Vec<T>> for LinkTable<T> {
    fn from(rows: Vec<T>) -> Self {
        rows.into_iter().collect()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for LinkTable<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.rows.iter().flatten()).finish()
    }
}

/// Two tables are equal when they hold equal rows for the same pairs of ends, in any order.
impl<T: Link + PartialEq> PartialEq for LinkTable<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|row| other.get(row.key(), row.other()) == Some(row))
    }
}

impl<T: Link + Eq> Eq for LinkTable<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link from a key to another end, with a payload that upserts replace.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Row(String, u32, u32);

    impl Link for Row {
        type Key = str;
        type Other = u32;
        fn key(&self) -> &str {
            &self.0
        }
        fn other(&self) -> &u32 {
            &self.1
        }
    }

    fn row(key: &str, other: u32, payload: u32) -> Row {
        Row(key.to_owned(), other, payload)
    }

    fn of(table: &LinkTable<Row>, key: &str) -> Vec<Row> {
        table.of(key).cloned().collect()
    }

    fn of_other(table: &LinkTable<Row>, other: u32) -> Vec<Row> {
        table.of_other(&other).cloned().collect()
    }

    #[test]
    fn finds_rows_by_either_end_in_insertion_order_and_refuses_a_taken_pair() {
        let mut table = LinkTable::new();
        for r in [row("a", 1, 0), row("b", 1, 1), row("a", 2, 2), row("c", 3, 3), row("a", 3, 4)] {
            table.insert(r).unwrap();
        }
        assert_eq!(table.insert(row("a", 2, 9)), Err(row("a", 2, 9)));
        assert_eq!(table.len(), 5);
        assert_eq!(of(&table, "a"), [row("a", 1, 0), row("a", 2, 2), row("a", 3, 4)]);
        assert_eq!(of_other(&table, 3), [row("c", 3, 3), row("a", 3, 4)]);
        assert_eq!(table.of("a").len(), 3);
        assert!(of(&table, "z").is_empty());
        assert_eq!(table.get("a", &2), Some(&row("a", 2, 2)));
        assert_eq!(table.get("b", &2), None);

        table.upsert(row("a", 2, 7));
        table.get_mut("c", &3).unwrap().2 = 8;
        let all: Vec<Row> = table.iter().cloned().collect();
        assert_eq!(
            all,
            [row("a", 1, 0), row("b", 1, 1), row("a", 2, 7), row("c", 3, 8), row("a", 3, 4)],
            "replacing keeps the place"
        );
    }

    #[test]
    fn removal_unlinks_from_both_ends_and_keeps_the_order() {
        let mut table: LinkTable<Row> = (0..10u32).map(|i| row(["a", "b"][(i % 2) as usize], i / 2, i)).collect();
        assert_eq!(table.len(), 10);
        assert_eq!(table.remove("a", &0), Some(row("a", 0, 0)));
        assert_eq!(table.remove("a", &0), None);
        assert_eq!(of(&table, "a"), [row("a", 1, 2), row("a", 2, 4), row("a", 3, 6), row("a", 4, 8)]);
        assert_eq!(of_other(&table, 0), [row("b", 0, 1)]);
        assert_eq!(table.remove_of_other(&1), [row("a", 1, 2), row("b", 1, 3)]);
        assert_eq!(of(&table, "b"), [row("b", 0, 1), row("b", 2, 5), row("b", 3, 7), row("b", 4, 9)]);
        assert_eq!(table.remove_of("b").len(), 4);
        assert_eq!(of_other(&table, 2), [row("a", 2, 4)]);
        table.retain(|r| r.2 != 4);
        let all: Vec<u32> = table.iter().map(|r| r.2).collect();
        assert_eq!(all, [6, 8]);
        assert_eq!(table.len(), 2);
        assert!(of_other(&table, 2).is_empty() && of(&table, "b").is_empty());
        table.insert(row("b", 3, 10)).unwrap();
        assert_eq!(of_other(&table, 3), [row("a", 3, 6), row("b", 3, 10)]);
    }

    #[test]
    fn squeezing_tombstones_keeps_every_chain() {
        let mut table: LinkTable<Row> = (0..1000u32).map(|i| row(&(i % 7).to_string(), i / 7, i)).collect();
        assert_eq!(table.len(), 1000);
        // Enough removals to squeeze several times.
        for i in (0..1000u32).filter(|i| i % 5 != 0) {
            assert_eq!(table.remove(&(i % 7).to_string(), &(i / 7)), Some(row(&(i % 7).to_string(), i / 7, i)));
        }
        assert_eq!(table.len(), 200);
        assert!(
            table.rows.len() <= 2 * table.len() + 1,
            "{} slots for {} rows",
            table.rows.len(),
            table.len()
        );
        for key in 0..7u32 {
            let rows = of(&table, &key.to_string());
            let expected: Vec<Row> = (0..1000u32)
                .filter(|i| i % 5 == 0 && i % 7 == key)
                .map(|i| row(&key.to_string(), i / 7, i))
                .collect();
            assert_eq!(rows, expected);
        }
        let by_other: usize = (0..143).map(|o| table.of_other(&o).count()).sum();
        assert_eq!(by_other, table.len());
    }

    #[test]
    fn equality_ignores_order() {
        let a: LinkTable<Row> = vec![row("x", 1, 1), row("y", 2, 2)].into();
        let b: LinkTable<Row> = vec![row("y", 2, 2), row("x", 1, 1)].into();
        let c: LinkTable<Row> = vec![row("y", 2, 2), row("x", 1, 5)].into();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, LinkTable::new());
    }

    proptest::proptest! {
        /// Any sequence of inserts, upserts and removals (by pair, by either end, by predicate)
        /// leaves the table agreeing with a plain vector handled the obvious way: the same rows in
        /// the same order, overall and per end.
        #[test]
        fn agrees_with_a_vector(ops in proptest::collection::vec((0u8..6, 0u8..6, 0u32..6, 0u32..1000), 0..400)) {
            let mut table = LinkTable::new();
            let mut naive: Vec<Row> = Vec::new();
            for (op, key, other, payload) in ops {
                let key = key.to_string();
                let r = row(&key, other, payload);
                let at = naive.iter().position(|n| n.0 == key && n.1 == other);
                match op {
                    0 => {
                        proptest::prop_assert_eq!(table.insert(r.clone()).is_ok(), at.is_none());
                        if at.is_none() { naive.push(r); }
                    }
                    1 => {
                        table.upsert(r.clone());
                        match at { Some(i) => naive[i] = r, None => naive.push(r) }
                    }
                    2 => {
                        proptest::prop_assert_eq!(table.remove(&key, &other), at.map(|i| naive.remove(i)));
                    }
                    3 => {
                        let expected: Vec<Row> = naive.iter().filter(|n| n.0 == key).cloned().collect();
                        naive.retain(|n| n.0 != key);
                        proptest::prop_assert_eq!(table.remove_of(&key), expected);
                    }
                    4 => {
                        let expected: Vec<Row> = naive.iter().filter(|n| n.1 == other).cloned().collect();
                        naive.retain(|n| n.1 != other);
                        proptest::prop_assert_eq!(table.remove_of_other(&other), expected);
                    }
                    _ => {
                        table.retain(|n| n.2 % 3 != payload % 3);
                        naive.retain(|n| n.2 % 3 != payload % 3);
                    }
                }
                proptest::prop_assert_eq!(table.len(), naive.len());
            }
            let all: Vec<Row> = table.iter().cloned().collect();
            proptest::prop_assert_eq!(&all, &naive);
            for key in 0u8..6 {
                let key = key.to_string();
                let expected: Vec<Row> = naive.iter().filter(|n| n.0 == key).cloned().collect();
                proptest::prop_assert_eq!(of(&table, &key), expected);
                proptest::prop_assert_eq!(table.of(&key).len(), naive.iter().filter(|n| n.0 == key).count());
            }
            for other in 0u32..6 {
                let expected: Vec<Row> = naive.iter().filter(|n| n.1 == other).cloned().collect();
                proptest::prop_assert_eq!(of_other(&table, other), expected);
            }
            for n in &naive {
                proptest::prop_assert_eq!(table.get(&n.0, &n.1), Some(n));
            }
            let rebuilt: LinkTable<Row> = naive.iter().rev().cloned().collect();
            proptest::prop_assert!(table == rebuilt);
        }
    }
}
