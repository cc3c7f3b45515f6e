import GRDB

// Queries that several readers and writers share, written once in the query interface.

/// The columns of a table whose rows are never overwritten (`annotation`, `marker`): an
/// edit is a new row whose `supersedes_id` names the row it replaces, a removal is such a
/// row with `deleted` = 1 (schemas/migrations 0001 and 0004).
public protocol SupersedingColumns {
    static var id: Column { get }
    static var supersedesId: Column { get }
    static var deleted: Column { get }
}

extension AnnotationRecord.Columns: SupersedingColumns {}
extension MarkerRecord.Columns: SupersedingColumns {}

extension DerivableRequest where RowDecoder: TableRecord, RowDecoder.Columns: SupersedingColumns {
    /// Current rows only: not a removal, and no other row supersedes them. The one
    /// definition of "current labels" (and markers) for `trw label`, `trw mark`,
    /// `trw annotate`, `trw info`, exports and the label checks (`LabelRules`).
    ///
    ///     SELECT "candidate".* FROM "annotation" "candidate" WHERE "candidate"."deleted" = 0
    ///       AND NOT EXISTS (SELECT * FROM "annotation" WHERE "supersedes_id" = "candidate"."id")
    ///
    /// The outer table needs a named alias: the subquery reads the same table, and an
    /// anonymous alias would be spelled like it, so `id` would name the inner row.
    public func current() -> Self {
        typealias C = RowDecoder.Columns
        let row = TableAlias<RowDecoder>(name: "candidate")
        let superseding = RowDecoder.filter(C.supersedesId == row[C.id])
        return aliased(row).filter(C.deleted == false && !superseding.exists())
    }
}

extension DerivableRequest<AnnotationRecord> {
    /// By start time, then id (the order every label listing uses).
    public func orderedByTime() -> Self {
        order { [$0.startTNs, $0.id] }
    }
}

extension DerivableRequest<MarkerRecord> {
    /// By time, then id.
    public func orderedByTime() -> Self {
        order { [$0.tNs, $0.id] }
    }
}
