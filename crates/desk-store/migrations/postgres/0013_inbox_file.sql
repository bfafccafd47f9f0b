-- Twin of sqlite/0013, which moves SQLite's webhook inbox to a file of its own so webhook
-- requests do not queue behind the processor's transactions on SQLite's single writer.
-- Postgres has no single writer: its inbox stays where it is, and there is nothing to do.
SELECT 1;
