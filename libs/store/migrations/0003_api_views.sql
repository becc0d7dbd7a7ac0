-- Views behind the query API's stats endpoints, also read by Grafana's
-- PostgreSQL data source (deploy/grafana). Written by hand (drizzle-kit
-- generate --custom): drizzle-kit does not manage these.
--
-- danesweep_provider(host): the registrable domain of an MX host, the
-- "provider". An approximation of the Public Suffix List: the last two labels,
-- or the last three when the last two form a common second-level public suffix
-- (co.uk, com.au, ne.jp, ...). NULL in, NULL out.
CREATE OR REPLACE FUNCTION danesweep_provider(host text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT AS $$
  SELECT CASE
    WHEN host ~ '(^|\.)(co|com|net|org|ac|gov|edu|ne|or|go|gob|gv|nic|mil|ltd|plc)\.[a-z]{2}$'
      THEN coalesce(substring(host from '([^.]+\.[^.]+\.[^.]+)$'), host)
    ELSE coalesce(substring(host from '([^.]+\.[^.]+)$'), host)
  END
$$;
--> statement-breakpoint
-- Judged domains per scan by DANE state and verdict (action, security).
CREATE VIEW adoption_by_scan AS
SELECT r.scan_id, s.started_at AS scan_started_at, s.state AS scan_state,
       r.dane_state, r.action, r.security, count(*)::bigint AS domains
FROM domain_results r JOIN scans s ON s.id = r.scan_id
WHERE r.verdict IS NOT NULL
GROUP BY r.scan_id, s.started_at, s.state, r.dane_state, r.action, r.security;
--> statement-breakpoint
-- The same per top-level domain.
CREATE VIEW adoption_by_tld AS
SELECT r.scan_id, s.started_at AS scan_started_at, s.state AS scan_state, r.tld,
       r.dane_state, r.action, r.security, count(*)::bigint AS domains
FROM domain_results r JOIN scans s ON s.id = r.scan_id
WHERE r.verdict IS NOT NULL
GROUP BY r.scan_id, s.started_at, s.state, r.tld, r.dane_state, r.action, r.security;
--> statement-breakpoint
-- Judged domains per scan and primary MX host (lowest preference) with its provider.
CREATE VIEW mx_host_counts AS
SELECT c.scan_id, s.started_at AS scan_started_at, s.state AS scan_state, c.mx_host,
       danesweep_provider(c.mx_host) AS provider, c.dane_state, c.action, c.security, c.domains
FROM (
  SELECT scan_id, mx_host, dane_state, action, security, count(*)::bigint AS domains
  FROM domain_results
  WHERE verdict IS NOT NULL AND mx_host IS NOT NULL
  GROUP BY scan_id, mx_host, dane_state, action, security
) c JOIN scans s ON s.id = c.scan_id;
--> statement-breakpoint
-- The same per provider (registrable domain of the primary MX host).
CREATE VIEW adoption_by_provider AS
SELECT scan_id, scan_started_at, scan_state, provider, dane_state, action, security,
       sum(domains)::bigint AS domains
FROM mx_host_counts
GROUP BY scan_id, scan_started_at, scan_state, provider, dane_state, action, security;
--> statement-breakpoint
-- Domains whose DANE is broken, with the problems found (a CERT's list):
--   tlsa-mismatch         an address of a DANE host presented a chain no usable TLSA record matched;
--   starttls-missing      STARTTLS not offered or refused where TLSA requires TLS;
--   tls-handshake-failed  the TLS handshake failed where TLSA requires TLS;
--   tlsa-lookup-failed    with a secure MX, a host's TLSA (or first-link CNAME) lookup failed;
--   dnssec-bogus          the MX, an address or a TLSA lookup validated as bogus.
-- Only domains whose DANE state can hold such a failure are examined.
CREATE VIEW broken_domains AS
SELECT * FROM (
  SELECT r.scan_id, s.started_at AS scan_started_at, r.domain, r.tld, r.mx_host,
         danesweep_provider(r.mx_host) AS provider, r.action, r.security, r.reason, r.dane_state,
         array_remove(array[
           CASE WHEN jsonb_path_exists(r.verdict, '$ ? (@.mxSecure == true).hosts[*] ? (@.requirement == "dane").addresses[*] ? (@.reason == "dane-check-failed" || @.assessed.reason == "dane-check-failed")') THEN 'tlsa-mismatch' END,
           CASE WHEN jsonb_path_exists(r.verdict, '$ ? (@.mxSecure == true).hosts[*] ? (@.requirement == "dane" || @.requirement == "tls").addresses[*] ? (@.reason == "starttls-not-offered" || @.assessed.reason == "starttls-not-offered")') THEN 'starttls-missing' END,
           CASE WHEN jsonb_path_exists(r.verdict, '$ ? (@.mxSecure == true).hosts[*] ? (@.requirement == "dane" || @.requirement == "tls").addresses[*] ? (@.reason == "tls-handshake-failed" || @.assessed.reason == "tls-handshake-failed")') THEN 'tls-handshake-failed' END,
           CASE WHEN jsonb_path_exists(r.verdict, '$ ? (@.mxSecure == true).hosts[*] ? (@.tlsaBaseWhy == "tlsa-lookup-error" || @.tlsaBaseWhy == "cname-lookup-error")') THEN 'tlsa-lookup-failed' END,
           CASE WHEN r.facts->'mx'->>'security' = 'bogus'
                  OR jsonb_path_exists(r.facts, '$.hosts[*] ? (@.a.security == "bogus" || @.aaaa.security == "bogus" || @.tlsa[*].security == "bogus" || @.firstLink.security == "bogus")')
                THEN 'dnssec-bogus' END
         ]::text[], NULL) AS problems
  FROM domain_results r JOIN scans s ON s.id = r.scan_id
  WHERE r.verdict IS NOT NULL AND r.dane_state IN ('invalid', 'partial', 'dns-error', 'unusable-records')
) b
WHERE cardinality(b.problems) > 0;
