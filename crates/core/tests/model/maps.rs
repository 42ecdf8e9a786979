//! The model's mapping tree: pages of tasks and the root task's window originals, each
//! derived from another, with rights; map, grant and recursive unmap as `docs/mapping.md`
//! describes them.

use std::collections::{BTreeMap, HashMap};

/// The root task, as a task index of the model.
pub const ROOT: usize = usize::MAX;

/// One mapping.
#[derive(Clone, Debug)]
pub struct MNode {
    pub task: usize,
    pub va: u64,
    pub frame: u64,
    pub rights: u8,
    pub parent: Option<usize>,
    pub alive: bool,
    /// An original of the root task's window (never unmapped, never moved).
    pub window: bool,
}

/// The tree.
#[derive(Default)]
pub struct Maps {
    pub nodes: Vec<MNode>,
    index: HashMap<(usize, u64), usize>,
}

impl Maps {
    fn at(&self, task: usize, va: u64) -> Option<usize> {
        self.index.get(&(task, va)).copied()
    }

    /// The root window's original for the page at `window_va` showing frame `frame`.
    pub fn window(&mut self, window_va: u64, frame: u64) -> usize {
        if let Some(n) = self.at(ROOT, window_va) {
            return n;
        }
        self.insert(MNode {
            task: ROOT,
            va: window_va,
            frame,
            rights: 7,
            parent: None,
            alive: true,
            window: true,
        })
    }

    fn insert(&mut self, n: MNode) -> usize {
        let id = self.nodes.len();
        self.index.insert((n.task, n.va), id);
        self.nodes.push(n);
        id
    }

    fn is_ancestor_or_self(&self, a: usize, b: usize) -> bool {
        let mut cur = Some(b);
        while let Some(c) = cur {
            if c == a {
                return true;
            }
            cur = self.nodes[c].parent;
        }
        false
    }

    /// Live nodes strictly below `id`, parents before children.
    fn descendants(&self, id: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut frontier = vec![id];
        while let Some(p) = frontier.pop() {
            for (i, n) in self.nodes.iter().enumerate() {
                if n.alive && n.parent == Some(p) {
                    out.push(i);
                    frontier.push(i);
                }
            }
        }
        out
    }

    fn remove(&mut self, id: usize) {
        let n = &mut self.nodes[id];
        n.alive = false;
        self.index.remove(&(n.task, n.va));
    }

    /// Removes everything derived from `id` and, with `include_self`, `id` itself (unless it
    /// is a window original).
    fn unmap(&mut self, id: usize, include_self: bool) {
        for d in self.descendants(id) {
            self.remove(d);
        }
        if include_self && !self.nodes[id].window {
            self.remove(id);
        }
    }

    /// Limits everything derived from `id` to `rights`; a node left with none is unmapped.
    fn restrict(&mut self, id: usize, rights: u8) {
        for d in self.descendants(id) {
            if !self.nodes[d].alive {
                continue;
            }
            let r = self.nodes[d].rights & rights;
            if r == self.nodes[d].rights {
                continue;
            }
            if r == 0 {
                self.unmap(d, true);
            } else {
                self.nodes[d].rights = r;
            }
        }
    }

    /// Maps (or grants) page `sva` of task `from` to page `dva` of task `to`.
    pub fn map(&mut self, from: usize, sva: u64, to: usize, dva: u64, rights: u8, grant: bool) {
        let Some(src) = self.at(from, sva) else { return };
        let r = rights & self.nodes[src].rights & 7;
        if r == 0 || (from == to && sva == dva) {
            return;
        }
        if let Some(existing) = self.at(to, dva) {
            if self.is_ancestor_or_self(existing, src) {
                return;
            }
            if !grant && self.nodes[existing].parent == Some(src) {
                self.nodes[existing].rights = r;
                self.restrict(existing, r);
                return;
            }
            self.unmap(existing, true);
        }
        if grant && !self.nodes[src].window {
            self.index.remove(&(from, sva));
            let n = &mut self.nodes[src];
            n.task = to;
            n.va = dva;
            n.rights = r;
            self.index.insert((to, dva), src);
            self.restrict(src, r);
            return;
        }
        let frame = self.nodes[src].frame;
        self.insert(MNode {
            task: to,
            va: dva,
            frame,
            rights: r,
            parent: Some(src),
            alive: true,
            window: false,
        });
    }

    /// Unmaps page `va` of `task`: what was derived from it, and with `include_self` the
    /// task's own mapping.
    pub fn unmap_at(&mut self, task: usize, va: u64, include_self: bool) {
        if let Some(n) = self.at(task, va) {
            self.unmap(n, include_self);
        }
    }

    /// What task `task` has mapped: page -> (frame, rights).
    pub fn view(&self, task: usize) -> BTreeMap<u64, (u64, u8)> {
        self.nodes.iter().filter(|n| n.alive && n.task == task).map(|n| (n.va, (n.frame, n.rights))).collect()
    }

    /// Window originals made so far.
    pub fn window_nodes(&self) -> usize {
        self.nodes.iter().filter(|n| n.window).count()
    }
}
