-- Change events between scans (issue 14, item 5; libs/store/src/changes.ts).
-- When a scan finishes, each domain it judged is compared with its verdict in
-- the most recent earlier finished scan that judged it; a change of one of
-- the kinds below is an event. Scans are named by id (text), not by seq: the
-- events outlive a pruned scan.
CREATE TABLE change_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  detected_at timestamptz NOT NULL,
  since timestamptz NOT NULL,
  previous_at timestamptz NOT NULL,
  domain text NOT NULL,
  kind text NOT NULL,
  scan_id text NOT NULL,
  previous_scan_id text NOT NULL,
  dane_before text NOT NULL,
  dane_after text NOT NULL,
  mx_before text,
  mx_after text,
  problems_before text[] NOT NULL,
  problems_after text[] NOT NULL,
  CONSTRAINT change_events_kind CHECK (kind IN ('newly-broken', 'fixed', 'dane-adopted', 'dane-dropped', 'mx-moved')),
  CONSTRAINT change_events_unique UNIQUE (scan_id, domain, kind)
);
--> statement-breakpoint
CREATE INDEX change_events_domain_idx ON change_events (domain, id);
--> statement-breakpoint
CREATE INDEX change_events_detected_idx ON change_events (detected_at, id);
--> statement-breakpoint
-- The scans whose changes are recorded (once each). `compared` is null for the
-- scans that finished before change events existed: they are not compared.
CREATE TABLE change_scans (
  scan_id text PRIMARY KEY,
  recorded_at timestamptz NOT NULL,
  compared bigint,
  events bigint
);
--> statement-breakpoint
INSERT INTO change_scans (scan_id, recorded_at)
SELECT id, coalesce(finished_at, started_at) FROM scans WHERE state = 'finished';
