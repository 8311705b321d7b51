//! NUMA node states and distances (include/linux/nodemask.h, arch/x86/mm/numa.c
//! `node_distance` / `numa_set_distance`).

use crate::bitmap::Bitmap;

/// LOCAL_DISTANCE / REMOTE_DISTANCE.
pub const LOCAL_DISTANCE: u32 = 10;
pub const REMOTE_DISTANCE: u32 = 20;

/// The node state masks (`node_states[]`), MAX_NUMNODES wide.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeStates {
    pub possible: Bitmap,
    pub online: Bitmap,
    /// N_NORMAL_MEMORY (== N_HIGH_MEMORY on 64-bit).
    pub normal_memory: Bitmap,
    /// N_MEMORY.
    pub memory: Bitmap,
    /// N_CPU.
    pub cpu: Bitmap,
    /// N_GENERIC_INITIATOR (never set: no generic initiators are emulated).
    pub generic_initiator: Bitmap,
}

impl NodeStates {
    #[must_use]
    pub fn new(max_numnodes: usize) -> Self {
        let b = Bitmap::new(max_numnodes);
        NodeStates {
            possible: b.clone(),
            online: b.clone(),
            normal_memory: b.clone(),
            memory: b.clone(),
            cpu: b.clone(),
            generic_initiator: b,
        }
    }
}

/// `numa_distance[]`: a cnt x cnt table; node ids beyond it are 10 local / 20 remote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DistanceTable {
    cnt: usize,
    table: Vec<u8>,
}

impl DistanceTable {
    /// An empty table (no SLIT): every distance is 10 or 20.
    #[must_use]
    pub fn none() -> Self {
        DistanceTable::default()
    }

    /// A cnt x cnt table filled with the defaults (`numa_alloc_distance`).
    #[must_use]
    pub fn alloc(cnt: usize) -> Self {
        let mut table = vec![REMOTE_DISTANCE as u8; cnt * cnt];
        for i in 0..cnt {
            table[i * cnt + i] = LOCAL_DISTANCE as u8;
        }
        DistanceTable { cnt, table }
    }

    /// Table size (`numa_distance_cnt`).
    #[must_use]
    pub fn cnt(&self) -> usize {
        self.cnt
    }

    /// `numa_set_distance`: out-of-table ids, values > 255 and a non-10 diagonal are ignored.
    pub fn set(&mut self, from: usize, to: usize, d: u32) {
        if from >= self.cnt || to >= self.cnt || d > 255 || (from == to && d != LOCAL_DISTANCE) {
            return;
        }
        self.table[from * self.cnt + to] = d as u8;
    }

    /// The in-table distances from `from` to nodes `0..cnt`, if `from` is in the table.
    #[must_use]
    pub fn row(&self, from: usize) -> Option<&[u8]> {
        (from < self.cnt).then(|| &self.table[from * self.cnt..(from + 1) * self.cnt])
    }

    /// [`DistanceTable::set`] of `(to, row[j])` for every `(j, to)` of `cols`: one SLIT row.
    pub fn set_row(&mut self, from: usize, cols: &[(usize, usize)], row: &[u32]) {
        if from >= self.cnt {
            return;
        }
        let dst = &mut self.table[from * self.cnt..(from + 1) * self.cnt];
        for &(j, to) in cols {
            let Some(&d) = row.get(j) else { continue };
            if to < dst.len() && d <= 255 && (from != to || d == LOCAL_DISTANCE) {
                dst[to] = d as u8;
            }
        }
    }

    /// [`DistanceTable::set_row`] with column j being node j for every node of the table
    /// (the usual SLIT): one converting copy when every value is in range and the diagonal
    /// local (this runs for every entry of a 1024-node table).
    pub fn set_full_row(&mut self, from: usize, row: &[u32]) {
        let n = self.cnt;
        // An OR is <= 255 exactly when every value is (and vectorises, unlike a max).
        if from < n && row.len() >= n && row[from] == LOCAL_DISTANCE && row[..n].iter().fold(0, |m, &d| m | d) <= 255 {
            for (o, &d) in self.table[from * n..(from + 1) * n].iter_mut().zip(row) {
                *o = d as u8;
            }
        } else {
            let cols: Vec<(usize, usize)> = (0..n).map(|k| (k, k)).collect();
            self.set_row(from, &cols, row);
        }
    }

    /// `node_distance(a, b)` (`__node_distance`).
    #[must_use]
    pub fn get(&self, from: usize, to: usize) -> u32 {
        if from >= self.cnt || to >= self.cnt {
            return if from == to { LOCAL_DISTANCE } else { REMOTE_DISTANCE };
        }
        u32::from(self.table[from * self.cnt + to])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn set_full_row_equals_identity_set_row(
            cnt in 0usize..6,
            from in 0usize..7,
            row in proptest::collection::vec(prop_oneof![5u32..40, 0u32..300], 0..8),
        ) {
            let (mut fast, mut slow) = (DistanceTable::alloc(cnt), DistanceTable::alloc(cnt));
            fast.set_full_row(from, &row);
            let cols: Vec<(usize, usize)> = (0..cnt).map(|k| (k, k)).collect();
            slow.set_row(from, &cols, &row);
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn set_row_equals_set_per_entry(
            cnt in 0usize..6,
            from in 0usize..7,
            cols in proptest::collection::vec((0usize..8, 0usize..7), 0..10),
            row in proptest::collection::vec(0u32..300, 0..8),
        ) {
            let (mut fast, mut slow) = (DistanceTable::alloc(cnt), DistanceTable::alloc(cnt));
            fast.set_row(from, &cols, &row);
            for &(j, to) in &cols {
                if let Some(&d) = row.get(j) {
                    slow.set(from, to, d);
                }
            }
            prop_assert_eq!(fast.table, slow.table);
        }
    }
}
