-- Version 2: the run queue's attempt count (a run whose lease expired this many times is
-- finished as `error`) and a cron's owner (the user its runs are created as, as JSON text).
ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE crons ADD COLUMN owner TEXT NOT NULL DEFAULT 'null';
