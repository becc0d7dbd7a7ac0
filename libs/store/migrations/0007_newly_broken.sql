-- Domains newly broken: broken in a scan, and not broken in the domain's
-- previous result (the latest earlier scan that judged it), or never judged
-- before. The list a CERT starts notifying from; read by Grafana's breakage
-- dashboard (deploy/grafana) and open to the API.
--
-- Filter it by scan (scan_id or scan_seq): the filter reaches broken_domains,
-- so only that scan's partition of results is read. The previous result is one
-- look-up per broken domain on the primary key (domain, scan) of the earlier
-- partitions, newest first, stopping at the first found.
-- previous_*: the previous result's scan and class; NULL when there is none.
CREATE VIEW newly_broken_domains AS
SELECT b.scan_id, b.scan_seq, b.scan_started_at, b.domain, b.tld, b.mx_host, b.provider,
       b.action, b.security, b.reason, b.dane_state, b.problems, b.judged_at,
       ps.id AS previous_scan_id, ps.started_at AS previous_scan_started_at,
       pc.action AS previous_action, pc.reason AS previous_reason, pc.dane_state AS previous_dane_state
FROM broken_domains b
LEFT JOIN LATERAL (
  SELECT r.scan, r.class FROM results r
  WHERE r.domain = b.domain AND r.scan < b.scan_seq
  ORDER BY r.scan DESC LIMIT 1
) p ON true
LEFT JOIN scans ps ON ps.seq = p.scan
LEFT JOIN verdict_classes pc ON pc.id = p.class
WHERE pc.broken IS NOT TRUE;
