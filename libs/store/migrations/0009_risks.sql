-- Risks of a verdict (libs/dane rules 37-40, issue 14): what does not break a
-- domain's DANE now but may. Written by storeJudged with the verdict blob,
-- like problems; blobs of engines before 2.1 have none ('{}').
ALTER TABLE verdict_blobs ADD COLUMN risks text[] NOT NULL DEFAULT '{}';
--> statement-breakpoint
-- verdict_rows as in 0006, with the risks (a column added at the end).
CREATE OR REPLACE VIEW verdict_rows AS
SELECT s.id AS scan_id, s.seq AS scan_seq, s.started_at AS scan_started_at, s.state AS scan_state,
       r.domain, v.tld, v.provider, v.mx_host, v.delivered_host, v.delivered_address,
       c.action, c.security, c.reason, c.dane_state, c.broken, v.problems, v.engine, v.profile,
       r.judged_at, r.collected_at,
       r.judged_seq, r.facts AS facts_hash, r.verdict AS verdict_hash,
       v.risks
FROM results r
JOIN scans s ON s.seq = r.scan
LEFT JOIN verdict_classes c ON c.id = r.class
LEFT JOIN verdict_blobs v ON v.hash = r.verdict;
--> statement-breakpoint
-- Per scan: the DANE domains (delivered authenticated: DANE state valid or
-- partial), those with any risk, those with a rollover risk, and each risk's count.
CREATE VIEW risk_by_scan AS
SELECT scan_id, scan_started_at, scan_state,
       count(*)::bigint AS dane_domains,
       count(*) FILTER (WHERE cardinality(risks) > 0)::bigint AS at_risk,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM unnest(risks) AS x WHERE x LIKE 'rollover-%'))::bigint AS rollover_at_risk
FROM verdict_rows
WHERE dane_state IN ('valid', 'partial')
GROUP BY scan_id, scan_started_at, scan_state;
--> statement-breakpoint
CREATE VIEW risk_counts_by_scan AS
SELECT scan_id, scan_started_at, scan_state, risk, count(*)::bigint AS domains
FROM verdict_rows, unnest(risks) AS risk
WHERE dane_state IN ('valid', 'partial')
GROUP BY scan_id, scan_started_at, scan_state, risk;
