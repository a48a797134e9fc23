//! Names ordered across processes.
//!
//! A change to a name is made on the lead, then on the follower. Two processes changing one
//! name at once (A removes `x` while B creates it again; two renames onto one name; an
//! open that finds `x` while another replaces it) could reach the two members in different
//! orders, and leave them different with nobody told. So every change to a name under the
//! prefix, and every open that opens the follower too, holds the name's lock from the
//! lead's change to the follower's: one word in the registry that every process of the
//! set maps, chosen by a hash of the name's path (`registry::NAME_STRIPES` of them; names
//! that share a word are ordered too, which costs nothing but the wait).
//!
//! The lock itself is stripes.rs's.

use crate::resolve::Rel;

/// The stripe of a name: FNV-1a of its path relative to the members' roots.
fn stripe(rel: &[u8]) -> usize {
    crate::stripes::stripe_of(rel, shadow_core::state::registry::NAME_STRIPES)
}

/// The stripes of some names, each once, in the order they are taken (lowest first, so
/// that two processes taking two stripes never wait on each other).
fn stripes(rels: &[&Rel]) -> ([usize; 2], usize) {
    let mut s = [0; 2];
    let mut n = 0;
    for r in rels.iter().take(2) {
        let i = stripe(&r.0);
        if !s[..n].contains(&i) {
            s[n] = i;
            n += 1;
        }
    }
    s[..n].sort_unstable();
    (s, n)
}

/// Holds the names (one, or the two of a rename or link) until the value is dropped.
pub fn hold(rels: &[&Rel]) -> crate::stripes::Held {
    let registry = &crate::members::shared().registry;
    let (s, n) = stripes(rels);
    let words = [registry.name_lock(s[0]), registry.name_lock(s[1])];
    crate::stripes::hold(&words[..n])
}

/// Holds any number of names (a spawn's file actions) until the values are dropped.
pub fn hold_each<'a>(rels: impl IntoIterator<Item = &'a Rel>) -> Vec<crate::stripes::Held> {
    let registry = &crate::members::shared().registry;
    crate::stripes::hold_each(rels.into_iter().map(|r| stripe(&r.0)).map(|i| (i, registry.name_lock(i))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_has_one_stripe_and_two_names_are_taken_lowest_first_once() {
        let (a, b) = (Rel(b"d/x".to_vec()), Rel(b"d/y".to_vec()));
        assert_eq!(stripe(&a.0), stripe(b"d/x"));
        assert!(stripe(&a.0) < shadow_core::state::registry::NAME_STRIPES);
        let (s, n) = stripes(&[&b, &a]);
        assert_eq!(n, if stripe(&a.0) == stripe(&b.0) { 1 } else { 2 });
        assert!(s[..n].windows(2).all(|w| w[0] < w[1]));
        assert_eq!(stripes(&[&a, &a]).1, 1);
    }
}
