//! The packed identities the checker and the ledger share: a key's sequence space, and where
//! its events were read.

/// Identity of one key's sequence space, packed into a `u64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u64);

impl KeyId {
    /// Packs producer instance (16 bits), aggregate (16 bits) and aggregate index (32 bits).
    pub fn new(producer: u16, aggregate: u16, index: u32) -> KeyId {
        KeyId(((producer as u64) << 48) | ((aggregate as u64) << 32) | index as u64)
    }

    pub fn producer(self) -> u16 {
        (self.0 >> 48) as u16
    }

    pub fn aggregate(self) -> u16 {
        (self.0 >> 32) as u16
    }

    pub fn index(self) -> u32 {
        self.0 as u32
    }
}

/// A topic index and a partition packed into a `u32` (16 bits each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partition(pub u32);

impl Partition {
    pub fn new(topic: usize, partition: i32) -> Partition {
        Partition(((topic as u32 & 0xffff) << 16) | (partition as u32 & 0xffff))
    }

    pub fn topic(self) -> usize {
        (self.0 >> 16) as usize
    }

    pub fn partition(self) -> usize {
        (self.0 & 0xffff) as usize
    }
}
