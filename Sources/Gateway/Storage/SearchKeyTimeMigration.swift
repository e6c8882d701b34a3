extension Migration {
    /// Search keys get a `last_updated` column (the resource's, written with the keys of every version).
    /// Committed first with a full (name, value, last_updated) index, which slowed every key insert and
    /// made flow 1 (whose key matches most rows) slower; migration 12 replaces it. Reduced to the column,
    /// so that a store that ran the first form and a store that did not end at migration 12 the same.
    static let searchKeyTime = Migration(version: 11, summary: "search keys carry lastUpdated", sql: """
        ALTER TABLE search_key ADD COLUMN last_updated INTEGER NOT NULL DEFAULT 0;
        """)

    /// Flow 5 polls a Task tenant for its event copies (search key `origin=event`), a minority of the
    /// ESMS's Tasks (its own statuses are several per notification). Walking every Task of the tenant
    /// from the bound made a poll's cost follow the ESMS's own writes; the event keys are now walked in
    /// result order through a partial index (docs/storage.md, "Search keys"), which writes pay for only
    /// on event copies. Drops the full index of migration 11's first form where it exists.
    static let eventKeyTimeIndex = Migration(version: 12, summary: "partial time index of the event search keys (flow-5 polling)", sql: """
        DROP INDEX IF EXISTS search_key_by_value_time;
        UPDATE search_key SET last_updated = (SELECT r.last_updated FROM resource r
            WHERE r.tenant = search_key.tenant AND r.type = search_key.type AND r.id = search_key.id)
            WHERE name = 'origin' AND value = 'event';
        CREATE INDEX search_key_event_time ON search_key (tenant, type, last_updated, id) WHERE name = 'origin' AND value = 'event';
        """)
}

extension SQLiteStoreTransaction {
    /// The one key whose entries polls walk in time order (the partial index of migration 12; its
    /// predicate and the search's must be the same literals for SQLite to use it).
    static let timeIndexedKey = SearchKey("origin", "event")
}
