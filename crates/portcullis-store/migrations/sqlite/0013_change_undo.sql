-- Access history (`docs/history.md`): each change-log row keeps, beside its change, the rows
-- the change replaced (`Undo`, JSON), written in the change's own transaction. A tenant's
-- state at an earlier revision is its live state with the undos after that revision put back
-- in reverse order. NULL for rows logged before this column existed: history does not reach
-- back past them.

ALTER TABLE change_log ADD COLUMN undo TEXT;
