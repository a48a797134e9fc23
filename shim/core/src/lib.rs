//! Logic shared by `libshadow.so` and `shadowctl`, written once: configuration, virtual path
//! resolution, history codes and the member-tree comparison. Nothing here touches a hook.

pub mod config;
pub mod coredump;
pub mod exec;
pub mod execcheck;
pub mod history;
pub mod journal;
pub mod shared;
pub mod stamp;
pub mod state;
pub mod sync;
pub mod tree;
pub mod vpath;

/// A member of a shadow set. The set is a list, primary first; the index is the position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member {
    Primary,
    Secondary,
}

impl Member {
    pub const ALL: [Member; 2] = [Member::Primary, Member::Secondary];

    pub fn index(self) -> usize {
        match self {
            Member::Primary => 0,
            Member::Secondary => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Member::Primary => "primary",
            Member::Secondary => "secondary",
        }
    }

    pub fn parse(s: &str) -> Option<Member> {
        Member::ALL.into_iter().find(|m| m.name() == s)
    }
}
