-- Re-judgements: the stored facts of a scan judged again with the current
-- engine (libs/store/src/rejudge.ts), kept beside the original verdicts.
--
-- * The original verdict of a (scan, domain) stays in results, never
--   overwritten. Each re-judging of a scan is a run (rejudge_runs: engine
--   version, policy profile, progress, and the change counts once finished).
-- * rejudgements holds one row per (domain, scan, run): the new verdict's
--   class and the key of its blob in verdict_blobs (content-addressed). A
--   re-judged verdict that says what the original says points at the
--   original's blob and costs no new one; the engine and profile of a
--   re-judgement are its run's (a reused blob names the original's).
--   Nothing else is per row: the facts and the time the verdict judges as of
--   (judged_at) are the original's, the time of the re-judging is the run's.
--   About 76 bytes a row for a 20-character domain, plus its key in the index.
-- * rejudgements is partitioned by scan like results (a partition is made by
--   the first run of a scan); pruning a scan drops it (prune.ts) and deletes
--   the scan's runs (ON DELETE CASCADE).
-- * Views: judgements (every judgement: the original as run 0, and each
--   re-judgement) and latest_judgements (per scan and domain, the
--   re-judgement of the latest finished run that judged it, else the
--   original). The statistics views go on counting the originals.

CREATE TABLE rejudge_runs (
  scan integer NOT NULL REFERENCES scans (seq) ON DELETE CASCADE,
  run smallint NOT NULL,
  engine text NOT NULL,
  profile text NOT NULL,
  state text NOT NULL CHECK (state IN ('running', 'finished', 'interrupted', 'failed')),
  started_at timestamptz NOT NULL,
  finished_at timestamptz,
  -- Who is running it and when it last stored a batch: a run whose owner stopped
  -- storing (the process died) may be taken over by another.
  owner text NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  -- The last domain stored (runs go in domain order): a resumed run goes on after it.
  cursor text,
  -- Domains stored by this run, verdict blobs it stored for the first time, domains
  -- whose re-judging needed a probe the scan never made (judged without it).
  judged bigint NOT NULL DEFAULT 0,
  new_blobs bigint NOT NULL DEFAULT 0,
  missing_probes bigint NOT NULL DEFAULT 0,
  -- The engines and profiles of the original verdicts of the domains it stored:
  -- [{"engine", "profile", "domains"}].
  originals jsonb NOT NULL DEFAULT '[]',
  -- Domains judged in the scan when the run started (for progress).
  total bigint NOT NULL DEFAULT 0,
  -- The change counts, computed from the stored rows when the run finished.
  counts jsonb,
  -- Why a run failed (a failed run can be resumed).
  error text,
  PRIMARY KEY (scan, run)
);
--> statement-breakpoint
-- Columns in this order waste no alignment padding.
CREATE TABLE rejudgements (
  verdict uuid NOT NULL,
  scan integer NOT NULL,
  class smallint NOT NULL,
  run smallint NOT NULL,
  domain text NOT NULL,
  PRIMARY KEY (domain, scan, run)
) PARTITION BY LIST (scan);
--> statement-breakpoint
-- The rejudgements partition of one scan (idempotent).
CREATE FUNCTION danesweep_add_rejudge_partition(s integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE IF NOT EXISTS rejudgements_%s PARTITION OF rejudgements FOR VALUES IN (%s)', s, s);
END $$;
--> statement-breakpoint
-- Every judgement of every judged domain: the original (run 0, rejudged_at NULL)
-- and each re-judgement (run >= 1; rejudged_at: when its run started; engine and
-- profile: its run's). judged_at
-- is the time the verdict judges as of: the original's for both (a re-judgement
-- judges certificate validity at the time of the scan).
CREATE VIEW judgements AS
SELECT s.id AS scan_id, s.seq AS scan_seq, r.domain, 0::smallint AS run, NULL::text AS run_state,
       v.engine, v.profile, c.action, c.security, c.reason, c.dane_state, c.broken, v.problems,
       r.judged_at, NULL::timestamptz AS rejudged_at, r.verdict AS verdict_hash, r.facts AS facts_hash
FROM results r
JOIN scans s ON s.seq = r.scan
LEFT JOIN verdict_classes c ON c.id = r.class
LEFT JOIN verdict_blobs v ON v.hash = r.verdict
UNION ALL
SELECT s.id, s.seq, j.domain, j.run, x.state,
       x.engine, x.profile, c.action, c.security, c.reason, c.dane_state, c.broken, v.problems,
       r.judged_at, x.started_at, j.verdict, r.facts
FROM rejudgements j
JOIN scans s ON s.seq = j.scan
JOIN rejudge_runs x ON x.scan = j.scan AND x.run = j.run
JOIN results r ON r.scan = j.scan AND r.domain = j.domain
LEFT JOIN verdict_classes c ON c.id = j.class
LEFT JOIN verdict_blobs v ON v.hash = j.verdict;
--> statement-breakpoint
-- The latest judgement of each judged domain of each scan: the re-judgement of
-- the latest finished run that judged it, else the original (run 0). Runs still
-- running, interrupted or failed are not counted.
CREATE VIEW latest_judgements AS
SELECT s.id AS scan_id, s.seq AS scan_seq, r.domain, coalesce(l.run, 0::smallint) AS run,
       coalesce(l.engine, v.engine) AS engine, coalesce(l.profile, v.profile) AS profile, c.action, c.security, c.reason, c.dane_state, c.broken, v.problems,
       r.judged_at, l.rejudged_at, coalesce(l.verdict, r.verdict) AS verdict_hash, r.facts AS facts_hash
FROM results r
JOIN scans s ON s.seq = r.scan
LEFT JOIN LATERAL (
  SELECT j.run, j.verdict, j.class, x.engine, x.profile, x.started_at AS rejudged_at
  FROM rejudgements j
  JOIN rejudge_runs x ON x.scan = j.scan AND x.run = j.run AND x.state = 'finished'
  WHERE j.scan = r.scan AND j.domain = r.domain
  ORDER BY j.run DESC
  LIMIT 1) l ON true
LEFT JOIN verdict_classes c ON c.id = coalesce(l.class, r.class)
LEFT JOIN verdict_blobs v ON v.hash = coalesce(l.verdict, r.verdict);
