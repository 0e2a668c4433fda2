//! What the writer publishes after every durable commit, for the change
//! log's in-process readers (a watch: every commit wakes them): the
//! version of the table catalog, the log's end, and whether the newest
//! records of the log all carry one origin. A reader that made those
//! writes itself (an embedded proxy, whose writes are stamped with its
//! origin) can then move past their echoes without reading them.

/// The newest records of the change log, all stamped with one origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OriginRun {
    pub origin: u64,
    /// The sequence number of the run's first record.
    pub from: u64,
    /// The log's next sequence number: the run holds every record from
    /// `from` on.
    pub to: u64,
}

/// The state of the log after the latest durable commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Commits {
    /// Moves with every commit that changed the table catalog.
    pub catalog: u64,
    /// The sequence number after the newest record appended since the
    /// engine opened (0 before any): a reader whose cursor is below it has
    /// records to read.
    pub end: u64,
    /// Set while the newest records, `run.from` to the end of the log, all
    /// carry `run.origin`.
    pub run: Option<OriginRun>,
}

impl Commits {
    /// Account for one more durable commit, which appended `appended` and
    /// changed the catalog or not.
    pub(crate) fn committed(&mut self, appended: &Appended, catalog_changed: bool) {
        if catalog_changed {
            self.catalog = self.catalog.wrapping_add(1);
            self.run = None;
        }
        let Some((first, last)) = appended.range else {
            return;
        };
        let to = last.saturating_add(1);
        self.end = to;
        self.run = match (appended.origin, self.run) {
            (Some(o), Some(run)) if run.origin == o && run.to == first => {
                Some(OriginRun { to, ..run })
            }
            (Some(origin), _) => Some(OriginRun {
                origin,
                from: first,
                to,
            }),
            (None, _) => None,
        };
    }

    /// For a reader whose next record is `cursor`, which stamps its own
    /// writes with `origin` and last read the tables at catalog version
    /// `catalog`: the cursor past the records that are all its own
    /// writes' echoes, if that is all the log holds from `cursor` on and
    /// the catalog is unchanged. `None`: something else may be there; read.
    pub fn past_echoes(&self, cursor: u64, origin: u64, catalog: u64) -> Option<u64> {
        if self.catalog != catalog {
            return None;
        }
        let run = self.run?;
        (run.origin == origin && run.from <= cursor && cursor <= run.to).then_some(run.to)
    }
}

/// The change records a batch's committed jobs appended.
#[derive(Debug, Default)]
pub(crate) struct Appended {
    /// The first and last sequence numbers.
    range: Option<(u64, u64)>,
    /// Their common origin: `None` when one has none or they differ.
    origin: Option<u64>,
}

impl Appended {
    pub(crate) fn add(&mut self, seq: u64, origin: Option<u64>) {
        self.origin = match self.range {
            None => origin,
            Some(_) if self.origin == origin => origin,
            Some(_) => None,
        };
        self.range = Some(match self.range {
            None => (seq, seq),
            Some((first, last)) => (first.min(seq), last.max(seq)),
        });
    }

    /// Add what a later job of the same batch appended.
    pub(crate) fn extend(&mut self, other: Appended) {
        // Its ends stand for all its records: they share its origin, or
        // its `None` ends the common one.
        if let Some((first, last)) = other.range {
            self.add(first, other.origin);
            self.add(last, other.origin);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Appended, Commits};

    fn appended(records: &[(u64, Option<u64>)]) -> Appended {
        let mut a = Appended::default();
        for &(seq, origin) in records {
            a.add(seq, origin);
        }
        a
    }

    #[test]
    fn consecutive_commits_of_one_origin_make_one_run() {
        let mut c = Commits::default();
        c.committed(&appended(&[(1, Some(7)), (2, Some(7))]), false);
        c.committed(&appended(&[(3, Some(7))]), false);
        // A commit without records (a trim, say) leaves the run as it is.
        c.committed(&Appended::default(), false);
        assert_eq!(c.past_echoes(1, 7, 0), Some(4));
        assert_eq!(c.past_echoes(3, 7, 0), Some(4));
        assert_eq!(c.past_echoes(4, 7, 0), Some(4));
        // Another reader's writes, and a cursor before the run.
        assert_eq!(c.past_echoes(1, 8, 0), None);
        assert_eq!(c.past_echoes(0, 7, 0), None);
        assert_eq!(c.end, 4);
    }

    #[test]
    fn another_origin_a_record_without_one_or_a_catalog_change_ends_the_run() {
        let mut c = Commits::default();
        c.committed(&appended(&[(1, Some(7))]), false);
        c.committed(&appended(&[(2, Some(7)), (3, Some(8))]), false);
        assert_eq!(c.past_echoes(2, 7, 0), None);
        assert_eq!(c.past_echoes(3, 8, 0), None);

        c.committed(&appended(&[(4, Some(7))]), false);
        assert_eq!(c.past_echoes(4, 7, 0), Some(5));
        c.committed(&appended(&[(5, None)]), false);
        assert_eq!(c.past_echoes(5, 7, 0), None);

        c.committed(&appended(&[(6, Some(7))]), false);
        c.committed(&Appended::default(), true);
        assert_eq!(c.past_echoes(6, 7, 0), None);
        assert_eq!(c.past_echoes(6, 7, 1), None);
        // A run after the change, read by a reader that saw the new catalog.
        c.committed(&appended(&[(7, Some(7))]), false);
        assert_eq!(c.past_echoes(7, 7, 0), None);
        assert_eq!(c.past_echoes(7, 7, 1), Some(8));
    }

    #[test]
    fn jobs_of_one_batch_combine() {
        let mut batch = appended(&[(1, Some(7))]);
        batch.extend(appended(&[(2, Some(7)), (3, Some(7))]));
        let mut c = Commits::default();
        c.committed(&batch, false);
        assert_eq!(c.past_echoes(1, 7, 0), Some(4));

        let mut mixed = appended(&[(4, Some(7))]);
        mixed.extend(appended(&[(5, Some(8)), (6, Some(7))]));
        c.committed(&mixed, false);
        assert_eq!(c.past_echoes(4, 7, 0), None);
    }
}
