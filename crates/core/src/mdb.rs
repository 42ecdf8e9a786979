//! The mapping database: which mapping was derived from which (seed 002, flexpages).
//!
//! Every mapping of a page into a task and every capability in a capability space is a
//! node. A node made by a map item is a child of the node it was mapped from; grant moves
//! a node to the receiver, keeping its children. Unmap removes a node's whole subtree:
//! revocation is recursive across every address space. The tree is kept with parent,
//! first-child and sibling links, so insertion and removal are O(1) and a subtree walk is
//! linear in its size.

extern crate alloc;
use alloc::vec::Vec;
use pecan_abi::Error;
use pecan_hal::PhysAddr;

use crate::obj::table::{Handle, Table};

/// A node of the mapping database.
pub type NodeId = Handle;

/// What a node maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A 4 KiB frame of memory, mapped at a page address.
    Frame(PhysAddr),
    /// A capability, in a capability slot.
    Cap,
}

/// One mapping.
#[derive(Clone, Copy, Debug)]
pub struct Node {
    /// The task holding the mapping.
    pub task: Handle,
    /// Page address (memory) or slot (capability) in that task.
    pub addr: u64,
    /// What is mapped.
    pub res: Resource,
    /// Rights of this mapping (`MemRights` or `CapRights` bits).
    pub rights: u8,
    /// The mapping it was derived from (`None`: an original).
    pub parent: Option<NodeId>,
    first_child: Option<NodeId>,
    next_sibling: Option<NodeId>,
    prev_sibling: Option<NodeId>,
}

impl crate::obj::table::Vacant for Node {
    fn vacant() -> Self {
        Node {
            task: Handle::NONE,
            addr: 0,
            res: Resource::Cap,
            rights: 0,
            parent: None,
            first_child: None,
            next_sibling: None,
            prev_sibling: None,
        }
    }
}

/// The mapping database.
pub struct Mdb {
    nodes: Table<Node>,
}

/// Bytes of kernel memory one node costs (charged to the task that holds the mapping).
pub const NODE_COST: u64 = 64;

impl Mdb {
    /// An empty database with room for at most `capacity` nodes (grown on demand).
    pub fn new(capacity: usize) -> Self {
        Mdb { nodes: Table::growable(capacity) }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node `id`.
    pub fn get(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// A new original mapping (no parent).
    pub fn insert_root(
        &mut self,
        task: Handle,
        addr: u64,
        res: Resource,
        rights: u8,
    ) -> Result<NodeId, Error> {
        self.nodes
            .insert(Node {
                task,
                addr,
                res,
                rights,
                parent: None,
                first_child: None,
                next_sibling: None,
                prev_sibling: None,
            })
            .map_err(|_| Error::OutOfMemory)
    }

    /// A new mapping derived from `parent`.
    pub fn insert_child(
        &mut self,
        parent: NodeId,
        task: Handle,
        addr: u64,
        rights: u8,
    ) -> Result<NodeId, Error> {
        let p = *self.nodes.get(parent).ok_or(Error::BadFlexpage)?;
        let id = self
            .nodes
            .insert(Node {
                task,
                addr,
                res: p.res,
                rights,
                parent: Some(parent),
                first_child: None,
                next_sibling: p.first_child,
                prev_sibling: None,
            })
            .map_err(|_| Error::OutOfMemory)?;
        if let Some(old) = p.first_child
            && let Some(o) = self.nodes.get_mut(old)
        {
            o.prev_sibling = Some(id);
        }
        if let Some(pn) = self.nodes.get_mut(parent) {
            pn.first_child = Some(id);
        }
        Ok(id)
    }

    /// Changes the rights of node `id`.
    pub fn set_rights(&mut self, id: NodeId, rights: u8) {
        if let Some(n) = self.nodes.get_mut(id) {
            n.rights = rights;
        }
    }

    /// Moves node `id` to another task and address (grant), keeping its place in the tree.
    pub fn move_to(&mut self, id: NodeId, task: Handle, addr: u64) {
        if let Some(n) = self.nodes.get_mut(id) {
            n.task = task;
            n.addr = addr;
        }
    }

    /// Whether `a` is `b` or a mapping `b` was derived from (directly or not).
    pub fn is_ancestor_or_self(&self, a: NodeId, b: NodeId) -> bool {
        let mut cur = Some(b);
        while let Some(c) = cur {
            if c == a {
                return true;
            }
            cur = self.nodes.get(c).and_then(|n| n.parent);
        }
        false
    }

    /// The nodes strictly below `id`, parents before children.
    pub fn descendants(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let Some(n) = self.nodes.get(id) else { return out };
        let mut stack = Vec::new();
        if let Some(c) = n.first_child {
            stack.push(c);
        }
        while let Some(c) = stack.pop() {
            out.push(c);
            if let Some(cn) = self.nodes.get(c) {
                if let Some(s) = cn.next_sibling {
                    stack.push(s);
                }
                if let Some(k) = cn.first_child {
                    stack.push(k);
                }
            }
        }
        out
    }

    /// Removes the node `id`, which must have no children. Returns it.
    pub fn remove_leaf(&mut self, id: NodeId) -> Option<Node> {
        let n = *self.nodes.get(id)?;
        debug_assert!(n.first_child.is_none(), "removing a node with children");
        match n.prev_sibling {
            Some(p) => {
                if let Some(pn) = self.nodes.get_mut(p) {
                    pn.next_sibling = n.next_sibling;
                }
            }
            None => {
                if let Some(par) = n.parent.and_then(|p| self.nodes.get_mut(p)) {
                    par.first_child = n.next_sibling;
                }
            }
        }
        if let Some(s) = n.next_sibling.and_then(|s| self.nodes.get_mut(s)) {
            s.prev_sibling = n.prev_sibling;
        }
        self.nodes.remove(id)
    }

    /// Every node (for invariant checks).
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, &Node)> {
        self.nodes.iter()
    }

    /// Whether `id` has children.
    pub fn has_children(&self, id: NodeId) -> bool {
        self.nodes.get(id).is_some_and(|n| n.first_child.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u32) -> Handle {
        Handle { idx: i, generation: 1 }
    }

    #[test]
    fn tree_and_removal() {
        let mut m = Mdb::new(100);
        let r = m.insert_root(h(0), 0x1000, Resource::Frame(PhysAddr(0x5000)), 7).unwrap();
        let a = m.insert_child(r, h(1), 0x2000, 7).unwrap();
        let b = m.insert_child(r, h(2), 0x3000, 7).unwrap();
        let a1 = m.insert_child(a, h(3), 0x4000, 7).unwrap();
        let a2 = m.insert_child(a, h(4), 0x4000, 7).unwrap();
        let mut d = m.descendants(r);
        d.sort();
        let mut want = alloc::vec![a, b, a1, a2];
        want.sort();
        assert_eq!(d, want);
        let mut da = m.descendants(a);
        da.sort();
        assert_eq!(da.len(), 2);
        assert_eq!(m.get(a1).unwrap().res, Resource::Frame(PhysAddr(0x5000)));
        // Parents come before children.
        let order = m.descendants(r);
        let pos = |x| order.iter().position(|&y| y == x).unwrap();
        assert!(pos(a) < pos(a1) && pos(a) < pos(a2));
        // Remove leaves in reverse order; the tree empties cleanly.
        for n in order.into_iter().rev() {
            m.remove_leaf(n).unwrap();
        }
        assert!(!m.has_children(r));
        m.remove_leaf(r).unwrap();
        assert!(m.is_empty());
    }

    #[test]
    fn middle_sibling_removal() {
        let mut m = Mdb::new(10);
        let r = m.insert_root(h(0), 0, Resource::Cap, 7).unwrap();
        let a = m.insert_child(r, h(1), 1, 7).unwrap();
        let b = m.insert_child(r, h(1), 2, 7).unwrap();
        let c = m.insert_child(r, h(1), 3, 7).unwrap();
        m.remove_leaf(b).unwrap();
        let mut d = m.descendants(r);
        d.sort();
        let mut want = alloc::vec![a, c];
        want.sort();
        assert_eq!(d, want);
        m.remove_leaf(c).unwrap();
        m.remove_leaf(a).unwrap();
        assert!(!m.has_children(r));
    }

    #[test]
    fn ancestry() {
        let mut m = Mdb::new(10);
        let r = m.insert_root(h(0), 0, Resource::Cap, 7).unwrap();
        let a = m.insert_child(r, h(1), 1, 7).unwrap();
        let b = m.insert_child(a, h(2), 2, 7).unwrap();
        let c = m.insert_child(r, h(3), 3, 7).unwrap();
        assert!(m.is_ancestor_or_self(r, b) && m.is_ancestor_or_self(a, b) && m.is_ancestor_or_self(b, b));
        assert!(!m.is_ancestor_or_self(b, a) && !m.is_ancestor_or_self(c, b) && !m.is_ancestor_or_self(a, c));
    }

    #[test]
    fn capacity_is_a_defined_error() {
        let mut m = Mdb::new(1);
        let r = m.insert_root(h(0), 0, Resource::Cap, 7).unwrap();
        assert_eq!(m.insert_child(r, h(1), 1, 7), Err(Error::OutOfMemory));
    }
}
