//! Persistent vectors for the snapshot: cloning one is O(1), and changing or appending a row
//! copies only the path to it, so the next snapshot shares everything a write did not touch.
//!
//! [`CowVec`] is a fixed three-level tree: a root of spines, each spine 64 leaves, each leaf 64
//! rows (fewer for tables that choose so), every level an `Arc<[_]>`. Reading row `i` is three
//! loads (root, spine, leaf) and never allocates; a pass over every row walks the leaves as
//! slices, so the listing's scan stays a loop over packed arrays. Writing row `i` copies the root
//! (one pointer per spine), one spine (64 pointers) and one leaf; later writes to the same path
//! in the same snapshot copy nothing more.
//!
//! Why not `imbl::Vector`: its RRB tree indexes through a variable number of levels with size
//! tables and a cursor cache, which costs the decision hot path several times what it reads
//! today; a fixed depth keeps reads at a constant two extra loads, mostly from cache (the root
//! and spines of a million rows fit in about 70 KB).
//!
//! [`Rows`] adds tombstones: a deleted entity's slot stays (so indices held elsewhere remain
//! valid) and reads as absent.

use std::sync::Arc;

/// Rows per leaf, as a power of two, unless a table says otherwise.
pub const LEAF_BITS: u32 = 6;
const SPINE_BITS: u32 = 6;
const SPINE: usize = 1 << SPINE_BITS;

type Leaf<T> = Arc<[T]>;
type Spine<T> = Arc<[Leaf<T>]>;

/// A persistent vector (see the module documentation) with leaves of `1 << B` rows. Smaller
/// leaves suit large rows that are rewritten scattered (a role given to a big group rewrites
/// users all over the table): each write copies fewer rows.
pub struct CowVec<T, const B: u32 = LEAF_BITS> {
    root: Arc<[Spine<T>]>,
    len: usize,
}

impl<T, const B: u32> Clone for CowVec<T, B> {
    fn clone(&self) -> Self {
        CowVec {
            root: self.root.clone(),
            len: self.len,
        }
    }
}

impl<T, const B: u32> Default for CowVec<T, B> {
    fn default() -> Self {
        CowVec {
            root: Arc::from(Vec::new()),
            len: 0,
        }
    }
}

impl<T: std::fmt::Debug, const B: u32> std::fmt::Debug for CowVec<T, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The slice behind an `Arc`, copied first when another snapshot shares it.
fn unique<T: Clone>(arc: &mut Arc<[T]>) -> &mut [T] {
    Arc::make_mut(arc)
}

/// `items` with `item` appended, as a new `Arc` (the old one may be shared).
fn appended<T: Clone>(items: &Arc<[T]>, item: T) -> Arc<[T]> {
    let mut out = Vec::with_capacity(items.len() + 1);
    out.extend_from_slice(items);
    out.push(item);
    Arc::from(out)
}

impl<T, const B: u32> CowVec<T, B> {
    const LEAF: usize = 1 << B;
    const BLOCK_BITS: u32 = B + SPINE_BITS;

    /// An empty vector.
    pub fn new() -> Self {
        CowVec::default()
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Row `i`.
    #[inline(always)]
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        // In range: every level below is full but the last, so the indexing cannot fail.
        let spine = &self.root[i >> Self::BLOCK_BITS];
        let leaf = &spine[(i >> B) & (SPINE - 1)];
        Some(&leaf[i & (Self::LEAF - 1)])
    }

    /// The rows as consecutive slices (one per leaf), in order.
    pub fn leaves(&self) -> impl Iterator<Item = &[T]> + '_ {
        self.root.iter().flat_map(|spine| spine.iter().map(|leaf| &leaf[..]))
    }

    /// Every row, in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.leaves().flatten()
    }

    /// The indices whose leaf `other` does not share with `self`, in order: a superset of the
    /// rows that differ between two versions of one vector (the rows of a leaf either version
    /// copied, and those only one of them has). Costs one pointer comparison per spine and per
    /// leaf of a copied spine, so comparing a version with the one it was derived from costs
    /// what the derivation copied.
    pub fn unshared(&self, other: &Self) -> Vec<usize> {
        let len = self.len.max(other.len);
        let mut out = Vec::new();
        let spines = self.root.len().max(other.root.len());
        for s in 0..spines {
            let (a, b) = (self.root.get(s), other.root.get(s));
            if let (Some(a), Some(b)) = (a, b)
                && Arc::ptr_eq(a, b)
            {
                continue;
            }
            let leaves = a.map_or(0, |a| a.len()).max(b.map_or(0, |b| b.len()));
            for l in 0..leaves {
                if let (Some(x), Some(y)) = (a.and_then(|a| a.get(l)), b.and_then(|b| b.get(l)))
                    && Arc::ptr_eq(x, y)
                {
                    continue;
                }
                let start = (s << Self::BLOCK_BITS) | (l << B);
                out.extend(start..(start + Self::LEAF).min(len));
            }
        }
        out
    }
}

impl<T: Clone, const B: u32> CowVec<T, B> {
    /// Row `i`, to change in place: copies the shared part of its path first.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        let spine = unique(&mut self.root).get_mut(i >> Self::BLOCK_BITS)?;
        let leaf = unique(spine).get_mut((i >> B) & (SPINE - 1))?;
        unique(leaf).get_mut(i & (Self::LEAF - 1))
    }

    /// Replaces row `i`; false when out of range.
    pub fn set(&mut self, i: usize, value: T) -> bool {
        match self.get_mut(i) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }

    /// Appends a row (copies at most the last leaf, the last spine and the root).
    pub fn push(&mut self, value: T) {
        let i = self.len;
        let (s, l) = (i >> Self::BLOCK_BITS, (i >> B) & (SPINE - 1));
        if i & (Self::LEAF - 1) != 0 {
            // The last leaf has room: rebuild it one longer.
            let root = unique(&mut self.root);
            let spine = unique(&mut root[s]);
            spine[l] = appended(&spine[l], value);
        } else if l != 0 {
            // A new leaf in the last spine.
            let root = unique(&mut self.root);
            root[s] = appended(&root[s], Arc::from(vec![value]));
        } else {
            // A new spine.
            let leaf: Leaf<T> = Arc::from(vec![value]);
            self.root = appended(&self.root, Arc::from(vec![leaf]));
        }
        self.len += 1;
    }
}

impl<T, const B: u32> FromIterator<T> for CowVec<T, B> {
    /// Packs rows into full leaves and spines (no copy-on-write overhead).
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let leaf_len = 1usize << B;
        let mut spines: Vec<Spine<T>> = Vec::new();
        let mut leaves: Vec<Leaf<T>> = Vec::with_capacity(SPINE);
        let mut rows: Vec<T> = Vec::with_capacity(leaf_len);
        let mut len = 0;
        for row in iter {
            rows.push(row);
            len += 1;
            if rows.len() == leaf_len {
                leaves.push(Arc::from(std::mem::replace(&mut rows, Vec::with_capacity(leaf_len))));
                if leaves.len() == SPINE {
                    spines.push(Arc::from(std::mem::replace(&mut leaves, Vec::with_capacity(SPINE))));
                }
            }
        }
        if !rows.is_empty() {
            leaves.push(Arc::from(rows));
        }
        if !leaves.is_empty() {
            spines.push(Arc::from(leaves));
        }
        CowVec {
            root: Arc::from(spines),
            len,
        }
    }
}

/// Entities by dense index, with tombstones: a deleted entity keeps its slot and reads as
/// absent, so an index never comes to mean another entity.
pub struct Rows<T, const B: u32 = LEAF_BITS>(CowVec<Option<T>, B>);

impl<T, const B: u32> Clone for Rows<T, B> {
    fn clone(&self) -> Self {
        Rows(self.0.clone())
    }
}

impl<T, const B: u32> Default for Rows<T, B> {
    fn default() -> Self {
        Rows(CowVec::default())
    }
}

impl<T: std::fmt::Debug, const B: u32> std::fmt::Debug for Rows<T, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl<T, const B: u32> Rows<T, B> {
    /// The number of slots, tombstones included: every index below it was handed out once.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no slot was ever handed out.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entity in slot `i`; `None` past the end or for a deleted entity.
    #[inline(always)]
    pub fn get(&self, i: usize) -> Option<&T> {
        self.0.get(i).and_then(Option::as_ref)
    }

    /// The live entities with their slots, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> + '_ {
        self.0.iter().enumerate().filter_map(|(i, row)| row.as_ref().map(|row| (i, row)))
    }

    /// Every slot in order, `None` for a tombstone.
    pub fn slots(&self) -> impl Iterator<Item = Option<&T>> + '_ {
        self.0.iter().map(Option::as_ref)
    }

    /// The slots whose leaf the two versions do not share (see [`CowVec::unshared`]).
    pub fn unshared(&self, other: &Self) -> Vec<usize> {
        self.0.unshared(&other.0)
    }
}

impl<T: Clone, const B: u32> Rows<T, B> {
    /// The entity in slot `i`, to change in place.
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.0.get_mut(i).and_then(Option::as_mut)
    }

    /// Fills slot `i` (or makes it a tombstone with `None`).
    pub(crate) fn set(&mut self, i: usize, row: Option<T>) {
        self.0.set(i, row);
    }

    /// Appends an entity and returns its slot.
    pub(crate) fn push(&mut self, row: T) -> usize {
        self.0.push(Some(row));
        self.0.len() - 1
    }
}

impl<T, const B: u32> Rows<T, B> {
    /// Rows from slots, `None` for a tombstone.
    pub(crate) fn from_slots(slots: Vec<Option<T>>) -> Self {
        Rows(slots.into_iter().collect())
    }
}

impl<T, const B: u32> FromIterator<T> for Rows<T, B> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Rows(iter.into_iter().map(Some).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_writes_and_appends_across_leaf_and_spine_boundaries() {
        let mut v: CowVec<usize> = (0..10_000).collect();
        assert_eq!(v.len(), 10_000);
        assert!((0..10_000).all(|i| v.get(i) == Some(&i)));
        assert_eq!(v.get(10_000), None);
        let before = v.clone();
        for i in [0, 63, 64, 4095, 4096, 9_999] {
            assert!(v.set(i, i + 1));
        }
        assert!(!v.set(10_000, 0));
        for i in 10_000..12_345 {
            v.push(i);
        }
        assert_eq!(v.len(), 12_345);
        for i in 0..12_345 {
            let expected = if [0, 63, 64, 4095, 4096, 9_999].contains(&i) { i + 1 } else { i };
            assert_eq!(v.get(i), Some(&expected), "{i}");
        }
        // The earlier version is untouched.
        assert_eq!(before.len(), 10_000);
        assert!((0..10_000).all(|i| before.get(i) == Some(&i)));
        assert_eq!(v.iter().count(), 12_345);
        assert!(v.leaves().all(|leaf| leaf.len() <= 1 << LEAF_BITS));
    }

    #[test]
    fn small_leaves_read_and_write_alike() {
        let mut v: CowVec<u32, 3> = (0..5_000).collect();
        let before = v.clone();
        for i in (0..5_000).step_by(7) {
            v.set(i, 0);
        }
        v.push(5_000);
        assert!((0..5_000).all(|i| before.get(i as usize) == Some(&i)));
        assert!((0..=5_000u32).all(|i| v.get(i as usize) == Some(&if i % 7 == 0 && i < 5_000 { 0 } else { i })));
        assert!(v.leaves().all(|leaf| leaf.len() <= 8));
    }

    #[test]
    fn pushing_onto_an_empty_vector_matches_collecting() {
        let mut pushed: CowVec<u32> = CowVec::new();
        for i in 0..9_000u32 {
            pushed.push(i);
            let copy = pushed.clone();
            assert_eq!(copy.get(i as usize), Some(&i));
        }
        let collected: CowVec<u32> = (0..9_000).collect();
        assert!(pushed.iter().eq(collected.iter()));
    }

    #[test]
    fn a_write_shares_every_untouched_leaf() {
        let v: CowVec<u64> = (0..100_000).collect();
        let mut w = v.clone();
        w.set(70_000, 0);
        let shared = v.root.iter().zip(w.root.iter()).filter(|(a, b)| Arc::ptr_eq(a, b)).count();
        assert_eq!(shared, v.root.len() - 1);
        assert_eq!(v.get(70_000), Some(&70_000));
        assert_eq!(w.get(70_000), Some(&0));
    }

    #[test]
    fn rows_keep_slots_of_deleted_entities() {
        let mut rows: Rows<&str> = ["a", "b", "c"].into_iter().collect();
        rows.set(1, None);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows.get(1), None);
        assert_eq!(rows.push("d"), 3);
        assert_eq!(rows.iter().map(|(i, r)| (i, *r)).collect::<Vec<_>>(), vec![(0, "a"), (2, "c"), (3, "d")]);
    }

    proptest::proptest! {
        /// Any sequence of pushes and writes, on clones taken along the way, reads like a Vec.
        #[test]
        fn agrees_with_a_vec(ops in proptest::collection::vec((0u8..3, 0usize..20_000, 0u32..1000), 0..300)) {
            let mut v: CowVec<u32> = CowVec::new();
            let mut naive: Vec<u32> = Vec::new();
            let mut versions = Vec::new();
            for (op, at, value) in ops {
                match op {
                    0 => {
                        for _ in 0..(at % 200) {
                            v.push(value);
                            naive.push(value);
                        }
                    }
                    1 if !naive.is_empty() => {
                        let i = at % naive.len();
                        v.set(i, value);
                        naive[i] = value;
                    }
                    _ => versions.push((v.clone(), naive.clone())),
                }
            }
            versions.push((v, naive));
            for (v, naive) in versions {
                proptest::prop_assert_eq!(v.len(), naive.len());
                proptest::prop_assert!(v.iter().eq(naive.iter()));
                for (i, x) in naive.iter().enumerate() {
                    proptest::prop_assert_eq!(v.get(i), Some(x));
                }
            }
        }
    }
}
