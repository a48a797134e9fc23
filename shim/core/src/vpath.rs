//! Virtual path resolution: make a path absolute against a base, fold `.` and `..`
//! lexically, and decide whether it lies under the prefix. Pure byte logic, no I/O, no libc:
//! the hooks call it on every path, so the common "not ours" answer allocates nothing.

/// Folds `path` lexically and appends the result to `out`, which must already hold an
/// absolute, folded base directory (for an absolute `path` the base is discarded).
/// `..` never climbs above `/`, exactly as the kernel treats it at the root.
pub fn fold_into(out: &mut Vec<u8>, path: &[u8]) {
    if path.first() == Some(&b'/') {
        out.clear();
        out.push(b'/');
    }
    if out.is_empty() {
        out.push(b'/');
    }
    for comp in path.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                let keep = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(keep.max(1));
            }
            name => {
                if out.last() != Some(&b'/') {
                    out.push(b'/');
                }
                out.extend_from_slice(name);
            }
        }
    }
}

/// Absolute, folded form of `path` relative to the absolute directory `base`.
pub fn absolute(base: &[u8], path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(base.len() + path.len() + 1);
    if path.first() != Some(&b'/') {
        fold_into(&mut out, base);
    }
    fold_into(&mut out, path);
    out
}

/// The part of the folded absolute path `abs` below `prefix` (itself folded, no trailing
/// slash): `Some(b"")` for the prefix itself, `Some(b"a/b")` below it, `None` outside.
pub fn under_prefix<'a>(abs: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if prefix == b"/" {
        return abs.strip_prefix(b"/");
    }
    let rest = abs.strip_prefix(prefix)?;
    match rest.first() {
        None => Some(b""),
        Some(b'/') => Some(&rest[1..]),
        Some(_) => None,
    }
}

/// Whether folding could change `path`: it has an empty, `.` or `..` component.
/// Used to skip work for plain absolute paths that do not start with the prefix.
pub fn has_dot_components(path: &[u8]) -> bool {
    path.split(|&b| b == b'/')
        .enumerate()
        .any(|(i, c)| (c.is_empty() && i > 0) || c == b"." || c == b"..")
}

/// Whether a relative path can leave its base directory (a `..` component).
pub fn climbs(path: &[u8]) -> bool {
    path.split(|&b| b == b'/').any(|c| c == b"..")
}

/// Whether walking the relative `path` from a directory `depth` components below the prefix
/// root climbs above the prefix root at some point, as its `..` components say. A path that
/// never does can be handed to the kernel as it is, relative to that directory in a member:
/// the kernel then resolves symlinks, `.` and `..` itself, and `..` never leaves the member.
pub fn escapes(path: &[u8], depth: usize) -> bool {
    let mut d = depth as isize;
    for comp in path.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                d -= 1;
                if d < 0 {
                    return true;
                }
            }
            _ => d += 1,
        }
    }
    false
}

/// Number of components of a folded relative path (`b""` has none).
pub fn depth(rel: &[u8]) -> usize {
    if rel.is_empty() { 0 } else { rel.iter().filter(|&&b| b == b'/').count() + 1 }
}

/// The first component of a relative path that names something (not empty, not `.`).
pub fn first_name(path: &[u8]) -> &[u8] {
    path.split(|&b| b == b'/').find(|c| !c.is_empty() && *c != b".").unwrap_or(b"")
}

/// The last component of a path, trailing slashes aside (`.` and `..` included: the
/// kernel answers a removal or rename of those itself); empty for `/` or an empty path.
pub fn last_component(path: &[u8]) -> &[u8] {
    path.split(|&b| b == b'/').rfind(|c| !c.is_empty()).unwrap_or(b"")
}

/// A path cut at its last name, trailing slashes aside: the directory to open (`.` for a
/// lone name, `/` for one just below the root) and the name. Walked as the kernel walks
/// it: `a/b//` is `b` in `a`.
pub fn split_last(path: &[u8]) -> (&[u8], &[u8]) {
    let path = &path[..path.iter().rposition(|&b| b != b'/').map_or(path.len().min(1), |i| i + 1)];
    match path.iter().rposition(|&b| b == b'/') {
        Some(cut) => (&path[..cut.max(1)], &path[cut + 1..]),
        None => (b".", path),
    }
}

/// For each proper ancestor directory of `prefix`, the name of the component that leads from
/// it towards the prefix: `/data/shadow` gives `data` (from `/`) and `shadow` (from `/data`).
/// A relative path from a directory that is not inside the prefix can only reach the prefix
/// if its first name is one of these (or it climbs).
pub fn names_towards(prefix: &[u8]) -> Vec<Vec<u8>> {
    prefix.split(|&b| b == b'/').filter(|c| !c.is_empty()).map(<[u8]>::to_vec).collect()
}

/// The directory holding a path relative to the prefix (`b""`: the prefix itself, which
/// is also its own parent).
pub fn parent(rel: &[u8]) -> &[u8] {
    rel.iter().rposition(|&b| b == b'/').map_or(&rel[..0], |i| &rel[..i])
}

/// `root` joined with a relative path below it (`rel` may be empty).
pub fn join(root: &[u8], rel: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(root.len() + rel.len() + 1);
    out.extend_from_slice(root);
    if !rel.is_empty() {
        if out.last() != Some(&b'/') {
            out.push(b'/');
        }
        out.extend_from_slice(rel);
    }
    out
}

/// A name below the prefix joined from the name of its directory (`b""`: the prefix itself)
/// and a last name.
pub fn join_rel(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        name.to_vec()
    } else {
        join(dir, name)
    }
}

/// What a name under the prefix is, as `walk` needs to know it.
pub enum Entry {
    /// A symlink, with its target.
    Link(Vec<u8>),
    Dir,
    /// Something a walk cannot go through (a file, a FIFO).
    Other,
    Missing,
}

/// Where `walk` took a path.
#[derive(Debug, PartialEq, Eq)]
pub enum Walked {
    At(Vec<u8>),
    /// A name on the way names nothing, or no directory: the path from there as it is (that
    /// name, then the names after it), which the kernel answers as it would the whole
    /// (ENOENT, ENOTDIR).
    Stopped(Vec<u8>),
    /// More than 40 symlinks (the kernel's ELOOP).
    Loop,
}

/// Where the kernel takes `path` from the absolute, folded directory `base`, were `prefix`
/// a real directory: as `absolute`, but a name under the prefix that `look` (given its
/// absolute path) says is a symlink is replaced by the symlink's target before the walk goes
/// on, so a `..` after it climbs from where the symlink leads, as the kernel's does
/// (`sub/../../x` with `sub` a symlink to `d1/d2` stays under the prefix); and one that names
/// nothing or no directory stops the walk there, as it stops the kernel's (before, `gone/..`
/// was folded away: a call through it was made where the kernel would have said ENOENT).
/// The last name is the caller's call's to follow or not, and is not looked at.
pub fn walk(base: &[u8], path: &[u8], prefix: &[u8], look: impl Fn(&[u8]) -> Entry) -> Walked {
    let names = |p: &[u8]| p.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".").map(<[u8]>::to_vec).collect::<Vec<_>>();
    let mut todo: std::collections::VecDeque<Vec<u8>> = names(path).into();
    // `d/.`, `d/..` and `d/` ask for a directory: `d` is walked through like the names
    // before it, and the ending is kept for the call (`d/.` is no `d` to rmdir, `d/..` no
    // directory to rename but EBUSY, `d/` no file to open).
    let ending: Option<&[u8]> = match path.rsplit(|&b| b == b'/').next() {
        Some(b"..") => Some(b".."),
        Some(b".") => Some(b"."),
        Some(b"") if path.len() > 1 => Some(b""),
        _ => None,
    };
    let last = match ending {
        None => todo.pop_back_if(|c| c.as_slice() != b".."),
        Some(b"..") => todo.pop_back().and(None),
        Some(_) => None,
    };
    let end = |at: &mut Vec<u8>| match ending {
        // From the prefix root, `..` leaves the prefix: folded, as the kernel takes it.
        Some(b"..") if under_prefix(at, prefix).is_none_or(<[u8]>::is_empty) => fold_into(at, b".."),
        Some(ending) => {
            if at.last() != Some(&b'/') {
                at.push(b'/');
            }
            at.extend_from_slice(ending);
        }
        None => {}
    };
    let mut at = Vec::new();
    fold_into(&mut at, if path.first() == Some(&b'/') { b"/" } else { base });
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        fold_into(&mut at, &name);
        if name == b".." || under_prefix(&at, prefix).is_none_or(<[u8]>::is_empty) {
            continue;
        }
        match look(&at) {
            Entry::Dir => {}
            Entry::Link(target) => {
                links += 1;
                if links > 40 {
                    return Walked::Loop;
                }
                fold_into(&mut at, b"..");
                if target.first() == Some(&b'/') {
                    at = b"/".to_vec();
                }
                for t in names(&target).into_iter().rev() {
                    todo.push_front(t);
                }
            }
            Entry::Other | Entry::Missing => {
                for rest in todo.iter().chain(&last) {
                    at.push(b'/');
                    at.extend_from_slice(rest);
                }
                end(&mut at);
                return Walked::Stopped(at);
            }
        }
    }
    if let Some(name) = last {
        fold_into(&mut at, &name);
    }
    end(&mut at);
    Walked::At(at)
}

/// Whether a member's kernel, following the symlink at `link` (its name under the prefix)
/// inside the member, goes elsewhere than it would were the prefix a real directory: an
/// absolute target into the prefix (the kernel looks for a real `/shadow`), or a relative
/// one whose `..` climb above the prefix root (they climb out of the member).
pub fn link_misleads_member(link: &[u8], target: &[u8], prefix: &[u8]) -> bool {
    match target.first() {
        Some(b'/') => under_prefix(target, prefix).is_some(),
        _ => escapes(target, depth(parent(link))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_path_splits_at_its_last_name_as_the_kernel_walks_it() {
        use super::split_last;
        assert_eq!(split_last(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split_last(b"a/b//"), (&b"a"[..], &b"b"[..]));
        assert_eq!(split_last(b"name"), (&b"."[..], &b"name"[..]));
        assert_eq!(split_last(b"/top"), (&b"/"[..], &b"top"[..]));
        assert_eq!(split_last(b"/"), (&b"/"[..], &b""[..]));
        assert_eq!(split_last(b"//x/"), (&b"/"[..], &b"x"[..]));
    }

    use super::*;

    fn links(abs: &[u8]) -> Entry {
        match abs {
            b"/shadow/sub" => Entry::Link(b"d1/d2".to_vec()),
            b"/shadow/up" => Entry::Link(b"../..".to_vec()),
            b"/shadow/loop" => Entry::Link(b"loop/x".to_vec()),
            b"/shadow/abs" => Entry::Link(b"/shadow/d1".to_vec()),
            b"/shadow/dangling" => Entry::Link(b"/shadow/gone".to_vec()),
            b"/shadow/gone" => Entry::Missing,
            b"/shadow/file" => Entry::Other,
            _ => Entry::Dir,
        }
    }

    #[test]
    fn a_name_at_the_prefix_root_has_no_leading_slash() {
        assert_eq!(join_rel(b"", b"f"), b"f");
        assert_eq!(join_rel(b"d/e", b"f"), b"d/e/f");
    }

    #[test]
    fn walks_dotdot_from_where_a_symlink_leads() {
        let w = |base: &[u8], p: &[u8]| match walk(base, p, b"/shadow", links) {
            Walked::At(at) => at,
            other => panic!("{p:?}: {other:?}"),
        };
        // Lexically these leave the prefix; the kernel keeps them in it.
        assert_eq!(w(b"/shadow", b"sub/../../x"), b"/shadow/x");
        assert_eq!(w(b"/", b"/shadow/sub/../../x"), b"/shadow/x");
        assert_eq!(w(b"/shadow", b"sub/../.."), b"/shadow/d1/..");
        assert_eq!(w(b"/shadow", b"sub/../../.."), b"/");
        assert_eq!(w(b"/shadow/d1", b"../abs/../../y"), b"/y");
        // Without symlinks, as the letters say.
        assert_eq!(w(b"/shadow/a", b"../../etc/passwd"), b"/etc/passwd");
        assert_eq!(w(b"/shadow", b"../shadow/sub/../x"), b"/shadow/d1/x");
        // A symlink's own `..` are walked too; the last name is never followed.
        assert_eq!(w(b"/shadow/d1", b"../up/z"), b"/z");
        assert_eq!(w(b"/shadow", b"a/../../shadow/sub"), b"/shadow/sub");
        assert_eq!(w(b"/shadow", b"dangling"), b"/shadow/dangling");
        assert_eq!(walk(b"/shadow", b"loop/../../x", b"/shadow", links), Walked::Loop);
    }

    #[test]
    fn a_walk_stops_where_a_name_is_missing_or_no_directory() {
        let w = |p: &[u8]| walk(b"/shadow", p, b"/shadow", links);
        // The kernel says ENOENT for these, ENOTDIR for the last: the names after the
        // first that stops it stay as they are.
        assert_eq!(w(b"gone/../x"), Walked::Stopped(b"/shadow/gone/../x".to_vec()));
        assert_eq!(w(b"dangling/../x"), Walked::Stopped(b"/shadow/gone/../x".to_vec()));
        assert_eq!(w(b"sub/../../dangling/y/z"), Walked::Stopped(b"/shadow/gone/y/z".to_vec()));
        assert_eq!(w(b"file/../x"), Walked::Stopped(b"/shadow/file/../x".to_vec()));
        // A last name that must be a directory is walked through, its ending kept.
        assert_eq!(w(b"file/."), Walked::Stopped(b"/shadow/file/.".to_vec()));
        assert_eq!(w(b"gone/"), Walked::Stopped(b"/shadow/gone/".to_vec()));
        assert_eq!(w(b"abs/."), Walked::At(b"/shadow/d1/.".to_vec()));
        assert_eq!(w(b"sub/"), Walked::At(b"/shadow/d1/d2/".to_vec()));
        assert_eq!(w(b"abs"), Walked::At(b"/shadow/abs".to_vec()));
        assert_eq!(walk(b"/", b"/.", b"/shadow", links), Walked::At(b"/.".to_vec()));
        assert_eq!(walk(b"/", b"/", b"/shadow", links), Walked::At(b"/".to_vec()));
        // A last `..` is the call's (rename's EBUSY), walked from where the link leads.
        assert_eq!(w(b"abs/.."), Walked::At(b"/shadow/d1/..".to_vec()));
        assert_eq!(w(b".."), Walked::At(b"/".to_vec()));
        assert_eq!(w(b"gone/.."), Walked::Stopped(b"/shadow/gone/..".to_vec()));
    }

    #[test]
    fn links_a_member_cannot_follow_itself() {
        let m = |l: &[u8], t: &[u8]| link_misleads_member(l, t, b"/shadow");
        assert!(m(b"abs", b"/shadow/d"));
        assert!(m(b"a/b", b"/shadow"));
        assert!(m(b"up", b"../shadow/d"));
        assert!(m(b"a/up", b"../../x"));
        assert!(!m(b"a/up", b"../x"));
        assert!(!m(b"out", b"/var/log"));
        assert!(!m(b"out", b"/shadowed/x"));
        assert!(!m(b"rel", b"d/f"));
    }

    #[test]
    fn parents() {
        assert_eq!(parent(b"a/b/c"), b"a/b");
        assert_eq!(parent(b"c"), b"");
        assert_eq!(parent(b""), b"");
    }

    fn abs(base: &str, p: &str) -> String {
        String::from_utf8(absolute(base.as_bytes(), p.as_bytes())).unwrap()
    }

    #[test]
    fn folds_dots_and_slashes() {
        assert_eq!(abs("/", "/shadow/./a//b/"), "/shadow/a/b");
        assert_eq!(abs("/", "/shadow/a/../b"), "/shadow/b");
        assert_eq!(abs("/", "/shadow/../etc/passwd"), "/etc/passwd");
        assert_eq!(abs("/", "/../../x"), "/x");
        assert_eq!(abs("/", "/"), "/");
        assert_eq!(abs("/", "/.."), "/");
    }

    #[test]
    fn relative_paths_join_the_base() {
        assert_eq!(abs("/shadow/sub", "f"), "/shadow/sub/f");
        assert_eq!(abs("/shadow/sub", "../f"), "/shadow/f");
        assert_eq!(abs("/shadow/sub", "../../tmp/f"), "/tmp/f");
        assert_eq!(abs("/", "shadow/x"), "/shadow/x");
        assert_eq!(abs("/shadow", "."), "/shadow");
        assert_eq!(abs("/shadow", ""), "/shadow");
    }

    #[test]
    fn prefix_matching_respects_component_boundaries() {
        assert_eq!(under_prefix(b"/shadow", b"/shadow"), Some(&b""[..]));
        assert_eq!(under_prefix(b"/shadow/a/b", b"/shadow"), Some(&b"a/b"[..]));
        assert_eq!(under_prefix(b"/shadowed/a", b"/shadow"), None);
        assert_eq!(under_prefix(b"/shado", b"/shadow"), None);
        assert_eq!(under_prefix(b"/data/shadow", b"/data/shadow"), Some(&b""[..]));
        assert_eq!(under_prefix(b"/shadow", b"/"), Some(&b"shadow"[..]));
        assert_eq!(under_prefix(b"/", b"/"), Some(&b""[..]));
    }

    #[test]
    fn detects_components_that_fold() {
        assert!(!has_dot_components(b"/shadow/a/b"));
        assert!(!has_dot_components(b"/shadow/.hidden/..x"));
        assert!(has_dot_components(b"/shadow/./a"));
        assert!(has_dot_components(b"/x/../shadow"));
        assert!(has_dot_components(b"/x//shadow"));
        assert!(climbs(b"../shadow"));
        assert!(!climbs(b"a/..b"));
    }

    #[test]
    fn escaping_is_decided_at_every_step() {
        assert!(!escapes(b"a/b", 0));
        assert!(!escapes(b"a/../b", 0));
        assert!(escapes(b"..", 0));
        assert!(escapes(b"a/../../shadow/x", 0));
        assert!(!escapes(b"../x", 1));
        assert!(escapes(b"../../x", 1));
        assert!(!escapes(b"././/.", 0));
        assert!(!escapes(b"a/b/..", 0));
        assert_eq!(depth(b""), 0);
        assert_eq!(depth(b"a"), 1);
        assert_eq!(depth(b"a/b/c"), 3);
        assert_eq!(first_name(b"./shadow/x"), b"shadow");
        assert_eq!(first_name(b".//"), b"");
        assert_eq!(last_component(b"/shadow//"), b"shadow");
        assert_eq!(last_component(b"/shadow/."), b".");
        assert_eq!(last_component(b"d/.."), b"..");
        assert_eq!(last_component(b"//"), b"");
        assert_eq!(names_towards(b"/data/shadow"), vec![b"data".to_vec(), b"shadow".to_vec()]);
    }

    #[test]
    fn join_handles_empty_rel() {
        assert_eq!(join(b"/p", b""), b"/p");
        assert_eq!(join(b"/p", b"a/b"), b"/p/a/b");
        assert_eq!(join(b"/", b"a"), b"/a");
    }
}
