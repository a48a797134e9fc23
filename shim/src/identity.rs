//! A file keeps the identity (`st_dev`, `st_ino`) this process knows it by while the
//! process holds it open, across lead moves. A lead move makes the program's fds the other
//! member's files, which have other inode numbers (and, on another file system, another
//! device): SQLite compares the inode of a database's path with the one it saw at open
//! before every write transaction and refuses to write (SQLITE_READONLY_DBMOVED) when they
//! differ, and it finds the connections of one file that share POSIX locks by (device,
//! inode); svn (E200031) and others do the same. So every stat the process makes of a file
//! it had open when the lead moved (by name, by fd, through any open of it made since)
//! shows the identity it had before the move, as long as some open of it is held here.
//! Files not open at a move show their real identity: a program that remembers inode
//! numbers of files it closed (git's index, `find`'s loop check) sees them change, as after
//! a restore from backup. Directory entries' `d_ino` are not rewritten.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Weak};

/// (device, inode).
pub type Id = (u64, u64);

/// Something that lives as long as an open of a file does (an OCB's `FileOrder`).
pub trait Holder: Clone {
    fn alive(&self) -> bool;
    fn same(&self, other: &Self) -> bool;
}

impl<T> Holder for Weak<T> {
    fn alive(&self) -> bool {
        self.strong_count() > 0
    }
    fn same(&self, other: &Self) -> bool {
        Weak::ptr_eq(self, other)
    }
}

struct Pin<H> {
    shown: Id,
    holders: Vec<H>,
}

impl<H: Holder> Pin<H> {
    fn hold(&mut self, holder: &H) {
        if !self.holders.iter().any(|h| h.same(holder)) {
            self.holders.push(holder.clone());
        }
    }
}

/// The files shown with another identity than their own, by their own.
pub struct Pins<H> {
    by_real: HashMap<Id, Pin<H>>,
}

impl<H: Holder> Pins<H> {
    pub fn new() -> Pins<H> {
        Pins { by_real: HashMap::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.by_real.is_empty()
    }

    /// The identity shown for the file whose own is `real`. A pin no open holds any more
    /// is dropped: the file may have gone and its inode number be another file's.
    pub fn shown(&mut self, real: Id) -> Id {
        let Some(pin) = self.by_real.get_mut(&real) else { return real };
        pin.holders.retain(Holder::alive);
        if pin.holders.is_empty() {
            self.by_real.remove(&real);
            return real;
        }
        pin.shown
    }

    /// `holder`'s open was of the file `before` and is now of `after` (the lead moved): it
    /// goes on showing `shown`, what `before` showed before any open of it moved (another
    /// open of the file that moved first may have let its pin go).
    pub fn moved(&mut self, holder: &H, before: Id, shown: Id, after: Id) {
        self.let_go(holder, before);
        if after == shown {
            // Back on the file it was opened on (a lead move undone).
            self.let_go(holder, after);
            return;
        }
        self.by_real.entry(after).or_insert_with(|| Pin { shown, holders: Vec::new() }).hold(holder);
    }

    /// A new open of the file `real`: while it is held, the file goes on showing what it
    /// shows now, even after the opens made before the move are closed (SQLite's second
    /// connection of a database found the first's by that identity).
    pub fn opened(&mut self, holder: &H, real: Id) {
        if let Some(pin) = self.by_real.get_mut(&real) {
            pin.holders.retain(Holder::alive);
            pin.hold(holder);
        }
    }

    fn let_go(&mut self, holder: &H, real: Id) {
        if let Some(pin) = self.by_real.get_mut(&real) {
            pin.holders.retain(|h| h.alive() && !h.same(holder));
            if pin.holders.is_empty() {
                self.by_real.remove(&real);
            }
        }
    }
}

impl<H: Holder> Default for Pins<H> {
    fn default() -> Self {
        Pins::new()
    }
}

/// A stat result whose identity can be read and rewritten.
pub trait Identified {
    fn id(&self) -> Id;
    fn set_id(&mut self, id: Id);
}

impl Identified for libc::stat {
    fn id(&self) -> Id {
        (self.st_dev, self.st_ino)
    }
    fn set_id(&mut self, (dev, ino): Id) {
        (self.st_dev, self.st_ino) = (dev, ino);
    }
}

impl Identified for libc::stat64 {
    fn id(&self) -> Id {
        (self.st_dev, self.st_ino)
    }
    fn set_id(&mut self, (dev, ino): Id) {
        (self.st_dev, self.st_ino) = (dev, ino);
    }
}

impl Identified for libc::statx {
    fn id(&self) -> Id {
        (libc::makedev(self.stx_dev_major, self.stx_dev_minor), self.stx_ino)
    }
    fn set_id(&mut self, (dev, ino): Id) {
        (self.stx_dev_major, self.stx_dev_minor, self.stx_ino) = (libc::major(dev), libc::minor(dev), ino);
    }
}

type FileHolder = Weak<crate::ocb::FileOrder>;

static PINS: Mutex<Option<Pins<FileHolder>>> = Mutex::new(None);
/// Whether `PINS` may hold a pin: until the first lead move with a file open, a stat pays
/// one load for this.
static ANY: AtomicBool = AtomicBool::new(false);

fn with_pins<T>(f: impl FnOnce(&mut Pins<FileHolder>) -> T) -> T {
    let mut guard = PINS.lock().unwrap_or_else(|e| e.into_inner());
    let pins = guard.get_or_insert_with(Pins::new);
    let r = f(pins);
    ANY.store(!pins.is_empty(), Ordering::Relaxed);
    r
}

/// See `Pins::moved`. Called inside the shim.
pub fn moved(holder: &FileHolder, before: Id, shown: Id, after: Id) {
    if before != after {
        with_pins(|p| p.moved(holder, before, shown, after));
    }
}

/// Whether some file may be pinned (one load).
pub fn any() -> bool {
    ANY.load(Ordering::Relaxed)
}

/// What the file whose own identity is `real` shows now. Called inside the shim.
pub fn shown(real: Id) -> Id {
    if !ANY.load(Ordering::Relaxed) {
        return real;
    }
    with_pins(|p| p.shown(real))
}

/// See `Pins::opened`. Called inside the shim.
pub fn opened(holder: &FileHolder, real: Id) {
    if ANY.load(Ordering::Relaxed) {
        with_pins(|p| p.opened(holder, real));
    }
}

/// A hooked stat's result, `r` (0: `buf` was filled), as the program is shown it. From an
/// exported function, in or out of the shim: the table is looked at inside it, under the
/// fork lock, so a fork never copies its lock held, and a program's signal handler never
/// runs while this thread holds it (they wait for the thread to leave the shim).
pub fn show<S: Identified>(r: libc::c_int, buf: *mut S) -> libc::c_int {
    // Inside already: the shim's own call (the program's handlers never run in there).
    if r != 0 || !ANY.load(Ordering::Relaxed) || buf.is_null() || crate::boundary::is_inside() {
        return r;
    }
    crate::boundary::under_fork_lock(|| {
        // SAFETY: the call that returned 0 filled it.
        let st = unsafe { &mut *buf };
        let shown = with_pins(|p| p.shown(st.id()));
        if shown != st.id() {
            st.set_id(shown);
        }
    });
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const P: Id = (1, 10);
    const S: Id = (2, 20);
    const P2: Id = (1, 11);

    #[test]
    fn a_file_open_across_a_lead_move_keeps_showing_its_first_identity() {
        let open = Arc::new(());
        let mut pins = Pins::new();
        pins.moved(&Arc::downgrade(&open), P, P, S);
        assert_eq!(pins.shown(S), P);
        assert_eq!(pins.shown(P2), P2, "other files show their own");
        drop(open);
        assert_eq!(pins.shown(S), S, "no open holds it: its own again");
        assert!(pins.is_empty());
    }

    #[test]
    fn a_move_back_to_the_file_it_was_opened_on_shows_it_as_it_is() {
        let open = Arc::new(());
        let h = Arc::downgrade(&open);
        let mut pins = Pins::new();
        pins.moved(&h, P, P, S);
        pins.moved(&h, S, P, P);
        assert!(pins.is_empty());
        assert_eq!(pins.shown(S), S);
        assert_eq!(pins.shown(P), P);
    }

    #[test]
    fn a_move_back_to_a_rewritten_file_keeps_the_first_identity() {
        let open = Arc::new(());
        let h = Arc::downgrade(&open);
        let mut pins = Pins::new();
        pins.moved(&h, P, P, S);
        pins.moved(&h, S, P, P2);
        assert_eq!(pins.shown(P2), P);
        assert_eq!(pins.shown(S), S, "the file it left shows its own");
    }

    #[test]
    fn an_open_made_after_the_move_keeps_the_pin_once_the_first_is_closed() {
        let first = Arc::new(());
        let second = Arc::new(());
        let mut pins = Pins::new();
        pins.moved(&Arc::downgrade(&first), P, P, S);
        pins.opened(&Arc::downgrade(&second), S);
        drop(first);
        assert_eq!(pins.shown(S), P);
        drop(second);
        assert_eq!(pins.shown(S), S);
    }

    /// Two opens sharing one holder (two opens of the file made after a move share its
    /// `FileOrder`), moved back one after the other: the second still shows the first
    /// identity. Before, the first's move let the pin go and the second pinned the file to
    /// the member it left (a helper's connection pool: SQLITE_READONLY_DBMOVED again).
    #[test]
    fn opens_sharing_a_holder_moved_back_one_after_the_other_keep_the_first_identity() {
        let (a, bc) = (Arc::new(()), Arc::new(()));
        let (ha, hbc) = (Arc::downgrade(&a), Arc::downgrade(&bc));
        let mut pins = Pins::new();
        pins.moved(&ha, P, P, S);
        pins.opened(&hbc, S);
        let shown = pins.shown(S);
        pins.moved(&ha, S, shown, P);
        pins.moved(&hbc, S, shown, P);
        pins.moved(&hbc, S, shown, P);
        assert!(pins.is_empty(), "every open is back on the file it showed");
        assert_eq!(pins.shown(P), P);
    }

    #[test]
    fn an_open_of_an_unpinned_file_pins_nothing() {
        let open = Arc::new(());
        let mut pins = Pins::new();
        pins.opened(&Arc::downgrade(&open), S);
        assert!(pins.is_empty());
    }

    #[test]
    fn two_opens_of_one_file_moved_together_share_one_pin() {
        let a = Arc::new(());
        let b = Arc::new(());
        let mut pins = Pins::new();
        pins.moved(&Arc::downgrade(&a), P, P, S);
        pins.moved(&Arc::downgrade(&b), P, P, S);
        drop(a);
        assert_eq!(pins.shown(S), P);
        drop(b);
        assert_eq!(pins.shown(S), S);
    }

    #[test]
    fn statx_identity_round_trips_through_major_and_minor() {
        let mut st: libc::statx = unsafe { std::mem::zeroed() };
        let id = (libc::makedev(259, 3), 42);
        st.set_id(id);
        assert_eq!(st.id(), id);
    }
}
