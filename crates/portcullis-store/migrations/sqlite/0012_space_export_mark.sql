-- Portcullis's export mark on spaces (`docs/export-control.md`), beyond Qlik's model.
--
-- `spaces.export_only_through`: NULL, the default, for a space without a mark (Qlik's
-- behaviour); otherwise the JSON array of the custom roles that data may leave the space's
-- items through (`[]`: none). Written and read with its space's row, so a tenant that never
-- marks a space stores exactly what it stored before.

ALTER TABLE spaces ADD COLUMN export_only_through TEXT;
