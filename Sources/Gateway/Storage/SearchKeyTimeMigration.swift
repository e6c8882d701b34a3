extension Migration {
    /// Each search key carries its resource's `last_updated`, indexed after (name, value): a poll with a
    /// key (flow 5's `origin=event`, flow 1's document type) walks that key's entries in result order
    /// from the bound, instead of every resource of the type and tenant. Flow 5 used to step over the
    /// ESMS's own Tasks (several per notification) to find the other ESMS's events; its cost now follows
    /// the events only (docs/storage.md, "Search keys"). `SQLiteStoreTransaction.writeVersion` keeps the
    /// column equal to the resource's: keys are rewritten with every version.
    static let searchKeyTime = Migration(version: 11, summary: "search keys carry lastUpdated (polling walks a key in order)", sql: """
        ALTER TABLE search_key ADD COLUMN last_updated INTEGER NOT NULL DEFAULT 0;
        UPDATE search_key SET last_updated = (SELECT r.last_updated FROM resource r
            WHERE r.tenant = search_key.tenant AND r.type = search_key.type AND r.id = search_key.id);
        CREATE INDEX search_key_by_value_time ON search_key (tenant, type, name, value, last_updated, id);
        """)
}
