-- Version 3: the owner filters served by an index. The policies stamp `owner` into the metadata
-- of what a user creates and filter every read on it; `auth::sql` renders that filter (and a
-- search for `{"metadata": {"owner": …}}`) as `json_extract(<table>.metadata, '$.owner') = ?`,
-- which these indexes answer, in creation order for a search's default sort.
CREATE INDEX threads_owner ON threads (json_extract(metadata, '$.owner'), created_at, thread_id);
CREATE INDEX assistants_owner
    ON assistants (json_extract(metadata, '$.owner'), created_at, assistant_id);
CREATE INDEX crons_owner ON crons (json_extract(metadata, '$.owner'), created_at, cron_id);
