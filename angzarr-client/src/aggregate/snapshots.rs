//! When an aggregate that keeps snapshots returns one: its [`SnapshotPolicy`].

use std::fmt;
use std::sync::Arc;

/// The events between snapshots under [`SnapshotPolicy::default`]: what
/// `#[aggregate(snapshot)]` and [`CommandRouter::with_snapshots`] use.
///
/// Chosen by measurement (angzarr-local's `history` bench, in the README's
/// Performance section): against a fresh player, a command on a player with
/// 10,000 prior events costs the same with a snapshot every 1 or 10 events,
/// about 10% more every 16 or 100 and twice as much every 1,000, since it
/// loads and folds the pages above the snapshot. Every snapshot returned is
/// a row the coordinator writes (behind the production coordinator, one it
/// keeps), so fewer is better as long as the pages do not show: 16 writes a
/// sixteenth of the rows `every(1)` does.
///
/// [`CommandRouter::with_snapshots`]: crate::CommandRouter::with_snapshots
pub const DEFAULT_SNAPSHOT_INTERVAL: u32 = 16;

/// When an aggregate that keeps snapshots returns its state as one, after a
/// command that produced events.
///
/// A snapshot lets the coordinator load the state and only the pages above
/// it instead of the whole history, and costs a write each time one is
/// returned. The policy weighs the two:
///
/// - [`every(n)`](Self::every): after the command whose events reach a
///   multiple of `n` events on the timeline (a command of several events
///   takes one snapshot at most). A command then loads fewer than `n` pages
///   past the snapshot.
/// - [`when(predicate)`](Self::when): when `predicate(state, sequence)`
///   says so, given the new state and the sequence of the command's last
///   event (for instance: on a hand's end, whatever its length).
///
/// The default is `every(DEFAULT_SNAPSHOT_INTERVAL)`.
///
/// ```
/// use angzarr_client::SnapshotPolicy;
///
/// let every_ten = SnapshotPolicy::<()>::every(10);
/// // Events 0..=8 exist; a command adding events 9 and 10 reaches 10 + 1 events.
/// assert!(every_ten.is_due(&(), 9, 10));
/// assert!(!every_ten.is_due(&(), 11, 12));
///
/// let on_big_sequences = SnapshotPolicy::<()>::when(|_state, sequence| sequence >= 1_000);
/// assert!(on_big_sequences.is_due(&(), 1_000, 1_000));
/// ```
pub struct SnapshotPolicy<S> {
    rule: Rule<S>,
}

/// A predicate on the state after a command and its last event's sequence.
type Predicate<S> = Arc<dyn Fn(&S, u32) -> bool + Send + Sync>;

enum Rule<S> {
    Every(u32),
    When(Predicate<S>),
}

impl<S> SnapshotPolicy<S> {
    /// A snapshot every `events` events: after each command whose events
    /// take the timeline's event count to or past a multiple of `events`.
    /// `every(1)` returns one after every command that produced events.
    ///
    /// # Panics
    ///
    /// If `events` is 0 (which would never take a snapshot: an aggregate that
    /// wants none does not keep snapshots). A policy is set once, at
    /// start-up, so this is a programming error.
    pub const fn every(events: u32) -> Self {
        assert!(
            events > 0,
            "SnapshotPolicy::every(0) would never take a snapshot: give at least 1"
        );
        SnapshotPolicy {
            rule: Rule::Every(events),
        }
    }

    /// A snapshot whenever `predicate(state, sequence)` holds, given the
    /// state after the command and the sequence of its last event.
    pub fn when(predicate: impl Fn(&S, u32) -> bool + Send + Sync + 'static) -> Self {
        SnapshotPolicy {
            rule: Rule::When(Arc::new(predicate)),
        }
    }

    /// Whether a command whose events have sequences `first..=last` returns
    /// `state` (the state after them) as a snapshot.
    pub fn is_due(&self, state: &S, first: u32, last: u32) -> bool {
        match &self.rule {
            Rule::Every(events) => every_due(*events, first, last),
            Rule::When(predicate) => predicate(state, last),
        }
    }
}

/// Whether events `first..=last` take a timeline past a multiple of
/// `events`: the count before them is `first`, after them `last + 1`.
pub(crate) const fn every_due(events: u32, first: u32, last: u32) -> bool {
    if events <= 1 {
        return true;
    }
    let before = first / events;
    let after = (last as u64 + 1) / events as u64;
    after > before as u64
}

impl<S> Default for SnapshotPolicy<S> {
    fn default() -> Self {
        SnapshotPolicy::every(DEFAULT_SNAPSHOT_INTERVAL)
    }
}

impl<S> Clone for SnapshotPolicy<S> {
    fn clone(&self) -> Self {
        SnapshotPolicy {
            rule: match &self.rule {
                Rule::Every(events) => Rule::Every(*events),
                Rule::When(predicate) => Rule::When(Arc::clone(predicate)),
            },
        }
    }
}

impl<S> fmt::Debug for SnapshotPolicy<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Rule::Every(events) => write!(f, "SnapshotPolicy::every({events})"),
            Rule::When(_) => f.write_str("SnapshotPolicy::when(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The snapshots `every(n)` takes over a run of commands of the given
    /// sizes, as the sequences of their last events.
    fn taken(events: u32, commands: &[u32]) -> Vec<u32> {
        let policy = SnapshotPolicy::<()>::every(events);
        let mut next = 0;
        let mut snapshots = Vec::new();
        for &size in commands {
            let (first, last) = (next, next + size - 1);
            if policy.is_due(&(), first, last) {
                snapshots.push(last);
            }
            next = last + 1;
        }
        snapshots
    }

    #[test]
    fn every_n_events_counts_the_timeline_not_the_commands() {
        assert_eq!(taken(1, &[1, 1, 3]), [0, 1, 4]);
        // One event at a time: the 4th, 8th and 12th events.
        assert_eq!(taken(4, &[1; 12]), [3, 7, 11]);
        // Commands of three events: the one reaching 4 events (0..=5), 8
        // (6..=8) and 12 (9..=11); none crossing twice takes two.
        assert_eq!(taken(4, &[3, 3, 3, 3]), [5, 8, 11]);
        assert_eq!(taken(4, &[9]), [8]);
        assert_eq!(taken(1_000, &[1; 999]), Vec::<u32>::new());
    }

    #[test]
    fn the_last_sequence_there_is_still_counts() {
        assert!(every_due(2, u32::MAX, u32::MAX));
        assert!(!every_due(3, u32::MAX, u32::MAX));
    }

    #[test]
    fn a_predicate_sees_the_state_and_the_last_sequence() {
        let policy = SnapshotPolicy::<u32>::when(|state, last| *state > 10 && last % 2 == 0);
        assert!(policy.is_due(&11, 0, 4));
        assert!(!policy.is_due(&11, 0, 3));
        assert!(!policy.is_due(&10, 0, 4));
        assert_eq!(format!("{:?}", policy.clone()), "SnapshotPolicy::when(..)");
        assert_eq!(
            format!("{:?}", SnapshotPolicy::<u32>::default()),
            format!("SnapshotPolicy::every({DEFAULT_SNAPSHOT_INTERVAL})")
        );
    }

    #[test]
    #[should_panic(expected = "every(0) would never take a snapshot")]
    fn every_zero_is_refused() {
        let _ = SnapshotPolicy::<()>::every(0);
    }
}
