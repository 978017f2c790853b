-- Version 4: a graph's default assistant is owned by the server, a property of its row that no
-- user write sets (before, a default assistant was recognised by its id alone, which a user
-- could take first). Rows that are exactly what the server created at start-up (one version,
-- named after its graph, no description, empty config and context, metadata
-- {"created_by": "system"}, a version-5 id) are the server's; any other row keeps
-- `system_owned = 0`, and a server whose graph's default id is such a row refuses to start.
ALTER TABLE assistants ADD COLUMN system_owned INTEGER NOT NULL DEFAULT 0;
UPDATE assistants SET system_owned = 1
WHERE version = 1
  AND name = graph_id
  AND description IS NULL
  AND config = '{}'
  AND context = '{}'
  AND metadata = '{"created_by":"system"}'
  AND substr(assistant_id, 15, 1) = '5'
  AND (SELECT COUNT(*) FROM assistant_versions v
       WHERE v.assistant_id = assistants.assistant_id) = 1;
